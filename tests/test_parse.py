"""Safe parsing: what is refused, with which error class, and how every message says what and where."""
from __future__ import annotations

import codecs
from pathlib import Path

import pytest

import ccda2fhir
from ccda2fhir import ConversionError, InputTooLargeError, InvalidXMLError, NotCCDAError
from ccda2fhir.errors import InputTypeError
from ccda2fhir.parse import parse, read_source
from tests.conftest import SAMPLE_CCD, resources_of

CCD_BYTES = SAMPLE_CCD.read_bytes()
CCD_TEXT = CCD_BYTES.decode("utf-8")
MINIMAL = '<ClinicalDocument xmlns="urn:hl7-org:v3"/>'


def _title(bundle) -> str:
    return resources_of(bundle, "Composition")[0]["title"]


# ---- not XML, empty, not CDA ---------------------------------------------------------------------

@pytest.mark.parametrize("data", [b"", b"   \n\t", "", "  \n"])
def test_empty_input(data):
    with pytest.raises(InvalidXMLError, match="empty"):
        ccda2fhir.convert(data, "p1")


def test_not_xml_says_where():
    with pytest.raises(InvalidXMLError) as err:
        ccda2fhir.convert(b"<ClinicalDocument xmlns='urn:hl7-org:v3'>\n<title>x</titel>\n</ClinicalDocument>", "p1")
    e = err.value
    assert e.line == 2 and e.column
    assert "line 2" in str(e) and "not well-formed" in str(e)
    assert str(e).count("line 2, column") == 1  # libxml2's own ', line L, column C' is not repeated


def test_truncated_document():
    with pytest.raises(InvalidXMLError) as err:
        ccda2fhir.convert(CCD_BYTES[:5000], "p1")
    assert err.value.line and err.value.line > 1


@pytest.mark.parametrize("xml, name", [
    (b"<html><body/></html>", "html"),
    (b'<Bundle xmlns="http://hl7.org/fhir"/>', "Bundle"),
    (b'<?xml version="1.0"?>\n\n<levelOne xmlns="urn:hl7-org:v3"/>', "levelOne"),
])
def test_not_a_clinical_document_names_the_root(xml, name):
    with pytest.raises(NotCCDAError) as err:
        ccda2fhir.convert(xml, "p1")
    assert f"<{name}>" in str(err.value)
    assert err.value.line


def test_clinical_document_in_another_namespace():
    with pytest.raises(NotCCDAError, match="namespace 'urn:other'"):
        ccda2fhir.convert(b'<ClinicalDocument xmlns="urn:other"/>', "p1")


# ---- DTDs and entities ---------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol9;</title></ClinicalDocument>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE ClinicalDocument [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&xxe;</title></ClinicalDocument>"""


@pytest.mark.parametrize("xml", [
    BILLION_LAUGHS,
    XXE,
    # an external parameter entity: libxml2 would read it even with load_dtd=False
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
    b'<ClinicalDocument xmlns="urn:hl7-org:v3"/>',
    # /dev/zero never ends: this one hung before the resolver guard
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "file:///dev/zero"> %p;]>'
    b'<ClinicalDocument xmlns="urn:hl7-org:v3"/>',
    b'<?xml version="1.0"?><!DOCTYPE ClinicalDocument SYSTEM "file:///dev/zero"><ClinicalDocument xmlns="urn:hl7-org:v3"/>',
    b'<?xml version="1.0"?><!DOCTYPE ClinicalDocument SYSTEM "http://127.0.0.1:9/x.dtd"><ClinicalDocument xmlns="urn:hl7-org:v3"/>',
    b'<?xml version="1.0"?><!DOCTYPE ClinicalDocument [<!ELEMENT ClinicalDocument ANY>]><ClinicalDocument xmlns="urn:hl7-org:v3"/>',
], ids=["billion-laughs", "xxe-file", "parameter-entity", "parameter-entity-dev-zero", "external-dtd-dev-zero",
        "external-dtd-network", "internal-dtd"])
def test_dtds_and_entities_are_refused_without_reading_anything(xml, monkeypatch):
    opened = []
    import builtins
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda f, *a, **k: opened.append(f) or real_open(f, *a, **k))
    with pytest.raises(InvalidXMLError) as err:
        ccda2fhir.convert(xml, "p1")
    assert "DTD" in str(err.value) or "entit" in str(err.value)
    assert err.value.line
    assert "root:" not in str(err.value)          # nothing of /etc/passwd leaks into the message
    assert not [f for f in opened if "passwd" in str(f)]


def test_a_bare_doctype_is_harmless_and_accepted():
    xml = CCD_TEXT.replace('<ClinicalDocument', '<!DOCTYPE ClinicalDocument>\n<ClinicalDocument', 1)
    assert _title(ccda2fhir.convert(xml, "p1")) == _title(ccda2fhir.convert(CCD_BYTES, "p1"))


