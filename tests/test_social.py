"""Social history -> Observation (CF-social): smoking status, tobacco use, pregnancy, birth sex,
sexual orientation / gender identity, SDOH assessments.

Fixtures: HL7 C-CDA Examples (CC0) in tests/fixtures/hl7-c-cda-examples/Social History/.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import ccda2fhir
from tests.support.recommended import ours_matching, recommended
from tests.conftest import FIXTURES, needs_corpus, resolve, resources_of
from tests.support.wrap import wrap_fragment
from tests.support.fragments import convert_example, strip_lead

SOCIAL = FIXTURES / "hl7-c-cda-examples" / "Social History"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
SOCIAL_CAT = {"system": "http://terminology.hl7.org/CodeSystem/observation-category",
              "code": "social-history", "display": "Social History"}


def convert_fragment(path: Path, section_code: str = "29762-2") -> dict:
    return convert_example(path, section_code, "test-patient")


def one_file(folder: str) -> Path:
    return sorted((SOCIAL / folder).glob("*.xml"))[0]


def by_code(bundle: dict, code: str) -> dict:
    found = [r for r in resources_of(bundle, "Observation")
             if any(c.get("code") == code for c in r.get("code", {}).get("coding", []))]
    assert len(found) == 1, (code, len(found))
    return found[0]


def valid(bundle, validate):
    for r in resources_of(bundle):
        assert validate(r) == [], r["resourceType"]


def test_current_smoker_and_tobacco_use(validate):
    b = convert_fragment(one_file("Current Smoking Status"))
    valid(b, validate)
    smoke = by_code(b, "72166-2")
    assert smoke["meta"]["profile"] == [US_CORE + "us-core-smokingstatus"]
    assert smoke["category"][0]["coding"][0] == SOCIAL_CAT
    assert smoke["status"] == "final"
    assert smoke["identifier"] == [{"system": "urn:oid:2.16.840.1.113883.19", "value": "123456789"}]
    assert smoke["effectiveDateTime"] == "2014-06-06T10:32:00-05:00"
    assert smoke["valueCodeableConcept"]["coding"][0]["system"] == SNOMED
    assert smoke["valueCodeableConcept"]["coding"][0]["code"] == "449868002"
    # the author (with a role code): its PractitionerRole, pointing at the Practitioner (NPI 99999999)
    role = resolve(b, smoke["performer"][0])
    assert role["resourceType"] == "PractitionerRole"
    prac = resolve(b, role["practitioner"])
    assert {"system": "http://hl7.org/fhir/sid/us-npi", "value": "99999999"} in prac["identifier"]
    tobacco = by_code(b, "11367-0")
    assert tobacco["category"][0]["coding"][0] == SOCIAL_CAT
    # Tobacco Use: a started-and-ongoing period (low only)
    assert tobacco["effectivePeriod"] == {"start": "1992"}
    assert tobacco["valueCodeableConcept"]["coding"][0]["code"] == "160604004"


@pytest.mark.parametrize("folder,value", [("Former Smoking Status", "8517006"),
                                          ("Never Smoking Status", "266919005"),
                                          ("Unknown Smoking Status", "266927001")])
def test_smoking_status_values(folder, value, validate):
    b = convert_fragment(one_file(folder))
    valid(b, validate)
    smoke = by_code(b, "72166-2")
    assert smoke["valueCodeableConcept"]["coding"][0]["code"] == value


def test_pregnancy_status(validate):
    b = convert_fragment(one_file("Not Pregnant"))
    valid(b, validate)
    preg = by_code(b, "82810-3")
    assert preg["meta"]["profile"] == [US_CORE + "us-core-observation-pregnancystatus"]
    assert preg["code"]["coding"][0] == {"system": LOINC, "code": "82810-3", "display": "Pregnancy status"}
    assert preg["effectiveDateTime"] == "2011-04-10"
    assert preg["valueCodeableConcept"]["coding"][0]["system"] == SNOMED


def test_pregnancy_unknown_is_a_value():
    xml = """<observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.15.3.8"/>
      <id root="1.2.3" extension="preg"/><code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
      <statusCode code="completed"/><effectiveTime value="20200110"/><value xsi:type="CD" nullFlavor="UNK"/>
      </observation>"""
    b = ccda2fhir.convert(wrap_fragment(xml, "29762-2").encode(), "test-patient")
    preg = by_code(b, "82810-3")
    assert preg["valueCodeableConcept"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "code": "UNK", "display": "unknown"}


def test_birth_sex_stays_an_observation(validate):
    b = convert_fragment(one_file("Birth Sex"))
    valid(b, validate)
    bs = by_code(b, "76689-9")
    assert bs["valueCodeableConcept"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender", "code": "F", "display": "Female"}
    assert bs["category"][0]["coding"][0] == SOCIAL_CAT


def test_sexual_orientation_and_gender_identity(validate):
    b = convert_fragment(one_file("Sexual Orientation Gender Identity"))
    valid(b, validate)
    so = by_code(b, "76690-7")
    assert so["meta"]["profile"] == [US_CORE + "us-core-observation-sexual-orientation"]
    assert so["valueCodeableConcept"]["coding"][0]["code"] == "42035005"
    gi = by_code(b, "76691-5")
    assert gi["valueCodeableConcept"]["coding"][0]["code"] == "407377005"


def test_electronic_cigarette(validate):
    b = convert_fragment(one_file("Electronic Cigarette"))
    valid(b, validate)
    ec = by_code(b, "66547-1")
    assert ec["valueCodeableConcept"]["coding"][0]["code"] == "735240008"


def test_we_care_assessment_members(validate):
    b = convert_fragment(one_file("WE Care Assessment"))
    valid(b, validate)
    survey = by_code(b, "96447-8")
    cats = [c["coding"][0]["code"] for c in survey["category"]]
    assert cats[0] == "survey" and "social-history" in cats
    assert survey["meta"]["profile"] == [US_CORE + "us-core-observation-screening-assessment"]
    # the questions (Assessment Scale Supporting Observations) are members keeping their ids
    members = [resolve(b, m) for m in survey.get("hasMember", [])]
    questions = {m["code"]["coding"][0]["code"]: m for m in members}
    assert "96446-0" in questions
    assert questions["96446-0"]["valueCodeableConcept"]["coding"][0] == {
        "system": LOINC, "code": "LA32-8", "display": "No"}
    for m in members:
        assert m.get("identifier")


# ---------------------------------------------------------------- HL7 recommended output


@needs_corpus
def test_matches_hl7_recommended_social_history():
    rec = recommended("Rec_social history_draft.json")
    o, b = ours_matching(rec)
    assert {(c["system"], c["code"]) for c in rec["code"]["coding"]} <= \
        {(c["system"], c["code"]) for c in o["code"]["coding"]}
    assert o["status"] == rec["status"]
    assert o["category"][0]["coding"][0]["code"] == rec["category"][0]["coding"][0]["code"]
    # (the draft writes SNOMED as http://www.snomed.org/; the FHIR system is http://snomed.info/sct)
    assert {c["code"] for c in rec["valueCodeableConcept"]["coding"]} <= \
        {c["code"] for c in o["valueCodeableConcept"]["coding"]}
    assert o["valueCodeableConcept"]["coding"][0]["system"] == SNOMED


def test_caregiver_characteristics_focus_and_period(validate):
    xml = """<observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.72"/>
      <id root="1.2.3" extension="cg1"/><code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
      <statusCode code="completed"/>
      <value xsi:type="CD" code="422615001" codeSystem="2.16.840.1.113883.6.96"/>
      <participant typeCode="IND"><time><low value="20140605104821-0400"/></time>
        <participantRole classCode="CAREGIVER"><code code="MTH" codeSystem="2.16.840.1.113883.5.111"/>
        <playingEntity><name><given>Mary</given><family>Doe</family></name></playingEntity></participantRole>
      </participant></observation>"""
    b = ccda2fhir.convert(wrap_fragment(xml, "29762-2").encode(), "test-patient")
    valid(b, validate)
    [obs] = [o for o in resources_of(b, "Observation") if o.get("identifier", [{}])[0].get("value") == "cg1"]
    assert obs["effectivePeriod"] == {"start": "2014-06-05T10:48:21-04:00"}
    assert obs["valueCodeableConcept"]["coding"][0]["code"] == "422615001"
    carer = resolve(b, obs["focus"][0])
    assert carer["resourceType"] == "RelatedPerson"
    assert carer["name"][0]["family"] == "Doe"
    assert carer["relationship"][0]["coding"][0]["code"] == "MTH"


def test_every_social_example_keeps_the_contract(validate):
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    from contract import contract_problems
    for path in sorted(SOCIAL.rglob("*.xml")):
        xml = strip_lead(path.read_text(encoding="utf-8-sig"))
        b = ccda2fhir.convert(wrap_fragment(xml, "29762-2").encode(), "pat-123")
        assert contract_problems(b, "pat-123", validate) == [], path.name


def test_negated_pregnancy_is_not_pregnant(validate):
    b = convert_fragment(one_file("Not Pregnant"))
    valid(b, validate)
    preg = by_code(b, "82810-3")
    # negationInd="true" on value 77386006 (pregnancy): FHIR has no negation -> 60001007 Not pregnant
    assert preg["valueCodeableConcept"] == {
        "coding": [{"system": SNOMED, "code": "60001007", "display": "Not pregnant"}], "text": "Not pregnant"}


def test_pregnancy_period_becomes_one_timestamp(validate):
    xml = """<observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.15.3.8"/>
      <id root="1.2.3" extension="preg2"/><code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
      <statusCode code="completed"/><effectiveTime><low value="20110410"/><high value="20110710"/></effectiveTime>
      <value xsi:type="CD" code="77386006" codeSystem="2.16.840.1.113883.6.96"/>
      <entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.15.3.1"/><code code="11778-8" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="completed"/><value xsi:type="TS" value="20111010"/></observation></entryRelationship>
      </observation>"""
    b = ccda2fhir.convert(wrap_fragment(xml, "29762-2").encode(), "test-patient")
    valid(b, validate)
    preg = by_code(b, "82810-3")
    assert preg["effectiveDateTime"] == "2011-04-10"
    assert "effectivePeriod" not in preg
    # the estimated delivery date is a component (CF-social)
    assert preg["component"] == [{"code": {"coding": [{"system": LOINC, "code": "11778-8"}]},
                                  "valueDateTime": "2011-10-10"}]


def test_smoking_status_with_a_period_keeps_one_timestamp(validate):
    xml = """<observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.78"/>
      <id root="1.2.3" extension="sm"/><code code="72166-2" codeSystem="2.16.840.1.113883.6.1"/>
      <statusCode code="completed"/><effectiveTime><low value="20150301"/></effectiveTime>
      <value xsi:type="CD" code="8517006" codeSystem="2.16.840.1.113883.6.96"/></observation>"""
    b = ccda2fhir.convert(wrap_fragment(xml, "29762-2").encode(), "test-patient")
    valid(b, validate)
    smoke = by_code(b, "72166-2")
    assert smoke["effectiveDateTime"] == "2015-03-01"
    assert "effectivePeriod" not in smoke
    closed = ccda2fhir.convert(wrap_fragment(xml.replace('<low value="20150301"/>',
                                                         '<low value="20150301"/><high value="20160301"/>'),
                                             "29762-2").encode(), "test-patient")
    assert by_code(closed, "72166-2")["effectivePeriod"] == {"start": "2015-03-01", "end": "2016-03-01"}


def test_current_occupation_with_industry_component(validate):
    xml = """<observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.217"/>
      <id root="1728123a-7b6c-418c-adc2-f78417caf62c"/><code code="11341-5" codeSystem="2.16.840.1.113883.6.1"/>
      <statusCode code="active"/><effectiveTime><low value="20150424"/></effectiveTime>
      <value xsi:type="CD" code="3600" codeSystem="2.16.840.1.113883.6.240"/>
      <entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.22.4.216"/><id root="1.2.3" extension="ind"/>
        <code code="86188-0" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
        <value xsi:type="CD" code="8270" codeSystem="2.16.840.1.114222.4.5.315"/></observation></entryRelationship>
      </observation>"""
    b = ccda2fhir.convert(wrap_fragment(xml, "29762-2").encode(), "test-patient")
    valid(b, validate)
    occ = by_code(b, "11341-5")
    assert occ["meta"]["profile"] == [US_CORE + "us-core-observation-occupation"]
    assert occ["status"] == "final"                 # an active (current) occupation is a final observation
    assert occ["effectivePeriod"] == {"start": "2015-04-24"}
    assert occ["component"][0]["code"]["coding"][0]["code"] == "86188-0"
    assert occ["component"][0]["valueCodeableConcept"]["coding"][0] == {
        "system": "urn:oid:2.16.840.1.114222.4.5.315", "code": "8270"}
    assert not [o for o in resources_of(b, "Observation") if o["code"]["coding"][0]["code"] == "86188-0"]


# eICR Travel History acts (written here after the eICR R2 STU3.1 sample's shapes)
TRAVEL = """<section><templateId root="2.16.840.1.113883.10.20.22.2.17" extension="2015-08-01"/>
  <code code="29762-2" codeSystem="2.16.840.1.113883.6.1"/><title>Social History</title><text>travel</text>
  <entry typeCode="DRIV"><act classCode="ACT" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.15.2.3.1" extension="2022-05-01"/>
    <id root="b98e410c-d29a-46d8-8fc8-f55a9d3022b9"/>
    <code code="420008001" codeSystem="2.16.840.1.113883.6.96" displayName="Travel"/>
    <statusCode code="completed"/>
    <effectiveTime><low value="20200425"/><high value="202004301530-0500"/></effectiveTime>
    <participant typeCode="LOC"><participantRole classCode="TERR">
      <code code="FJI" codeSystem="1.0.3166.1" displayName="Fiji"/>
      <addr><city>Nadi</city><country>FJ</country></addr>
    </participantRole></participant>
    <entryRelationship typeCode="COMP"><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.15.2.3.51" extension="2022-05-01"/>
      <id root="3adc7f4d-ff0a-4b38-9252-bd65edbe3dff"/>
      <code code="280147009" codeSystem="2.16.840.1.113883.6.96" displayName="Type of activity"/>
      <statusCode code="completed"/>
      <value xsi:type="CD" code="C0683587" codeSystem="2.16.840.1.113883.6.86" displayName="tourism"/>
    </observation></entryRelationship>
  </act></entry>
  <entry typeCode="DRIV"><act classCode="ACT" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.15.2.3.1" extension="2022-05-01"/>
    <id root="79565142-eae0-4213-a3b3-b73cdf474682"/>
    <code code="420008001" codeSystem="2.16.840.1.113883.6.96" displayName="Travel"/>
    <text>Spent 8 years in the UK</text>
    <statusCode code="completed"/>
    <effectiveTime><width value="3" unit="wk"/><high value="20201109"/></effectiveTime>
  </act></entry>
