"""Results -> US Core DiagnosticReport (Lab) + Observation (Lab), C-CDA on FHIR CF-results.

Fixtures: HL7 C-CDA Examples (CC0) copied into tests/fixtures/hl7-c-cda-examples/Results/.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import ccda2fhir
from tests.support.recommended import ours_matching, recommended
from tests.conftest import CORPUS, FIXTURES, needs_corpus, resolve, resources_of
from tests.support.wrap import wrap_fragment
from tests.support.fragments import convert_example, strip_lead

RESULTS = FIXTURES / "hl7-c-cda-examples" / "Results"
LAB = "http://terminology.hl7.org/CodeSystem/observation-category"
UCUM = "http://unitsofmeasure.org"


def convert_fragment(path: Path, section_code: str = "30954-2") -> dict:
    return convert_example(path, section_code, "test-patient")


def one_file(folder: str) -> Path:
    files = sorted((RESULTS / folder).glob("*.xml"))
    assert files, folder
    return files[0]


def by_code(bundle: dict, code: str, rt: str = "Observation") -> dict:
    found = [r for r in resources_of(bundle, rt)
             if any(c.get("code") == code for c in r.get("code", {}).get("coding", []))]
    assert len(found) == 1, (code, len(found))
    return found[0]


def check_all(bundle, validate):
    for r in resources_of(bundle):
        assert validate(r) == [], r["resourceType"]


def test_metabolic_panel_report_and_results(validate):
    b = convert_fragment(one_file("Results of Basic Metabolic Panel and Troponin"))
    check_all(b, validate)
    reports = resources_of(b, "DiagnosticReport")
    assert len(reports) >= 1
    sodium = by_code(b, "2947-0")
    assert sodium["status"] == "final"
    assert sodium["category"][0]["coding"][0] == {"system": LAB, "code": "laboratory", "display": "Laboratory"}
    assert sodium["valueQuantity"] == {"value": 140, "unit": "mmol/L", "system": UCUM, "code": "mmol/L"}
    assert sodium["effectiveDateTime"] == "2012-10-02T09:08:00-05:00"
    assert sodium["referenceRange"][0]["low"]["value"] == 135
    assert sodium["referenceRange"][0]["high"]["value"] == 145
    assert sodium["interpretation"][0]["coding"][0]["code"] == "N"
    assert sodium["identifier"][0]["value"] == "urn:uuid:d8fe6100-c31a-4b8c-b97d-57a6bd415bf7"
    potassium = by_code(b, "6298-4")
    assert potassium["valueQuantity"]["value"] == 4.2
    # every result reference resolves to an Observation, and each lab Observation is in a report
    members = set()
    for rep in reports:
        assert rep["category"][0]["coding"][0]["code"] == "LAB"
        assert rep["subject"] == {"reference": "Patient/test-patient"}
        for ref in rep["result"]:
            assert resolve(b, ref)["resourceType"] == "Observation"
            members.add(ref["reference"])
    for obs in resources_of(b, "Observation"):
        assert f"Observation/{obs['id']}" in members


def test_report_fields():
    b = convert_fragment(one_file("Result COVID Positive"))
    rep = resources_of(b, "DiagnosticReport")[0]
    assert rep["code"]["coding"][0] == {
        "system": "http://loinc.org", "code": "94531-1",
        "display": "SARS-CoV-2 (COVID-19) RNA panel - Respiratory specimen by NAA with probe detection"}
    assert rep["status"] == "final"
    assert rep["effectiveDateTime"] == "2020-03-22T14:26:00-05:00"
    obs = resolve(b, rep["result"][0])
    assert obs["valueCodeableConcept"]["coding"][0] == {
        "system": "http://snomed.info/sct", "code": "260373001", "display": "Detected"}
    assert obs["interpretation"][0]["coding"][0]["code"] == "A"
    assert obs["referenceRange"][0]["text"] == "Not Detected"
    # the normal range (interpretationCode N): type 'normal' with the source coding beside it
    assert [c["code"] for c in obs["referenceRange"][0]["type"]["coding"]] == ["normal", "N"]


def test_string_value_and_pending_status(validate):
    b = convert_fragment(one_file("Result with an unstructured string as value (urine color)"))
    check_all(b, validate)
    assert by_code(b, "5778-6")["valueString"] == "Amber"
    b = convert_fragment(one_file("Results panel with pending component"))
    check_all(b, validate)
    rep = resources_of(b, "DiagnosticReport")[0]
    assert rep["status"] == "registered"          # active -> registered (ConceptMap ResultReportStatus)
    wbc = by_code(b, "804-5")
    assert wbc["status"] == "registered"
    assert "value" not in json.dumps(list(k for k in wbc if k.startswith("value")))
    assert wbc["dataAbsentReason"]["coding"][0]["system"] == \
        "http://terminology.hl7.org/CodeSystem/data-absent-reason"


def test_comparators_and_ranges(validate):
    b = convert_fragment(one_file("Result with greater than a specified value"))
    check_all(b, validate)
    glucose = by_code(b, "32016-8")
    assert glucose["valueQuantity"] == {"value": 500, "unit": "mg/dL", "system": UCUM, "code": "mg/dL",
                                        "comparator": ">"}
    b = convert_fragment(one_file("Results with less than specific value"))
    check_all(b, validate)
    bnp = by_code(b, "42637-9")
    # IVL_PQ low 0 / high 5: "Ranges of Physical Quantities" -> Quantity with comparator <=
    assert bnp["valueQuantity"] == {"value": 5, "unit": "pg/mL", "system": UCUM, "code": "pg/mL",
                                    "comparator": "<="}
    assert bnp["referenceRange"][0]["high"]["value"] == 100


def test_non_ucum_unit_keeps_the_number(validate):
    b = convert_fragment(one_file("Results Unit Non-UCUM"))
    check_all(b, validate)
    plt = by_code(b, "26515-7")
    assert plt["valueQuantity"] == {"value": 152, "unit": "THOUS/MCL"}
    assert plt["referenceRange"][0]["low"] == {"value": 150, "unit": "THOUS/MCL"}
    assert plt["referenceRange"][0]["high"] == {"value": 400, "unit": "THOUS/MCL"}


def test_unit_translation_observation_is_a_component(validate):
    b = convert_fragment(one_file("Results with translation unit"))
    check_all(b, validate)
    plt = by_code(b, "26515-7")
    assert plt["valueQuantity"]["value"] == 152
    comp = plt["component"][0]
    assert comp["code"]["coding"][0]["code"] == "246514001"
    assert comp["valueCodeableConcept"]["coding"][0]["code"] == "10*3/uL"
    # the nested untemplated observation is not also a resource of its own
    assert not [o for o in resources_of(b, "Observation")
                if o["code"].get("coding", [{}])[0].get("code") == "246514001"]


def test_multiple_reference_ranges_keep_the_normal_one(validate):
    b = convert_fragment(one_file("Result with Multiple Reference Ranges"))
    check_all(b, validate)
    obs = resources_of(b, "Observation")
    assert obs
    for o in obs:
        assert len(o.get("referenceRange", [])) <= 1


def test_every_results_example_is_valid(validate):
    for path in sorted(RESULTS.rglob("*.xml")):
        b = convert_fragment(path)
        check_all(b, validate)
        assert resources_of(b, "DiagnosticReport"), path.name


def test_value_types_of_the_shared_rule():
    from ccda2fhir.map.shared.observation_values import value_of
    assert value_of({"xsi_type": "INT", "value": "7"}) == {"valueInteger": 7}
    assert value_of({"xsi_type": "REAL", "value": "1.5"}) == {"valueQuantity": {"value": 1.5}}
    assert value_of({"xsi_type": "BL", "value": "true"}) == {"valueBoolean": True}
    assert value_of({"xsi_type": "TS", "value": "20200102"}) == {"valueDateTime": "2020-01-02"}
    assert value_of({"xsi_type": "IVL_PQ", "low": {"value": "2", "unit": "mg"},
                     "high": {"value": "4", "unit": "mg"}})["valueRange"]["high"]["value"] == 4
    assert value_of({"xsi_type": "IVL_PQ", "low": {"value": "2", "unit": "mg"}}) == {
        "valueQuantity": {"value": 2, "unit": "mg", "system": UCUM, "code": "mg", "comparator": ">="}}
    assert value_of({"xsi_type": "RTO", "numerator": {"value": "1"}, "denominator": {"value": "64"}}) == {
        "valueRatio": {"numerator": {"value": 1}, "denominator": {"value": 64}}}
    assert value_of({"xsi_type": "CD", "code": "X", "codeSystem": "2.16.840.1.113883.6.96"})[
        "valueCodeableConcept"]["coding"][0] == {"system": "http://snomed.info/sct", "code": "X"}
    assert value_of({"xsi_type": "ST", "_text": "cloudy"}) == {"valueString": "cloudy"}
    assert value_of({"xsi_type": "PQ", "value": "<0.5", "unit": "mg"})["valueQuantity"]["comparator"] == "<"


def test_generic_observation_always_has_a_code(validate):
    xml = """<observation classCode="OBS" moodCode="EVN"><templateId root="9.9.9.9"/>
      <id root="1.2.3" extension="x1"/><code nullFlavor="UNK"/><statusCode code="completed"/>
      <effectiveTime value="20200101"/><value xsi:type="PQ" value="12.5" unit="mg"/></observation>"""
    b = ccda2fhir.convert(wrap_fragment(xml, "11450-4").encode(), "test-patient")
    obs = [o for o in resources_of(b, "Observation") if o.get("valueQuantity")]
    assert len(obs) == 1
    assert obs[0]["valueQuantity"]["value"] == 12.5
    assert obs[0]["code"]["coding"][0]["code"] == "unknown"
    assert validate(obs[0]) == []


# ---------------------------------------------------------------- HL7 recommended output
def _codings(cc: dict) -> set:
    return {(c.get("system"), c.get("code")) for c in (cc or {}).get("coding", [])}


@needs_corpus
def test_matches_hl7_recommended_result_observation():
    rec = recommended("Rec_result_obs_draft.json")
    ours, _ = ours_matching(rec)
    assert _codings(rec["code"]) <= _codings(ours["code"])
    assert ours["status"] == rec["status"]
    assert _codings(rec["category"][0]) <= _codings(ours["category"][0])
    assert ours["effectiveDateTime"][:10] == rec["effectiveDateTime"][:10]
    assert ours["valueQuantity"]["value"] == rec["valueQuantity"]["value"]
    for a, b in zip(ours.get("referenceRange", []), rec.get("referenceRange", [])):
        assert a.get("low", {}).get("value") == b.get("low", {}).get("value")
        assert a.get("high", {}).get("value") == b.get("high", {}).get("value")


@needs_corpus
def test_matches_hl7_recommended_diagnostic_report(validate):
    rec = recommended("Rec_diagnosticsReport_draft.json")
    ours, b = ours_matching(rec)
    assert validate(ours) == []
    assert _codings(rec["code"]) <= _codings(ours["code"])
    assert ours["status"] == rec["status"]
    assert _codings(rec["category"][0]) <= _codings(ours["category"][0])
    assert len(ours["result"]) >= len(rec.get("result", [])) > 0
    assert ours["effectiveDateTime"] == rec["effectiveDateTime"]
    # the organizer's performer (the lab, id 2.16.840.1.113883.19.5); the draft names another person
    perf = resolve(b, ours["performer"][0])
    if perf["resourceType"] == "PractitionerRole":
        perf = resolve(b, perf["practitioner"])
    assert ("urn:ietf:rfc:3986", "urn:oid:2.16.840.1.113883.19.5") in \
        {(i.get("system"), i.get("value")) for i in perf["identifier"]}
    for ref in ours["result"]:
        assert resolve(b, ref)["resourceType"] == "Observation"


def test_every_example_keeps_the_contract(validate):
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    from contract import contract_problems
    for path in sorted(RESULTS.rglob("*.xml")):
        xml = strip_lead(path.read_text(encoding="utf-8-sig"))
        b = ccda2fhir.convert(wrap_fragment(xml, "30954-2").encode(), "pat-123")
        assert contract_problems(b, "pat-123", validate) == [], path.name


SPECIMEN_ORGANIZER = """<organizer classCode="BATTERY" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.1" extension="2015-08-01"/>
  <id root="1.2.3.4" extension="ua"/><code code="24356-8" codeSystem="2.16.840.1.113883.6.1"/>
  <statusCode code="completed"/>
  <component><procedure classCode="PROC" moodCode="EVN">
    <code code="17636008" codeSystem="2.16.840.1.113883.6.96" displayName="Specimen collection (procedure)"/>
    <effectiveTime value="20210119184300+0000"/>
    <targetSiteCode code="368208006" codeSystem="2.16.840.1.113883.6.96" displayName="Left upper arm"/>
    <participant typeCode="PRD"><participantRole classCode="SPEC">
      <id root="1.2.3.4.9" extension="S-1"/>
      <playingEntity><code code="122575003" codeSystem="2.16.840.1.113883.6.96"><originalText>Urine</originalText></code></playingEntity>
    </participantRole></participant></procedure></component>
  <component><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
    <id root="1.2.3.4" extension="ua-ph"/><code code="5803-2" codeSystem="2.16.840.1.113883.6.1"/>
    <statusCode code="completed"/><effectiveTime value="20210119184300+0000"/>
    <value xsi:type="REAL" value="6.5"/>
    <entryRelationship typeCode="SUBJ" inversionInd="true"><act classCode="ACT" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.64"/><code code="48767-8" codeSystem="2.16.840.1.113883.6.1"/>
      <text>Collected after breakfast</text></act></entryRelationship>
    <entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.2"/><id root="1.2.3.4" extension="nested"/>
      <code code="5794-3" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
      <effectiveTime value="20210119184300+0000"/><value xsi:type="ST">negative</value>
    </observation></entryRelationship>
  </observation></component>
