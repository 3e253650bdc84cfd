"""Functional status, mental / cognitive status and assessment scales -> Observation
(US Core categories functional-status / cognitive-status, survey for assessment scales);
the deprecated status *problem* observations -> Condition.

Fixtures: HL7 C-CDA Examples (CC0) in tests/fixtures/hl7-c-cda-examples/Functional Status/ and
Mental Status/.
"""
from __future__ import annotations

from pathlib import Path

import ccda2fhir
from tests.conftest import FIXTURES, resolve, resources_of
from tests.support.wrap import wrap_fragment
from tests.support.fragments import convert_example, strip_lead

EXAMPLES = FIXTURES / "hl7-c-cda-examples"
US_CORE_CAT = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
SNOMED = "http://snomed.info/sct"


def convert_fragment(path: Path, section_code: str = "47420-5") -> dict:
    return convert_example(path, section_code, "test-patient")


def one_file(folder: str) -> Path:
    return sorted((EXAMPLES / folder).glob("*.xml"))[0]


def by_code(bundle: dict, code: str, rt: str = "Observation") -> list[dict]:
    return [r for r in resources_of(bundle, rt)
            if any(c.get("code") == code for c in r.get("code", {}).get("coding", []))]


def valid(bundle, validate):
    for r in resources_of(bundle):
        assert validate(r) == [], r["resourceType"]


def test_functional_impairment(validate):
    b = convert_fragment(one_file("Functional Status/Functional Impairment"))
    valid(b, validate)
    [fs] = by_code(b, "54522-8")
    assert fs["category"] == [{"coding": [{"system": US_CORE_CAT, "code": "functional-status",
                                           "display": "Functional Status"}]}]
    assert fs["valueCodeableConcept"]["coding"][0] == {"system": SNOMED, "code": "105504002",
                                                       "display": "Dependence on walking stick"}
    assert fs["effectivePeriod"] == {"start": "2012-08-15T17:32:15-05:00"}   # low only: an ongoing state
    assert fs["identifier"][0]["value"] == "urn:uuid:e4f9eb37-52ca-4e95-90f3-570dace107e6"
    assert fs["status"] == "final"


def test_glasgow_coma_scale(validate):
    b = convert_fragment(one_file("Functional Status/Functional Assessment - Glasgow Coma"))
    valid(b, validate)
    [gcs] = by_code(b, "35088-4")
    cats = [(c["coding"][0]["system"], c["coding"][0]["code"]) for c in gcs["category"]]
    assert cats == [(OBS_CAT, "survey"), (US_CORE_CAT, "functional-status")]
    assert gcs["valueInteger"] == 9
    members = {resolve(b, m)["code"]["coding"][0]["code"]: resolve(b, m) for m in gcs["hasMember"]}
    assert {"9267-6", "9268-4", "9270-0"} <= set(members)
    # its score and its LOINC answer (two values) are components coded like it, no value[x] (obs-7)
    assert [c.get("valueInteger") for c in members["9267-6"]["component"]] == [3, None]
    assert members["9267-6"]["component"][1]["valueCodeableConcept"]["coding"][0]["code"] == "LA6555-2"


def test_cognitive_status(validate):
    b = convert_fragment(one_file("Mental Status/Memory Impairment"), "10190-7")
    valid(b, validate)
    [cs] = by_code(b, "373930000")
    assert cs["category"][0]["coding"][0] == {"system": US_CORE_CAT, "code": "cognitive-status",
                                              "display": "Cognitive Status"}
    assert {"system": "http://loinc.org", "code": "75275-8", "display": "Cognitive function [Interpretation]"} \
        in cs["code"]["coding"]
    assert cs["valueCodeableConcept"]["coding"][0]["code"] == "386807006"


def test_phq9(validate):
    b = convert_fragment(one_file("Mental Status/Patient Health Questionnaire PHQ-9"), "10190-7")
    valid(b, validate)
    [phq] = by_code(b, "44249-1")
    assert phq["valueInteger"] == 12
    assert phq["interpretation"][0]["coding"][0]["code"] == "H"
    assert phq["referenceRange"][0]["low"] == {"value": 0}
    assert phq["referenceRange"][0]["high"] == {"value": 4}
    members = [resolve(b, m) for m in phq["hasMember"]]
    codes = {m["code"]["coding"][0]["code"] for m in members}
    assert {"44261-6", "44250-9", "44255-8"} <= codes
    q = [m for m in members if m["code"]["coding"][0]["code"] == "44255-8"][0]
    # two values (the score and the LOINC answer): both are components with the question's code
    # and the Observation has no value[x] (obs-7 forbids such a component beside a value)
    assert "valueInteger" not in q and "valueCodeableConcept" not in q
    assert [c.get("valueInteger") for c in q["component"]] == [1, None]
    assert q["component"][1]["valueCodeableConcept"]["coding"][0]["code"] == "LA6569-3"
    assert all(c["code"] == q["code"] for c in q["component"])