# ---- limits --------------------------------------------------------------------------------------

def test_max_bytes_is_configurable():
    with pytest.raises(InputTooLargeError) as err:
        ccda2fhir.convert(CCD_BYTES, "p1", max_bytes=1000)
    assert f"{len(CCD_BYTES)} bytes" in str(err.value) and "1000" in str(err.value)
    with pytest.raises(InputTooLargeError):
        ccda2fhir.convert(CCD_TEXT, "p1", max_bytes=1000)
    with pytest.raises(InputTooLargeError) as err:
        ccda2fhir.convert(SAMPLE_CCD, "p1", max_bytes=1000)
    assert str(SAMPLE_CCD) in str(err.value)
    ccda2fhir.convert(CCD_BYTES, "p1", max_bytes=len(CCD_BYTES))  # exactly at the limit is fine


def test_default_size_limit():
    from ccda2fhir.parse import DEFAULT_MAX_BYTES
    big = b" " * (DEFAULT_MAX_BYTES + 1)
    with pytest.raises(InputTooLargeError):
        read_source(big)


def test_max_depth_is_configurable():
    with pytest.raises(InputTooLargeError) as err:
        ccda2fhir.convert(CCD_BYTES, "p1", max_depth=5)
    assert "5 levels" in str(err.value) and err.value.line and f"(line {err.value.line})" in str(err.value)
    assert str(err.value).count("line") == 1
    ccda2fhir.convert(CCD_BYTES, "p1", max_depth=60)


@pytest.mark.parametrize("depth", [150, 300, 100_000])
def test_deep_nesting(depth):
    xml = '<ClinicalDocument xmlns="urn:hl7-org:v3"><component><structuredBody><component><section>' \
          '<entry><observation>' + "<a>" * depth + "</a>" * depth + \
          "</observation></entry></section></component></structuredBody></component></ClinicalDocument>"
    with pytest.raises(InputTooLargeError) as err:
        ccda2fhir.convert(xml, "p1", max_depth=100)
    assert "deep" in str(err.value) or "levels" in str(err.value)


# ---- str, bytes, paths, encodings ----------------------------------------------------------------

def test_str_bytes_and_path_inputs_agree():
    expected = ccda2fhir.convert_to_json(CCD_BYTES, "p1")
    for source in (CCD_TEXT, bytearray(CCD_BYTES), memoryview(CCD_BYTES), SAMPLE_CCD):
        assert ccda2fhir.convert_to_json(source, "p1") == expected, type(source)
    for path in (SAMPLE_CCD, str(SAMPLE_CCD)):   # the explicit way to read a file
        assert ccda2fhir.convert_file(path, "p1") == ccda2fhir.convert(CCD_BYTES, "p1")


@pytest.mark.parametrize("source", [str(SAMPLE_CCD), str(SAMPLE_CCD).encode(), "/etc/passwd", "../../etc/hosts"])
def test_a_str_or_bytes_is_never_read_as_a_file_name(source, monkeypatch):
    """Data is not a path: a service passing request text must not make the library open files."""
    import ccda2fhir.parse.reader as parse_module
    monkeypatch.setattr(parse_module, "_read_file", lambda *a: pytest.fail("a str/bytes input was read as a file"))
    with pytest.raises(InvalidXMLError) as err:
        ccda2fhir.convert(source, "p1")       # SAMPLE_CCD's name, a real C-CDA file: still refused
    assert "looks like a file name" in str(err.value) and "convert_file()" in str(err.value)
    assert "root:" not in str(err.value)


def test_utf16_with_bom():
    data = codecs.BOM_UTF16_LE + CCD_TEXT.replace('encoding="utf-8"', 'encoding="UTF-16"').encode("utf-16-le")
    assert ccda2fhir.convert_to_json(data, "p1") == ccda2fhir.convert_to_json(CCD_BYTES, "p1")
    assert ccda2fhir.convert_to_json(CCD_TEXT.encode("utf-16"), "p1") == ccda2fhir.convert_to_json(CCD_BYTES, "p1")


def test_utf8_bom():
    assert ccda2fhir.convert_to_json(codecs.BOM_UTF8 + CCD_BYTES, "p1") == ccda2fhir.convert_to_json(CCD_BYTES, "p1")
    assert ccda2fhir.convert_to_json("\ufeff" + CCD_TEXT, "p1") == ccda2fhir.convert_to_json(CCD_BYTES, "p1")


def test_str_carrying_an_encoding_declaration():
    """A str is already decoded: its declaration (here UTF-16) must not make libxml2 decode it again."""
    text = CCD_TEXT.replace('encoding="utf-8"', 'encoding="UTF-16"').replace("<title>", "<title>Ünïcödé ", 1)
    assert 'encoding="UTF-16"' in text
    assert _title(ccda2fhir.convert(text, "p1")).startswith("Ünïcödé ")


