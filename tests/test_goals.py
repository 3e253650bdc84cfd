"""Goals section / Goal Observation (4.121) -> US Core Goal."""
from __future__ import annotations

import ccda2fhir
from conftest import FIXTURES, resolve, resources_of
from test_procedures import all_valid, codes, load

EX = FIXTURES / "hl7-c-cda-examples"
GOALS = EX / "Goals"


def convert(path, section_code="61146-7"):
    return ccda2fhir.convert(load(path, section_code), "test-patient", report=True)


def test_sdoh_goal(validate):
    [path] = list((GOALS / "SDOH Goal").glob("*.xml"))
    b, rep = convert(path)
    all_valid(b, validate)
    [g] = resources_of(b, "Goal")
    assert g["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-goal"]
    assert g["identifier"] == [{"system": "urn:oid:1.2.840.114350.1.13.6289.1.7.2.737179", "value": "3241"}]
    assert g["lifecycleStatus"] == "active"
    # the coded value is the goal; the narrative its text
    assert codes(g["description"]) == [("http://snomed.info/sct", "161036002")]
    assert g["description"]["text"] == "Goal set to establish stable housing."
    assert g["startDate"] == "2022-08-13"                                    # effectiveTime/low
    [t] = g["target"]
    assert codes(t["measure"]) == [("http://loinc.org", "8689-2")]
    assert codes(t["detailCodeableConcept"]) == [("http://snomed.info/sct", "161036002")]
    assert "dueDate" not in t                                                 # high nullFlavor NI
    author = resolve(b, g["expressedBy"])
    assert {"system": "http://hl7.org/fhir/sid/us-npi", "value": "66666"} in author["identifier"]
    # the RSON Reason observation (Z59.1) is what the goal addresses
    [addr] = [resolve(b, r) for r in g["addresses"]]
    assert codes(addr["valueCodeableConcept"]) == [("http://hl7.org/fhir/sid/icd-10-cm", "Z59.1")]


def test_narrative_only_goal(validate):
    [path] = list((GOALS / "Goals Narrative Only").glob("*.xml"))
    b, rep = convert(path)
    all_valid(b, validate)
    [g] = resources_of(b, "Goal")
    assert g["description"] == {"text": "Patient is targeting a pulse oximetry of 92% and a weight of 195 lbs"}
    assert g["lifecycleStatus"] == "active"
    assert not rep.unmapped()


def test_care_plan_goal_target_priority_and_addresses(validate):
    b, rep = convert(EX / "Documents" / "Care Plan" / "Care_Plan.xml")
    [g] = resources_of(b, "Goal")
    assert validate(g) == []
    assert g["identifier"][0]["value"] == "urn:uuid:3700b3b0-fbed-11e2-b778-0800200c9a66"
    assert codes(g["description"]) == [("http://loinc.org", "44616-1")]
    [t] = g["target"]
    assert codes(t["measure"]) == [("http://loinc.org", "44616-1")]
    assert t["detailRange"] == {"low": {"value": 92, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}}
    assert codes(g["priority"]) == [("http://snomed.info/sct", "394849002")]        # Priority Preference
    assert g["startDate"] == "2013-09-02"
    addressed = [resolve(b, r) for r in g["addresses"]]
    # Entry References to the health concern -> its Conditions
    assert any(a["resourceType"] == "Condition" and codes(a["code"])[0][1] == "409623005" for a in addressed)
    assert all(a["resourceType"] in ("Condition", "Observation") for a in addressed)
    # the Outcome Observation evaluating the goal (GEVL Entry Reference) is its outcome, and the
    # Progress Toward Goal it supports gives the achievement status (SNOMED code 390802008)
    [outcome] = [resolve(b, r) for r in g["outcomeReference"]]
    assert outcome["identifier"][0]["value"] == "urn:uuid:0aaaa123-24e2-46b3-9d49-6b753c712dec"
    assert outcome["valueQuantity"]["value"] == 95
    assert g["achievementStatus"]["coding"][0]["code"] == "not-achieved"
    assert ("http://snomed.info/sct", "390802008") in codes(g["achievementStatus"])
    assert g["statusDate"] == "2013-08-06"
    # the Progress Toward Goal nested in the Outcome is its own Observation, not unmapped
    assert not [i for i in rep.issues if i.template_id == "2.16.840.1.113883.10.20.22.4.110"]
    assert not [i for i in rep.issues if i.template_id == "2.16.840.1.113883.10.20.22.4.122"]


def test_goal_achievement_from_progress(validate):
    """Progress Toward Goal nested in a Goal -> achievementStatus (source coding + goal-achievement)."""
    from support.wrap import wrap_fragment
    xml = """<section><templateId root="2.16.840.1.113883.10.20.22.2.60"/>
      <code code="61146-7" codeSystem="2.16.840.1.113883.6.1"/><title>Goals</title>
      <entry><observation classCode="OBS" moodCode="GOL"><templateId root="2.16.840.1.113883.10.20.22.4.121"/>
        <id root="1.2.3" extension="g1"/><code code="29463-7" codeSystem="2.16.840.1.113883.6.1" displayName="Body weight"/>
        <statusCode code="active"/><effectiveTime><low value="20240101"/><high value="20240601"/></effectiveTime>
        <value xsi:type="PQ" value="80" unit="kg"/>
        <entryRelationship typeCode="COMP"><observation classCode="OBS" moodCode="EVN">
          <templateId root="2.16.840.1.113883.10.20.22.4.110"/><id root="1.2.3" extension="p1"/>
          <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/><statusCode code="completed"/>
          <effectiveTime value="20240301"/>
          <value xsi:type="CD" code="390801001" codeSystem="2.16.840.1.113883.6.96" displayName="Goal achieved"/>
        </observation></entryRelationship>
      </observation></entry></section>"""
    b, rep = ccda2fhir.convert(wrap_fragment(xml), "p", report=True)
    all_valid(b, validate)
    [g] = resources_of(b, "Goal")
    assert g["achievementStatus"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/goal-achievement", "code": "achieved", "display": "Achieved"}
    assert ("http://snomed.info/sct", "390801001") in codes(g["achievementStatus"])
    assert g["statusDate"] == "2024-03-01"
    assert g["target"] == [{"measure": {"coding": [{"system": "http://loinc.org", "code": "29463-7",
                                                    "display": "Body weight"}], "text": "Body weight"},
                            "detailQuantity": {"value": 80, "unit": "kg", "system": "http://unitsofmeasure.org",
                                               "code": "kg"},
                            "dueDate": "2024-06-01"}]
    assert g["startDate"] == "2024-01-01"
    assert resources_of(b, "Observation") == []                              # progress consumed
    assert not rep.unmapped()
