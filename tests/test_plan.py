"""Plan of Treatment, Care Plan documents and referrals: planned statements -> ServiceRequest /
Encounter (planned) / CommunicationRequest, intent from moodCode, status from statusCode; the one
CarePlan of a Care Plan document."""
from __future__ import annotations

import ccda2fhir
from conftest import CORPUS, FIXTURES, needs_corpus, resolve, resources_of
from test_procedures import all_valid, codes, load

EX = FIXTURES / "hl7-c-cda-examples"
POT = EX / "Plan of Treatment"
CARE_PLAN = EX / "Documents" / "Care Plan" / "Care_Plan.xml"


def convert(path, section_code="18776-5"):
    return ccda2fhir.convert(load(path, section_code), "test-patient", report=True)


def one_file(folder):
    [path] = list(folder.glob("*.xml"))
    return path


def test_planned_observation_ekg(validate):
    b, rep = convert(one_file(POT / "Planned EKG"))
    all_valid(b, validate)
    [sr] = resources_of(b, "ServiceRequest")
    assert sr["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-servicerequest"]
    assert sr["identifier"] == [{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:b52bee94-c34b-4e2c-8c15-5ad9d6def205"}]
    assert sr["status"] == "active" and sr["intent"] == "plan"
    assert codes(sr["code"]) == [("http://loinc.org", "34534-8")]
    assert sr["occurrenceDateTime"] == "2015-06-23"
    assert not rep.unmapped()


def test_no_planned_tests_and_ordered_procedure(validate):
    b, rep = convert(one_file(POT / "No Planned Tests"))
    all_valid(b, validate)
    by_id = {sr["identifier"][0]["value"]: sr for sr in resources_of(b, "ServiceRequest")}
    # 'No Planned Tests' is no request not to do 'No Planned Tests': an empty List, nil known
    assert "urn:uuid:c03e5445-af1b-4911-a419-e2782f21448c" not in by_id
    [none] = resources_of(b, "List")
    assert none["identifier"][0]["value"] == "urn:uuid:c03e5445-af1b-4911-a419-e2782f21448c"
    assert none["emptyReason"]["coding"][0]["code"] == "nilknown"
    assert none["emptyReason"]["text"] == "No Planned Tests"
    assert none["code"]["coding"][0]["code"] == "18776-5"              # the section's: no code of its own
    assert "date" not in none                                          # effectiveTime nullFlavor NA
    proc = by_id["urn:uuid:9a6d1bac-17d3-4195-89a4-1121bc809b4a"]
    assert proc["intent"] == "order"                                      # moodCode RQO
    assert codes(proc["code"]) == [("http://snomed.info/sct", "6025007")]
    assert proc["occurrenceDateTime"] == "2015-05-02"
    assert codes(proc["bodySite"][0]) == [("http://snomed.info/sct", "181255000")]
    assert not rep.unmapped()


def test_planned_encounter_is_a_planned_encounter(validate):
    b, rep = convert(one_file(POT / "Planned Encounter - Referral"))
    all_valid(b, validate)
    [e] = resources_of(b, "Encounter")
    assert e["status"] == "planned"
    assert e["identifier"] == [{"system": "urn:oid:1.3.6.1.42424242.4.99930.4.3.4", "value": "52487"}]
    assert codes(e["type"][0]) == [("http://snomed.info/sct", "11429006")]
    assert e["period"] == {"start": "2012-08-17"}
    prac = resolve(b, e["participant"][0]["individual"])
    assert {"system": "http://hl7.org/fhir/sid/us-npi", "value": "3333333333"} in prac["identifier"]
    assert [codes(r) for r in e["reasonCode"]] == [[("http://snomed.info/sct", "64109004")]]
    assert not rep.unmapped()


def test_care_plan_goals_and_instructions(validate):
    b, rep = convert(one_file(POT / "Care Plan Goals and Instructions"))
    all_valid(b, validate)
    [goal] = resources_of(b, "Goal")
    assert codes(goal["description"]) == [("http://snomed.info/sct", "289169006")]
    [sr] = resources_of(b, "ServiceRequest")
    assert codes(sr["code"]) == [("http://snomed.info/sct", "406162001")] and sr["intent"] == "plan"
    education = resources_of(b, "Procedure")
    assert sorted(p["identifier"][0]["value"] for p in education) == [
        "urn:uuid:2a620155-9d11-439e-92b3-5d9815ff4df2", "urn:uuid:2a620155-9d11-439e-92b3-5d9815ff4df6"]
    assert all(codes(p["code"]) == [("http://snomed.info/sct", "311401005")] for p in education)
    assert not rep.unmapped()
    # Not a Care Plan document: no CarePlan.
    assert resources_of(b, "CarePlan") == []


def test_patient_referral_act(validate):
    folder = EX / "Referrals - Planned and Completed" / "Referral Request and Close Referral with a Note"
    b, rep = convert(one_file(folder))
    all_valid(b, validate)
    [sr] = resources_of(b, "ServiceRequest")
    assert sr["category"] == [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005",
                                           "display": "Patient referral"}]}]
    assert codes(sr["code"]) == [("http://snomed.info/sct", "103697008")]
    assert sr["priority"] == "asap"                                       # ActPriority A
    assert sr["occurrenceDateTime"] == "2018-06-23" and sr["status"] == "active"
    performer = resolve(b, sr["performer"][0])                           # REFT participant
    assert {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1093929010"} in performer["identifier"]


def test_care_plan_document(validate):
    b, rep = convert(CARE_PLAN)
    all_valid(b, validate)
    [cp] = resources_of(b, "CarePlan")
    assert cp["status"] == "active" and cp["intent"] == "plan"
    assert cp["category"][0]["coding"][0]["code"] == "assess-plan"
    assert cp["subject"] == {"reference": "Patient/test-patient"}
    assert cp["period"] == {"start": "2013-07-20", "end": "2013-08-15"}
    assert cp["created"] == "2013-08-20T11:20:00-08:00"
    assert cp["text"]["status"] == "generated"
    # addresses: the Health Concerns section's Conditions (health-concern category)
    addressed = [resolve(b, r) for r in cp["addresses"]]
    assert addressed and all(c["resourceType"] == "Condition" for c in addressed)
    assert all(c["category"][0]["coding"][0]["code"] == "health-concern" for c in addressed)
    assert {"409623005", "233604007"} <= {c["code"]["coding"][0]["code"] for c in addressed}
    # goals: the Goals section's Goal
    [goal] = [resolve(b, g) for g in cp["goal"]]
    assert goal["identifier"][0]["value"] == "urn:uuid:3700b3b0-fbed-11e2-b778-0800200c9a66"
    assert goal["target"][0]["detailRange"]["low"]["value"] == 92
    # activities: planned interventions (ServiceRequest) as reference, done ones as outcomes
    refs = [a["reference"] for a in cp["activity"] if "reference" in a]
    assert {r["reference"].split("/")[0] for r in refs} == {"ServiceRequest", "CommunicationRequest"}
    planned = {tuple(codes(resolve(b, r)["code"])) for r in refs if r["reference"].startswith("ServiceRequest/")}
    assert (("http://snomed.info/sct", "371907003"),) in planned             # O2 by nasal cannula
    assert (("http://loinc.org", "71850-2"),) in planned                     # planned pulse oximetry
    outcomes = [resolve(b, r) for a in cp["activity"] for r in a.get("outcomeReference", [])]
    assert any(o["resourceType"] == "Observation" and codes(o["code"]) == [("http://loinc.org", "44616-1")]
               for o in outcomes)                                          # Outcome Observation
    assert any(o["resourceType"] == "Procedure" and o["identifier"][0]["value"] ==
               "urn:uuid:b3c091b3-f9a4-41e4-a8e4-2d1b11f2eb22" for o in outcomes)   # Intervention Act
    for a in cp["activity"]:
        for r in [a.get("reference")] + a.get("outcomeReference", []):
            if r:
                resolve(b, r)
    # the handoff communication: sender and recipient
    [hand] = resources_of(b, "CommunicationRequest")
    assert hand["status"] == "completed" and codes(hand["category"][0]) == [("http://snomed.info/sct", "432138007")]
    assert resolve(b, hand["recipient"][0])["resourceType"] == "Practitioner"
    assert hand["sender"] == hand["requester"]


def test_care_plan_is_made_once_and_deterministic():
    b1 = ccda2fhir.convert(CARE_PLAN.read_bytes(), "p")
    b2 = ccda2fhir.convert(CARE_PLAN.read_bytes(), "p")
    assert b1 == b2
    assert len(resources_of(b1, "CarePlan")) == 1
    ids = [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in b1["entry"]]
    assert len(ids) == len(set(ids))


def test_planned_supply_is_a_supply_request(validate):
    from support.wrap import wrap_fragment
    xml = """<section><templateId root="2.16.840.1.113883.10.20.22.2.10"/>
      <code code="18776-5" codeSystem="2.16.840.1.113883.6.1"/><title>Plan</title>
      <entry><supply moodCode="INT" classCode="SPLY">
        <templateId root="2.16.840.1.113883.10.20.22.4.43" extension="2014-06-09"/>
        <id root="9a6d1bac-17d3-4195-89c4-1121bc809b5d"/><statusCode code="active"/>
        <effectiveTime value="20130615"/><repeatNumber value="1"/><quantity value="3"/>
        <product><manufacturedProduct classCode="MANU">
          <templateId root="2.16.840.1.113883.10.20.22.4.23" extension="2014-06-09"/>
          <manufacturedMaterial><code code="573621" codeSystem="2.16.840.1.113883.6.88"
            displayName="albuterol 0.09 MG/ACTUAT [Proventil]"/></manufacturedMaterial>
        </manufacturedProduct></product>
      </supply></entry></section>"""
    b, rep = ccda2fhir.convert(wrap_fragment(xml), "p", report=True)
    all_valid(b, validate)
    [s] = resources_of(b, "SupplyRequest")
    assert s["status"] == "active"
    assert codes(s["itemCodeableConcept"]) == [("http://www.nlm.nih.gov/research/umls/rxnorm", "573621")]
    assert s["quantity"] == {"value": 3}
    assert s["occurrenceDateTime"] == "2013-06-15"
    assert s["identifier"] == [{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:9a6d1bac-17d3-4195-89c4-1121bc809b5d"}]
    assert not rep.unmapped()


@needs_corpus
def test_r11_plan_of_care_activity_observation():
    """CCD 1.0 Plan of Care Activity (2.16.840.1.113883.10.20.1.25), moodCode RQO, status new."""
    b = ccda2fhir.convert((CORPUS / "amida-blue-button" / "example" / "C32.xml").read_bytes(), "p")
    [sr] = [s for s in resources_of(b, "ServiceRequest")
            if s["identifier"][0]["value"] == "urn:uuid:9a6d1bac-17d3-4195-89a4-1121bc809b4a"]
    assert sr["intent"] == "order" and sr["status"] == "draft"
    assert codes(sr["code"]) == [("http://snomed.info/sct", "23426006")]
    assert sr["occurrenceDateTime"] == "2000-04-21"                       # effectiveTime/center
