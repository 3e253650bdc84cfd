"""CD/CE/CV/CO/CS -> FHIR Coding and CodeableConcept (C-CDA on FHIR 'CDA Coding -> FHIR CodeableConcept')."""
from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

import ccda2fhir
from ccda2fhir.map.state import Conversion
from ccda2fhir.map.datatypes import codes as C
from ccda2fhir.map.datatypes import terminology as T
from ccda2fhir.validate.schema import schema as fhir_schema
from tests.conftest import SAMPLE_CCD, resources_of

SCHEMA = fhir_schema()["definitions"]
CODE = re.compile(SCHEMA["code"]["pattern"])
URI = re.compile(SCHEMA["uri"]["pattern"])

LOINC = "2.16.840.1.113883.6.1"
SNOMED = "2.16.840.1.113883.6.96"


def test_coding_with_known_and_unknown_systems():
    assert C.coding({"code": "8480-6", "codeSystem": LOINC, "displayName": "Systolic BP"}) == \
        {"system": "http://loinc.org", "code": "8480-6", "display": "Systolic BP"}
    # an OID with no known URI: urn:oid: (IG 'Mapping OID <-> URI')
    assert C.coding({"code": "X1", "codeSystem": "2.16.840.1.113883.4.123456789"}) == \
        {"system": "urn:oid:2.16.840.1.113883.4.123456789", "code": "X1"}
    assert C.coding({"code": "X1", "codeSystem": "2.16.840.1.113883.6.1", "codeSystemVersion": " 2.7 "})["version"] == "2.7"


def test_system_uri():
    assert T.system_uri(LOINC) == "http://loinc.org"
    assert T.system_uri(f" {SNOMED} ") == "http://snomed.info/sct"
    assert T.system_uri("urn:oid:" + LOINC) == "http://loinc.org"
    assert T.system_uri("http://example.org/cs") == "http://example.org/cs"
    # THO canonical URLs are case-sensitive: MEDCIN is .../CodeSystem/medcin
    assert T.system_uri("2.16.840.1.113883.6.26") == "http://terminology.hl7.org/CodeSystem/medcin"
    assert T.system_uri("1.2.840.0114350.1.13") == "urn:oid:1.2.840.0114350.1.13"
    assert T.system_uri("67265ED2-35BB-43F8-B9DE-91C5935625E0") == "urn:uuid:67265ed2-35bb-43f8-b9de-91c5935625e0"
    # a well-known name where a UID belongs is read by name; any other cannot become a system URI
    assert T.system_uri("SNOMED CT") == "http://snomed.info/sct"
    assert T.system_uri("CPT-4") == "http://www.ama-assn.org/go/cpt"
    assert T.system_uri("mvx") == "http://hl7.org/fhir/sid/mvx"
    assert T.system_uri("Example") is None
    assert T.system_uri("PatientRaceCodeSystem") is None
    assert T.system_uri("") is None
    assert T.system_uri(None) is None


def test_code_system_name_without_code_system():
    assert C.coding({"code": "8480-6", "codeSystemName": "LOINC"}) == {"system": "http://loinc.org", "code": "8480-6"}
    assert C.coding({"code": "x", "codeSystemName": "GMTDynamic"}) == {"code": "x"}
    # the OID wins over the name
    assert C.coding({"code": "x", "codeSystem": "2.16.840.1.113883.6.96", "codeSystemName": "LOINC"})["system"] == \
        "http://snomed.info/sct"


def test_whitespace_in_codes_and_displays():
    assert C.coding({"code": " 38341003 \n", "codeSystem": SNOMED, "displayName": "  High\n  blood   pressure "}) == \
        {"system": "http://snomed.info/sct", "code": "38341003", "display": "High blood pressure"}
    assert C.coding({"code": "   ", "codeSystem": SNOMED}) is None
    assert C.code_of({"code": " active "}) == "active"
    assert C.code_is({"code": "active"}, "completed", "active")


