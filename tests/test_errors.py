"""The error classes, and the promise that convert raises nothing else on bad input.

A hypothesis test mutates real documents (truncation, byte flips, garbage in dates, codes,
identifiers, units and xsi:type, elements removed) and asserts that each conversion gives
a schema-shaped Bundle or raises a ConversionError: never another exception, never a hang.
"""
from __future__ import annotations

import re
import signal
from contextlib import contextmanager
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ccda2fhir
from ccda2fhir import ConversionError, InputTooLargeError, InvalidXMLError, NotCCDAError
from ccda2fhir.errors import InputTypeError, MappingError
from tests.conftest import FIXTURES, SAMPLE_CCD

DOCS = [SAMPLE_CCD.read_bytes()] + [p.read_bytes() for p in sorted(FIXTURES.rglob("*.xml"))
                                    if p != SAMPLE_CCD and b"<ClinicalDocument" in p.read_bytes()[:5000]][:6]
ATTR = re.compile(rb'\b(value|code|codeSystem|root|extension|unit|xsi:type|nullFlavor|use|classCode|moodCode|'
                  rb'typeCode|displayName|inversionInd|negationInd|operator|institutionSpecified)="([^"]*)"')
OCCURRENCES = [[(m.start(2), m.end(2), m.group(1)) for m in ATTR.finditer(d)] for d in DOCS]
ELEMENT = re.compile(rb"<(\w+)[^<>]*?/>")
SELF_CLOSED = [[(m.start(), m.end()) for m in ELEMENT.finditer(d)] for d in DOCS]

GARBAGE = st.one_of(
    st.sampled_from(["", " ", "20230230", "200130311", "2023-13-45", "99999999999999999999", "1e400", "1e-400",
                     "-0", "NaN", "98,6", "<5", "UNK", "OTH", "NI", "CD", "CE", "IVL_TS", "IVL_PQ", "PQ", "ST", "ED",
                     "BL", "INT", "REAL", "RTO", "TS", "II", "ANY", "SC", "CO", "v3:CD", "xsi:nil", "#ref", "#",
                     "tel:", "mailto:", "urn:oid:", "urn:uuid:x", "67265ED2-35BB-43F8-B9DE-91C5935625E0",
                     "2.16.840.1.113883.4.873", "2.16.840.1.113883.4.6", "http://", "true", "false", "x" * 300]),
    st.text(max_size=30),
)


@contextmanager
def no_hang(seconds: int = 60):
    """Fail (rather than block the suite) if one conversion runs away."""
    def boom(signum, frame):
        raise AssertionError(f"conversion did not finish within {seconds}s: a hang")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _check(data: bytes) -> None:
    with no_hang():
        try:
            bundle = ccda2fhir.convert(data, "p1")
        except ConversionError as exc:
            assert str(exc)
            if isinstance(exc, MappingError):
                # a mapping defect met on this input: never expected from these mutations
                raise AssertionError(f"defect reached MappingError: {exc}") from exc.__cause__
            return
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "batch"
    for e in bundle["entry"]:
        r = e["resource"]
        assert r["id"] and e["request"]["url"] == f"{r['resourceType']}/{r['id']}"


# ---- the classes -----------------------------------------------------------------------------------

def test_hierarchy():
    for cls in (InvalidXMLError, NotCCDAError, InputTooLargeError, InputTypeError, MappingError):
        assert issubclass(cls, ConversionError)
    assert issubclass(ConversionError, Exception)
    assert issubclass(InputTypeError, TypeError)


def test_message_says_what_and_where():
    e = InvalidXMLError("bad thing", line=3, column=7, location="a.xml")
    assert str(e) == "bad thing (a.xml; line 3, column 7)"
    assert (e.line, e.column, e.location) == (3, 7, "a.xml")
    assert str(NotCCDAError("x", line=2)) == "x (line 2)"
    assert str(ConversionError("plain")) == "plain"


def test_mapping_defects_surface_as_mapping_error(monkeypatch):
    """A defect in the mapping layer reaches callers as a ConversionError, the cause chained."""
    convert_module = __import__("importlib").import_module("ccda2fhir.pipeline")

    def broken(*args, **kwargs):
        raise KeyError("boom")
    monkeypatch.setattr(convert_module, "map_document", broken)
    with pytest.raises(MappingError) as err:
        ccda2fhir.convert(DOCS[0], "p1")
    assert "KeyError" in str(err.value) and isinstance(err.value.__cause__, KeyError)


# ---- mutation --------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.integers(0, len(DOCS) - 1), st.floats(0, 1))
def test_truncated_documents(doc, fraction):
    data = DOCS[doc]
    _check(data[: int(len(data) * fraction)])


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.integers(0, len(DOCS) - 1), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_random_byte_flips(doc, flips):
    data = bytearray(DOCS[doc])
    for where, byte in flips:
        data[min(int(where * len(data)), len(data) - 1)] = byte
    _check(bytes(data))


@settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.integers(0, len(DOCS) - 1), st.lists(st.tuples(st.floats(0, 1), GARBAGE), min_size=1, max_size=12))
def test_attribute_garbage(doc, edits):
    """Bad dates, codes, roots, units, xsi:types and nullFlavors where the document has attributes."""
    data = DOCS[doc]
    spots = OCCURRENCES[doc]
    chosen = {}
    for where, value in edits:
        start, end, _ = spots[min(int(where * len(spots)), len(spots) - 1)]
        chosen[(start, end)] = quoteattr(value)[1:-1].encode("utf-8")
    out = bytearray(data)
    for (start, end), value in sorted(chosen.items(), reverse=True):
        out[start:end] = value
    _check(bytes(out))


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.integers(0, len(DOCS) - 1), st.lists(st.floats(0, 1), min_size=1, max_size=15))
def test_elements_removed(doc, picks):
    """Required elements (ids, codes, times, values) simply missing."""
    data = DOCS[doc]
    spots = SELF_CLOSED[doc]
    chosen = sorted({spots[min(int(p * len(spots)), len(spots) - 1)] for p in picks}, reverse=True)
    out = bytearray(data)
    for start, end in chosen:
        del out[start:end]
    _check(bytes(out))


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.integers(0, len(DOCS) - 1), st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=8))
def test_elements_duplicated_and_moved(doc, picks):
    """An element where the schema allows one written twice, or dropped somewhere it does not belong."""
    data = DOCS[doc]
    spots = SELF_CLOSED[doc]
    moves = sorted(((spots[min(int(b * len(spots)), len(spots) - 1)][1], spots[min(int(a * len(spots)), len(spots) - 1)])
                    for a, b in picks), reverse=True)
    out = bytearray(data)
    for target, (start, end) in moves:  # from the end, so earlier positions stay valid
        out[target:target] = data[start:end]
    _check(bytes(out))


@pytest.mark.parametrize("junk", [b"\x00" * 100, b"\xff\xfe\x00\x00", b"<", b"<?xml version='1.0'?>", b"<a", b"]]>",
                                  "<ClinicalDocument xmlns='urn:hl7-org:v3'>\u2028</ClinicalDocument>".encode()])
def test_junk(junk):
    _check(junk)
