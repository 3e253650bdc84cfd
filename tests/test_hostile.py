"""Issue 8: no document can stall, trick or wrongly refuse the converter.

Hostile files are made by the tests themselves; the real-world shapes start from HL7's CC0
examples in tests/fixtures (and from the corpus when it is present).
"""
from __future__ import annotations

import base64
import gzip
import io
import re
import zipfile

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ccda2fhir
from ccda2fhir import LIMITS, ConversionError, InputTooLargeError, InvalidXMLError, NotCCDAError
from ccda2fhir.walk.narrative import section_narrative
from ccda2fhir.parse import parse
from ccda2fhir.walk import LimitError, pywalker
from tests.conftest import CORPUS, FIXTURES, SAMPLE_CCD, corpus_documents, resources_of

CCD = SAMPLE_CCD.read_bytes()
EMBEDDED_PDF = FIXTURES / "hl7-c-cda-examples" / "Unstructured" / "CDA with Embedded PDF 1" / \
    "Unstructured_Document_embed.xml"
WALKERS = [pywalker.walk]
try:
    from ccda2fhir.walk import _walker  # type: ignore[attr-defined]
    WALKERS.append(_walker.walk)
except ImportError:  # pragma: no cover - no compiler where the tests run
    pass


def _attrs(n: int) -> str:
    return " ".join(f'a{i}="x"' for i in range(n))


def _in_entry(xml: str) -> str:
    return ('<ClinicalDocument xmlns="urn:hl7-org:v3"><component><structuredBody><component><section>'
            f'<entry>{xml}</entry></section></component></structuredBody></component></ClinicalDocument>')


# ---- Stall: attributes per element ----------------------------------------------------------------

WHERE = {
    "header": lambda a: f'<ClinicalDocument xmlns="urn:hl7-org:v3">\n<title {a}/></ClinicalDocument>',
    "root": lambda a: f'\n<ClinicalDocument xmlns="urn:hl7-org:v3" {a}><title/></ClinicalDocument>',
    "entry": lambda a: _in_entry(f'\n<observation classCode="OBS" {a}/>'),
    "narrative": lambda a: ('<ClinicalDocument xmlns="urn:hl7-org:v3"><component><structuredBody><component>'
                            f'<section><text>\n<paragraph {a}>x</paragraph></text></section></component>'
                            '</structuredBody></component></ClinicalDocument>'),
    "nonXMLBody": lambda a: ('<ClinicalDocument xmlns="urn:hl7-org:v3"><component>\n'
                             f'<nonXMLBody><text {a}>x</text></nonXMLBody></component></ClinicalDocument>'),
}


@pytest.mark.parametrize("where", sorted(WHERE))
def test_200000_attributes_are_refused_at_once_naming_element_and_line(where):
    xml = WHERE[where](_attrs(200_000))          # 2.4 MB: it took minutes, then converted, before the bound
    with pytest.raises(InputTooLargeError) as err:
        ccda2fhir.convert(xml, "p1")
    message = str(err.value)
    assert re.search(r"element <\w+> has 20000[01] attributes, over the limit of 256", message), message
    assert err.value.line == 2 and message.endswith("(line 2)")


@pytest.mark.parametrize("where", sorted(WHERE))
def test_the_attribute_bound_is_exact_and_configurable(where):
    ccda2fhir.convert(WHERE[where](_attrs(250)), "p1")           # 250 + the element's own: within 256
    with pytest.raises(InputTooLargeError, match="over the limit of 100"):
        ccda2fhir.convert(WHERE[where](_attrs(250)), "p1", max_attributes=100)
    ccda2fhir.convert(WHERE[where](_attrs(600)), "p1", max_attributes=1000)


@pytest.mark.parametrize("walk", WALKERS, ids=lambda w: w.__module__)
def test_both_walkers_raise_the_same_limit_error(walk):
    root = parse(WHERE["entry"](_attrs(300)))
    with pytest.raises(LimitError) as err:
        walk(root, section_narrative, 200, 256)
    assert err.value.what == "element <observation> has 301 attributes, over the limit of 256"
    assert err.value.line == 2
    with pytest.raises(LimitError) as deep:       # DepthError is a LimitError with the same parts
        walk(parse(CCD), section_narrative, 3, 256)
    assert isinstance(deep.value, pywalker.DepthError) and deep.value.line
    assert walk(root, section_narrative, 200, 400)["sections"]