def test_translations_nested_and_deduplicated():
    cd = {"code": "38341003", "codeSystem": SNOMED, "displayName": "HTN",
          "translation": [{"code": "I10", "codeSystem": "2.16.840.1.113883.6.90",
                           "translation": [{"code": "401.9", "codeSystem": "2.16.840.1.113883.6.103"}]},
                          {"code": "38341003", "codeSystem": SNOMED}]}
    cc = C.codeable_concept(cd)
    assert cc["coding"] == [
        {"system": "http://snomed.info/sct", "code": "38341003", "display": "HTN"},
        {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I10"},
        {"system": "http://hl7.org/fhir/sid/icd-9-cm", "code": "401.9"},
    ]
    assert cc["text"] == "HTN"


def test_nullflavor_oth_with_translations_and_original_text():
    cd = {"nullFlavor": "OTH", "originalText": {"_text": "Peanut  butter"},
          "translation": [{"code": "256349002", "codeSystem": SNOMED, "displayName": "Peanut"}]}
    assert C.codeable_concept(cd) == {"coding": [{"system": "http://snomed.info/sct", "code": "256349002",
                                                  "display": "Peanut"}], "text": "Peanut butter"}
    assert C.coding(cd) is None
    assert C.code_of(cd) is None


def test_only_original_text_or_nothing():
    assert C.codeable_concept({"nullFlavor": "UNK", "originalText": {"_text": "Something odd"}}) == \
        {"text": "Something odd"}
    assert C.codeable_concept({"nullFlavor": "UNK"}) is None
    assert C.codeable_concept({}) is None
    assert C.codeable_concept(None) is None
    assert C.codeable_concepts([{"nullFlavor": "NI"}, {"code": "a", "codeSystem": LOINC}]) == \
        [{"coding": [{"system": "http://loinc.org", "code": "a"}]}]
    # a code alone: no text invented
    assert C.codeable_concept({"code": "a", "codeSystem": LOINC}) == {"coding": [{"system": "http://loinc.org", "code": "a"}]}


def test_original_text_reference_resolves_through_the_narrative():
    doc = {"header": {}, "narrative": {"prob1": "Essential hypertension"}}
    cd = {"code": "59621000", "codeSystem": SNOMED, "displayName": "Essential hypertension (disorder)",
          "originalText": {"reference": {"value": "#prob1"}, "_text": "inline"}}
    with Conversion(doc, "p"):
        assert C.codeable_concept(cd)["text"] == "Essential hypertension"
        # an unresolved reference falls back to the inline text, then to displayName
        cd2 = {**cd, "originalText": {"reference": {"value": "#missing"}, "_text": "inline"}}
        assert C.codeable_concept(cd2)["text"] == "inline"
        cd3 = {**cd, "originalText": {"reference": [{"value": "#missing"}]}}
        assert C.codeable_concept(cd3)["text"] == "Essential hypertension (disorder)"


def test_original_text_reference_in_a_real_conversion():
    """CCD encounter code 99213 has <originalText><reference value="#Encounter1"/>: 'Checkup Examination'."""
    xml = SAMPLE_CCD.read_text()
    assert '<reference value="#Encounter1" />' in xml and '<td ID="Encounter1"> Checkup Examination </td>' in xml
    bundle = ccda2fhir.convert(xml, "p1")
    types = [t for e in resources_of(bundle, "Encounter") for t in e.get("type", [])]
    cpt = [t for t in types if any(c.get("code") == "99213" for c in t.get("coding", []))]
    assert cpt and cpt[0]["text"] == "Checkup Examination"
    assert cpt[0]["coding"][0]["system"] == "http://www.ama-assn.org/go/cpt"


def test_unknown_code_system_reported_in_a_real_conversion():
    xml = SAMPLE_CCD.read_text().replace('codeSystem="2.16.840.1.113883.6.12"', 'codeSystem="Local Codes"', 1)
    bundle, report = ccda2fhir.convert(xml, "p1", report=True)
    assert any("'LocalCodes'" in i.reason and i.level == "partial" for i in report.issues)
    for r in resources_of(bundle):
        assert "urn:oid:Local" not in json.dumps(r)
    # a known name is read as its system: the encounter's CPT code keeps its system
    named = SAMPLE_CCD.read_text().replace('codeSystem="2.16.840.1.113883.6.12"', 'codeSystem="CPT-4"')
    enc = resources_of(ccda2fhir.convert(named, "p1"), "Encounter")
    assert {"system": "http://www.ama-assn.org/go/cpt", "code": "99213"}.items() <= \
        [c for t in enc[0]["type"] for c in t["coding"] if c["code"] == "99213"][0].items()


@settings(max_examples=700, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    "code": st.text(max_size=12), "codeSystem": st.one_of(st.text(max_size=20), st.just(LOINC)),
    "displayName": st.text(max_size=12), "nullFlavor": st.sampled_from(["OTH", "UNK"]),
    "originalText": st.fixed_dictionaries({"_text": st.text(max_size=10)}),
    "translation": st.lists(st.fixed_dictionaries({"code": st.text(max_size=8),
                                                   "codeSystem": st.text(max_size=12)}), max_size=3)}))
def test_any_cd_gives_valid_codings(cd):
    cc = C.codeable_concept(cd)
    if cc is None:
        return
    assert cc.get("coding") or cc.get("text")
    for c in cc.get("coding", []):
        assert CODE.match(c["code"]), c
        if "system" in c:
            assert URI.match(c["system"]) and ":" in c["system"], c
        if "display" in c:
            assert c["display"].strip()