ORGANIZER = """<section><templateId root="2.16.840.1.113883.10.20.22.2.14"/>
  <code code="47420-5" codeSystem="2.16.840.1.113883.6.1"/><title>Functional Status</title>
  <entry><organizer classCode="CLUSTER" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.66"/>
    <id root="1.2.3.4" extension="fso"/><code code="d5" codeSystem="2.16.840.1.113883.6.254" displayName="Self-Care"/>
    <statusCode code="completed"/>
    <component><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.67"/>
      <id root="1.2.3.4" extension="fs1"/><code code="54522-8" codeSystem="2.16.840.1.113883.6.1"/>
      <statusCode code="completed"/><effectiveTime value="20130311"/>
      <value xsi:type="CD" code="165245003" codeSystem="2.16.840.1.113883.6.96" displayName="Independent with ADLs"/>
    </observation></component>
    <component><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.67"/>
      <id root="1.2.3.4" extension="fs2"/><code code="54522-8" codeSystem="2.16.840.1.113883.6.1"/>
      <statusCode code="completed"/><effectiveTime value="20130315"/>
      <value xsi:type="CD" code="371153006" codeSystem="2.16.840.1.113883.6.96"/>
    </observation></component>
  </organizer></entry>
  <entry><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.68"/>
    <id root="1.2.3.4" extension="fsp"/><code code="248536006" codeSystem="2.16.840.1.113883.6.96"/>
    <statusCode code="completed"/><effectiveTime><low value="20080301"/></effectiveTime>
    <value xsi:type="CD" code="162891007" codeSystem="2.16.840.1.113883.6.96" displayName="Dyspnea"/>
  </observation></entry></section>"""


def test_functional_status_organizer_and_problem(validate):
    b = ccda2fhir.convert(wrap_fragment(ORGANIZER).encode(), "test-patient")
    valid(b, validate)
    [panel] = [o for o in resources_of(b, "Observation") if o.get("hasMember")]
    assert panel["code"]["coding"][0]["code"] == "d5"
    assert panel["identifier"][0]["value"] == "fso"
    # no organizer effectiveTime: the span of its members
    assert panel["effectivePeriod"] == {"start": "2013-03-11", "end": "2013-03-15"}
    members = [resolve(b, m) for m in panel["hasMember"]]
    assert [m["identifier"][0]["value"] for m in members] == ["fs1", "fs2"]
    assert members[0]["valueCodeableConcept"]["coding"][0]["code"] == "165245003"
    [cond] = resources_of(b, "Condition")
    assert cond["identifier"][0]["value"] == "fsp"
    assert cond["code"]["coding"][0]["code"] == "162891007"


def test_every_example_keeps_the_contract(validate):
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    from contract import contract_problems
    for path in sorted(list((EXAMPLES / "Functional Status").rglob("*.xml")) + list((EXAMPLES / "Mental Status").rglob("*.xml"))):
        xml = strip_lead(path.read_text(encoding="utf-8-sig"))
        b = ccda2fhir.convert(wrap_fragment(xml, "47420-5").encode(), "pat-123")
        assert contract_problems(b, "pat-123", validate) == [], path.name


def test_nutritional_status_with_assessment_member(validate):
    xml = """<section><templateId root="2.16.840.1.113883.10.20.22.2.57"/>
      <code code="61144-2" codeSystem="2.16.840.1.113883.6.1"/><title>Nutrition</title>
      <entry><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.124"/>
        <id root="1.2.3.4" extension="ns"/><code code="75305-3" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="completed"/><effectiveTime value="20130512"/>
        <value xsi:type="CD" code="248324001" codeSystem="2.16.840.1.113883.6.96" displayName="Well nourished"/>
        <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
          <templateId root="2.16.840.1.113883.10.20.22.4.138"/><id root="1.2.3.4" extension="na"/>
          <code code="75303-8" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
          <effectiveTime value="20130512"/>
          <value xsi:type="CD" code="448951000124107" codeSystem="2.16.840.1.113883.6.96"/>
        </observation></entryRelationship></observation></entry></section>"""
    b = ccda2fhir.convert(wrap_fragment(xml).encode(), "test-patient")
    valid(b, validate)
    [status] = by_code(b, "75305-3")
    assert status["valueCodeableConcept"]["coding"][0]["code"] == "248324001"
    assert status["category"][0]["coding"][0]["code"] == "exam"
    [member] = [resolve(b, m) for m in status["hasMember"]]
    assert member["identifier"][0]["value"] == "na"
    assert member["valueCodeableConcept"]["coding"][0]["code"] == "448951000124107"