# ---- Trick: str and bytes are content, never a path -------------------------------------------------
# (tests/test_parse.py::test_a_str_or_bytes_is_never_read_as_a_file_name)

def test_convert_file_reads_a_path_and_nothing_else_does(tmp_path):
    f = tmp_path / "doc.xml"
    f.write_bytes(CCD)
    assert ccda2fhir.convert_file(f, "p1") == ccda2fhir.convert(CCD, "p1")
    assert ccda2fhir.convert_file(str(f), "p1", report=True)[1].summary() == \
        ccda2fhir.convert(CCD, "p1", report=True)[1].summary()
    with pytest.raises(InvalidXMLError, match="looks like a file name"):
        ccda2fhir.convert(str(f), "p1")


# ---- Trick: every error message is one line ---------------------------------------------------------

@pytest.mark.parametrize("data, options", [
    (b'<ClinicalDocument xmlns="urn:hl7-org:v3"><title>a\x00b</title></ClinicalDocument>', {}),
    ('<ClinicalDocument xmlns="urn:hl7-org:v3"><title>a\x00b</title></ClinicalDocument>', {}),
    (b'<ClinicalDocument xmlns="urn:hl7-org:v3"><title a="' + b"A" * (20 * 1024 * 1024) + b'"/></ClinicalDocument>',
     {"max_text": 5_000_000}),
    (b'<ClinicalDocument xmlns="urn:hl7-org:v3"><title>' + b"A" * (11 * 1024 * 1024) + b'</title></ClinicalDocument>',
     {"max_text": 5_000_000}),
    (b"\x00" * 100, {}),
    (b"<a>\r\n<b>\x0b</b></a>", {}),
    (b"<ClinicalDocument xmlns='urn:hl7-org:v3'>\n</oops\n>", {}),
], ids=["nul-bytes", "nul-str", "20MB-attribute", "11MB-text", "all-nul", "control-char", "bad-end-tag"])
def test_error_messages_are_one_line(data, options):
    with pytest.raises(ConversionError) as err:
        ccda2fhir.convert(data, "p1", **options)
    message = str(err.value)
    assert message and not re.search(r"[\x00-\x1f\x7f\u2028\u2029]", message), repr(message)
    assert message == message.strip() and "  " not in message


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.binary(max_size=200), st.text(max_size=40))
def test_no_message_ever_holds_a_line_break(junk, text):
    for data in (junk, CCD[:300] + junk, text, f'<ClinicalDocument xmlns="urn:hl7-org:v3"><{text}/>'):
        try:
            ccda2fhir.convert(data, "p1")
        except ConversionError as exc:
            assert not re.search(r"[\x00-\x1f\x7f\u2028\u2029]", str(exc)), repr(str(exc))


# ---- Trick: inputs that are clearly something else say what they are ----------------------------------