</section>"""


def test_travel_history_is_an_observation_of_the_trip(validate):
    bundle, report = ccda2fhir.convert(wrap_fragment(TRAVEL).encode(), "test-patient", report=True)
    trips = [r for r in resources_of(bundle, "Observation")
             if r["code"]["coding"][0]["code"] == "420008001"]
    assert len(trips) == 2
    for r in trips:
        assert validate(r) == []
    fiji = next(r for r in trips if r["identifier"][0]["value"].endswith("f55a9d3022b9"))
    assert fiji["status"] == "final"
    assert fiji["category"] == [{"coding": [SOCIAL_CAT]}]
    assert fiji["code"]["coding"] == [{"system": SNOMED, "code": "420008001", "display": "Travel"}]
    assert fiji["effectivePeriod"] == {"start": "2020-04-25", "end": "2020-04-30T15:30:00-05:00"}
    assert fiji["component"] == [
        {"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                              "code": "LOC", "display": "location"}]},
         "valueCodeableConcept": {"coding": [{"system": "urn:iso:std:iso:3166", "code": "FJI",
                                              "display": "Fiji"}], "text": "Fiji"},
         "extension": [{"url": "http://hl7.org/fhir/us/ph-library/StructureDefinition/us-ph-address-extension",
                        "valueAddress": {"city": "Nadi", "country": "FJ"}}]},
        {"code": {"coding": [{"system": SNOMED, "code": "280147009", "display": "Type of activity"}],
                  "text": "Type of activity"},
         "valueCodeableConcept": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/umls",
                                              "code": "C0683587", "display": "tourism"}], "text": "tourism"}}]
    uk = next(r for r in trips if r is not fiji)
    assert uk["note"] == [{"text": "Spent 8 years in the UK"}]
    # 'the last 3 weeks': FHIR's Period has no width; the end is kept, the width reported
    assert uk["effectivePeriod"] == {"end": "2020-11-09"}
    assert any("width 3 wk left out" in i.reason for i in report.issues)
    assert not [i for i in report.issues if i.level in ("unmapped", "error")]