def test_latin1_declared_document():
    text = CCD_TEXT.replace('encoding="utf-8"', 'encoding="ISO-8859-1"').replace("<title>", "<title>Café ", 1)
    data = text.encode("latin-1", "replace")
    assert _title(ccda2fhir.convert(data, "p1")).startswith("Café ")
    # the same bytes declared UTF-8 are not valid UTF-8: refused, saying where
    with pytest.raises(InvalidXMLError) as err:
        ccda2fhir.convert(data.replace(b'encoding="ISO-8859-1"', b'encoding="UTF-8"'), "p1")
    assert err.value.line and "encoding" in str(err.value)


def test_text_with_a_lone_surrogate():
    with pytest.raises(InvalidXMLError, match="offset"):
        ccda2fhir.convert(CCD_TEXT.replace("<title>", "<title>\udc80", 1), "p1")


@pytest.mark.parametrize("source", ["not a path", "x" * 5000, "a\x00b", "/no/such/file.xml", "/tmp"])
def test_strings_that_are_not_xml(source):
    """A str is the document: one that is not XML is refused as such (a path-like one with a hint)."""
    with pytest.raises(InvalidXMLError, match="not well-formed XML") as err:
        ccda2fhir.convert(source, "p1")
    assert ("looks like a file name" in str(err.value)) == source.startswith("/")
    assert "\n" not in str(err.value) and "\x00" not in str(err.value)


@pytest.mark.parametrize("path", [Path("/no/such/file.xml"), Path("/tmp"), Path("a\x00b")])
def test_paths_that_cannot_be_read(path):
    with pytest.raises(InvalidXMLError, match="cannot read the file") as err:
        ccda2fhir.convert(path, "p1")
    assert "\x00" not in str(err.value)
    with pytest.raises(InvalidXMLError, match="cannot read the file"):
        ccda2fhir.convert_file(str(path), "p1")


def test_wrong_input_type():
    with pytest.raises(InputTypeError) as err:
        ccda2fhir.convert(12345, "p1")
    assert isinstance(err.value, ConversionError) and isinstance(err.value, TypeError)
    assert "int" in str(err.value)


@pytest.mark.parametrize("pid", ["", "   ", None, 5])
def test_bad_patient_id_is_a_value_error(pid):
    with pytest.raises(ValueError, match="patient_id"):
        ccda2fhir.convert(CCD_BYTES, pid)


def test_parse_returns_the_clinical_document():
    root = parse(CCD_BYTES)
    assert root.tag == "{urn:hl7-org:v3}ClinicalDocument"
    assert parse(MINIMAL).tag == "{urn:hl7-org:v3}ClinicalDocument"
    # no namespace at all is tolerated (seen in hand-made test files)
    assert parse("<ClinicalDocument/>").tag == "ClinicalDocument"


def test_undeclared_xsi_and_sdtc_prefixes_are_declared_for_the_sender():
    """xsi:type without xmlns:xsi is common in the wild: parsed as if declared, line numbers kept."""
    text = CCD_TEXT.replace('xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"', "")
    text = text.replace('xmlns:sdtc="urn:hl7-org:sdtc"', "")
    assert "xmlns:xsi" not in text and 'xsi:type="PQ"' in text
    assert ccda2fhir.convert_to_json(text, "p1") == ccda2fhir.convert_to_json(CCD_BYTES, "p1")
    # any other undeclared prefix is still an error, with its place
    with pytest.raises(InvalidXMLError) as err:
        ccda2fhir.convert('<ClinicalDocument xmlns="urn:hl7-org:v3">\n<foo:bar/></ClinicalDocument>', "p1")
    assert err.value.line == 2 and "foo" in str(err.value)


@pytest.mark.parametrize("prefix", [b"\n\n  ", b"\xef\xbb\xbf\n", b"\r\n"])
def test_blank_lines_before_the_declaration_are_tolerated(prefix):
    expected = ccda2fhir.convert_to_json(CCD_BYTES, "p1")
    data = prefix + CCD_BYTES
    # line numbers after the declaration stay as in the source: a break on line 3 + n is reported there
    newlines = prefix.count(b"\n")
    assert ccda2fhir.convert_to_json(data, "p1") == expected
    broken = data.replace(b"<title>", b"<title><", 1)
    line = CCD_BYTES[:CCD_BYTES.index(b"<title>")].count(b"\n") + 1 + newlines
    with pytest.raises(InvalidXMLError) as err:
        ccda2fhir.convert(broken, "p1")
    assert err.value.line == line
    assert ccda2fhir.convert_to_json(prefix.decode("utf-8-sig") + CCD_TEXT, "p1") == expected