def _zip(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("CCD.xml", data)
    return out.getvalue()


def _pdf() -> bytes:
    text = EMBEDDED_PDF.read_text()
    return base64.b64decode(re.search(r'representation="B64">([^<]+)<', text).group(1))


OTHER_FORMATS = {
    "a gzip stream": lambda: gzip.compress(CCD),
    "a zip archive": lambda: _zip(CCD),
    "JSON": lambda: orjson.dumps(ccda2fhir.convert(CCD, "p1")),      # a FHIR Bundle sent back in
    "an HL7 v2 message": lambda: (b"MSH|^~\\&|LAB|HOSP|EHR|CLINIC|202401011200||ORU^R01|1|P|2.5.1\r"
                                  b"PID|1||12345^^^HOSP^MR||DOE^JANE||19700101|F\r"),
    "a PDF document": _pdf,
    "an HTML page": lambda: b"<!DOCTYPE html>\n<html><head><meta charset=utf-8><title>CCD</title></head>"
                            b"<body><p>Summary<br></body></html>",
    "base64-encoded XML": lambda: base64.b64encode(CCD),
    "a bzip2 stream": lambda: __import__("bz2").compress(CCD),
}


@pytest.mark.parametrize("kind", sorted(OTHER_FORMATS))
def test_input_that_is_something_else_says_what_it_is(kind):
    data = OTHER_FORMATS[kind]()
    with pytest.raises(NotCCDAError) as err:
        ccda2fhir.convert(data, "p1")
    assert str(err.value).startswith(f"the input is {kind}"), str(err.value)
    assert "not an XML document" in str(err.value)


def test_sniffing_never_hides_a_real_xml_error():
    with pytest.raises(InvalidXMLError, match="not well-formed XML"):
        ccda2fhir.convert(CCD.replace(b"<title>", b"<title><", 1), "p1")
    with pytest.raises(InvalidXMLError, match="not well-formed XML"):
        ccda2fhir.convert("this is not xml", "p1")


# ---- Wrongly refuse: a namespace name that is not a URI ---------------------------------------------

BAD_NS = b' xmlns:schemaLocation="urn:hl7-org:v3 CDA.xsd"'


def _with_bad_namespace(doc: bytes) -> bytes:
    m = re.search(rb"<ClinicalDocument\b", doc)
    return doc[:m.end()] + BAD_NS + doc[m.end():]


def _schema_location_documents() -> list:
    docs = [SAMPLE_CCD]
    docs += [p for p in corpus_documents() if b"<structuredBody" in p.read_bytes()][:5]
    return docs


@pytest.mark.parametrize("path", _schema_location_documents(), ids=lambda p: p.name)
def test_a_namespace_name_that_is_not_a_uri_converts_with_a_report_note(path):
    """As a certified EHR sends it: xmlns:schemaLocation="urn:hl7-org:v3 CDA.xsd" on the root."""
    original = path.read_bytes()
    bundle, report = ccda2fhir.convert(_with_bad_namespace(original), "p1", report=True)
    expected, expected_report = ccda2fhir.convert(original, "p1", report=True)
    assert bundle == expected                        # the undeclared-use namespace changes nothing
    note = report.issues[0]
    assert note.level == "warning" and note.element == "ClinicalDocument"
    assert 'xmlns:schemaLocation="urn:hl7-org:v3 CDA.xsd" is not a URI' in note.reason
    assert note.line == original[:original.index(b"<ClinicalDocument")].count(b"\n") + 1
    assert report.issues[1:] == expected_report.issues


def test_only_a_namespace_declaration_is_mended():
    with pytest.raises(InvalidXMLError):
        ccda2fhir.convert(CCD.replace(b"<title>", b"<title>\x01", 1), "p1")
    # a namespace name that is not a URI on the default namespace: mended, then not CDA
    with pytest.raises(NotCCDAError, match="namespace"):
        ccda2fhir.convert(b'<ClinicalDocument xmlns="urn:hl7-org:v3 x"/>', "p1")


# ---- Wrongly refuse: an 11.2 MB embedded PDF ----------------------------------------------------------

def _inflated_pdf_document(size: int) -> tuple[bytes, str]:
    """HL7's 'Unstructured Document with embedded PDF', its PDF padded (PDF comment lines after
    %%EOF) until the base64 text node is ``size`` bytes: (document, the base64 without breaks)."""
    text = EMBEDDED_PDF.read_bytes()
    m = re.search(rb'(representation="B64">)([^<]+)(<)', text)
    pdf = base64.b64decode(m.group(2))
    padding = b"\n%" + b"0" * 70
    pdf += padding * ((size * 3 // 4 - len(pdf)) // len(padding) + 1)
    b64 = base64.b64encode(pdf)
    wrapped = b"\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
    return text[:m.start(2)] + wrapped + text[m.end(2):], b64.decode()


def test_an_embedded_pdf_of_11_2_mb_converts_and_carries_its_attachment():
    doc, b64 = _inflated_pdf_document(11_200_000)
    assert 11_000_000 < len(doc) < LIMITS.max_bytes
    bundle = ccda2fhir.convert(doc, "p1")
    [attachment] = [c["attachment"] for r in resources_of(bundle, "DocumentReference")
                    for c in r.get("content", []) if c["attachment"].get("contentType") == "application/pdf"]
    assert attachment["data"] == b64
    assert base64.b64decode(attachment["data"]).startswith(b"%PDF")
    # the same document converts the same way as the original apart from the PDF's bytes
    original = ccda2fhir.convert(EMBEDDED_PDF.read_bytes(), "p1")
    assert len(bundle["entry"]) == len(original["entry"])


def test_the_text_limit_is_configurable_and_named():
    doc, _ = _inflated_pdf_document(11_200_000)
    with pytest.raises(InputTooLargeError, match=r"text node of \d+ characters, over the limit of 11000000"):
        ccda2fhir.convert(doc, "p1", max_text=11_000_000)
    with pytest.raises(InputTooLargeError, match="longer than 10000000 characters"):
        ccda2fhir.convert(doc, "p1", max_text=5_000_000)     # libxml2's own limit is then not lifted
    small, _ = _inflated_pdf_document(100_000)
    with pytest.raises(InputTooLargeError, match="over the limit of 50000") as err:
        ccda2fhir.convert(small, "p1", max_text=50_000)
    assert err.value.line == 159


# ---- ... while every protection stays exactly as strict ---------------------------------------------

BIG = "A" * (11 * 1024 * 1024)


@pytest.mark.parametrize("xml, error, needle", [
    # an entity bomb beside a long text node (so the parse that lifts libxml2's size limits runs)
    ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
     '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><ClinicalDocument xmlns="urn:hl7-org:v3"><title>&c;&c;'
     f'</title><text>{BIG}</text></ClinicalDocument>', InvalidXMLError, "DTD"),
    ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
     f'<ClinicalDocument xmlns="urn:hl7-org:v3"><text>{BIG}</text></ClinicalDocument>', InvalidXMLError, "DTD"),
    # nesting past libxml2's 256 levels, with the long text node before and after it
    (f'<ClinicalDocument xmlns="urn:hl7-org:v3"><text>{BIG}</text>' + "<a>" * 300 + "</a>" * 300 +
     "</ClinicalDocument>", InputTooLargeError, "nested too deeply"),
    ('<ClinicalDocument xmlns="urn:hl7-org:v3">' + "<a>" * 300 + "</a>" * 300 + f"<text>{BIG}</text>"
     "</ClinicalDocument>", InputTooLargeError, "nested too deeply"),
    ('<ClinicalDocument xmlns="urn:hl7-org:v3"><text>' + BIG + "</text><b " + _attrs(300) + "/></ClinicalDocument>",
     InputTooLargeError, "300 attributes"),
    (f'<ClinicalDocument xmlns="urn:hl7-org:v3"><text>{BIG}</text><{"b" * 60_000}/></ClinicalDocument>',
     InvalidXMLError, "Name too long"),
    (f'<ClinicalDocument xmlns="urn:hl7-org:v3"><text>{BIG}</text><b {"c" * 60_000}="1"/></ClinicalDocument>',
     InvalidXMLError, "Name too long"),
], ids=["entity-bomb", "external-entity", "deep-after", "deep-before", "attributes", "element-name", "attribute-name"])
def test_protections_hold_when_a_long_text_node_lifts_libxml2_limits(xml, error, needle):
    with pytest.raises(error, match=needle):
        ccda2fhir.convert(xml, "p1")


def test_the_input_size_limit_still_holds():
    doc, _ = _inflated_pdf_document(11_200_000)
    with pytest.raises(InputTooLargeError, match="over the limit of 11000000"):
        ccda2fhir.convert(doc, "p1", max_bytes=11_000_000)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")
def test_the_corpus_pdf_documents_still_convert_the_same():
    for path in sorted(CORPUS.rglob("*Embedded_PDF*.xml")):
        data = path.read_bytes()
        assert ccda2fhir.convert(data, "p1") == ccda2fhir.convert(data, "p1", max_text=len(data))