</organizer>"""


def test_specimen_comment_and_nested_statements(validate):
    b = ccda2fhir.convert(wrap_fragment(SPECIMEN_ORGANIZER, "30954-2").encode(), "test-patient")
    check_all(b, validate)
    rep = resources_of(b, "DiagnosticReport")[0]
    # no organizer effectiveTime: the span of its components
    assert rep["effectiveDateTime"] == "2021-01-19T18:43:00+00:00"
    spec = resolve(b, rep["specimen"][0])
    assert spec["resourceType"] == "Specimen"
    assert spec["identifier"] == [{"system": "urn:oid:1.2.3.4.9", "value": "S-1"}]
    assert spec["type"]["coding"][0]["code"] == "122575003"
    assert spec["type"]["text"] == "Urine"
    assert spec["collection"]["collectedDateTime"] == "2021-01-19T18:43:00+00:00"
    assert spec["collection"]["bodySite"]["coding"][0]["code"] == "368208006"
    # the specimen collection procedure is the Specimen, not a Procedure of its own
    assert not resources_of(b, "Procedure")
    ph = by_code(b, "5803-2")
    assert ph["valueQuantity"] == {"value": 6.5}          # REAL: a Quantity without unit
    assert ph["specimen"] == rep["specimen"][0]
    assert ph["note"] == [{"text": "Collected after breakfast"}]
    assert [resolve(b, r)["id"] for r in rep["result"]] == [ph["id"]]
    # the nested result observation is mapped by its own route, not dropped
    nested = by_code(b, "5794-3")
    assert nested["valueString"] == "negative"


def test_observation_resources_parse_as_fhir_models():
    """Second validator (fhir.resources R4B models) over every observation-section fixture."""
    import importlib
    folders = {"Results": "30954-2", "Vital Signs": "8716-3", "Social History": "29762-2",
               "Functional Status": "47420-5", "Mental Status": "10190-7"}
    checked = 0
    for folder, code in folders.items():
        for path in sorted((FIXTURES / "hl7-c-cda-examples" / folder).rglob("*.xml")):
            b = convert_fragment(path, code)
            for r in resources_of(b):
                if r["resourceType"] in ("Observation", "DiagnosticReport", "Specimen"):
                    module = importlib.import_module(f"fhir.resources.R4B.{r['resourceType'].lower()}")
                    getattr(module, r["resourceType"]).model_validate(r)
                    checked += 1
    assert checked > 100


@needs_corpus
def test_diagnostic_imaging_report_measurements(validate):
    path = CORPUS / "microsoft-fhir-converter" / "data" / "SampleData" / "Ccda" / "Diagnostic_Imaging_Report.ccda"
    if not path.is_file():
        pytest.skip("sample absent")
    b = ccda2fhir.convert(path.read_bytes(), "test-patient")
    nodule = by_code(b, "246120007")
    assert validate(nodule) == []
    assert nodule["valueQuantity"] == {"value": 45, "unit": "mm", "system": UCUM, "code": "mm"}
    assert nodule["category"][0]["coding"][0]["code"] == "imaging"
