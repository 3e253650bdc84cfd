"""Encounters (C-CDA on FHIR CF-encounters): Encounter Activity -> US Core Encounter with class,
type, status, period, participants, location, reasons, diagnoses (Conditions, encounter-diagnosis)
and discharge disposition; header and body encounter with one id -> one resource."""
from __future__ import annotations

import json
import re

import ccda2fhir
from conftest import CORPUS, FIXTURES, needs_corpus, resolve, resources_of
from test_procedures import all_valid, codes, load

ENC = FIXTURES / "hl7-c-cda-examples" / "Encounters"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def convert(name: str):
    [path] = list((ENC / name).glob("*.xml"))
    return ccda2fhir.convert(load(path, "46240-8"), "test-patient", report=True)


def test_outpatient_encounter_with_diagnosis(validate):
    b, rep = convert("Outpatient Encounter with Diagnoses")
    all_valid(b, validate)
    [e] = resources_of(b, "Encounter")
    assert e["identifier"] == [{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:2a620155-9d11-439e-92b3-5d9815ff4de8"}]
    assert e["status"] == "finished"                                   # effectiveTime/@value
    assert e["class"] == {"system": ACT, "code": "AMB", "display": "ambulatory"}   # CPT 99213
    assert codes(e["type"][0]) == [("http://www.ama-assn.org/go/cpt", "99213")]
    assert e["type"][0]["text"] == "Office outpatient visit"          # originalText reference
    assert e["period"] == {"start": "2012-08-15T10:00:00-08:00"}
    prac = resolve(b, e["participant"][0]["individual"])
    assert prac["resourceType"] == "Practitioner"
    loc = resolve(b, e["location"][0]["location"])
    assert loc["resourceType"] == "Location" and loc["name"] == "Get Well Clinic"
    [dx] = e["diagnosis"]
    cond = resolve(b, dx["condition"])
    assert cond["category"][0]["coding"][0]["code"] == "encounter-diagnosis"
    assert codes(cond["code"]) == [("http://snomed.info/sct", "64109004")]
    assert cond["identifier"][0]["value"] == "urn:uuid:db734647-fc99-424c-a864-7e3cda82e704"
    assert len(resources_of(b, "Condition")) == 1
    assert not rep.unmapped()


def test_discharge_encounter_with_discharge_diagnoses(validate):
    b, rep = convert("Hospital Discharge Encounter with Billable Diagnoses")
    all_valid(b, validate)
    [e] = resources_of(b, "Encounter")
    assert e["class"]["code"] == "IMP"
    assert e["period"] == {"start": "2014-10-28T12:22:00-05:00", "end": "2014-10-31T15:04:00-05:00"}
    assert codes(e["hospitalization"]["dischargeDisposition"]) == [("http://www.nubc.org/patient-discharge", "04")]
    conds = [resolve(b, d["condition"]) for d in e["diagnosis"]]
    assert sorted(c["code"]["coding"][0]["code"] for c in conds) == ["250.00", "428.0"]
    assert [d["use"]["coding"][0]["code"] for d in e["diagnosis"]] == ["DD", "DD"]
    assert sorted(d["rank"] for d in e["diagnosis"]) == [1, 2]      # QRDA Rank observations
    loc = resolve(b, e["location"][0]["location"])
    assert loc["name"] == "Good Day Hospital"
    assert not rep.unmapped()


def test_inpatient_discharged_to_rehab(validate):
    b, rep = convert("Inpatient Encounter Discharged to Rehab Location")
    all_valid(b, validate)
    [e] = resources_of(b, "Encounter")
    dd = e["hospitalization"]["dischargeDisposition"]
    assert codes(dd) == [("http://terminology.hl7.org/CodeSystem/v2-0112", "04"),
                         ("urn:oid:2.16.840.1.113883.19.5", "HOSSVR")]
    assert resolve(b, e["hospitalization"]["destination"])["name"] == "Sunnyview Rehab Hospital"
    assert resolve(b, e["location"][0]["location"])["name"] == "Community Medical Center"
    assert [codes(r) for r in e["reasonCode"]] == [[("http://snomed.info/sct", "233604007")]]  # Indication
    assert not rep.unmapped()


def test_disenrolled_encounter(validate):
    b, _ = convert("Outpatient Encounter Patient Disenrolled")
    all_valid(b, validate)
    [e] = resources_of(b, "Encounter")
    assert resolve(b, e["location"][0]["location"])["name"] == "Community Urgent Care"
    # nullFlavor OTH with a local translation: the local code is kept.
    assert codes(e["hospitalization"]["dischargeDisposition"]) == [("urn:oid:2.16.840.1.113883.19.5", "DE")]
    assert [codes(r) for r in e["reasonCode"]] == [[("http://snomed.info/sct", "233604007")]]


def test_multiple_cpt_codes_single_encounter(validate):
    b, _ = convert("Multiple CPT E&M Codes")
    all_valid(b, validate)
    [e] = resources_of(b, "Encounter")
    # ActEncounterCode value-set OID used as the code system -> still the v3 ActCode class.
    assert e["class"] == {"system": ACT, "code": "AMB", "display": "ambulatory"}
    type_codes = [c["code"] for t in e["type"] for c in t.get("coding", [])]
    assert {"99408", "99394", "99213"} <= set(type_codes)               # billing-code acts
    assert [i["value"] for i in e["identifier"]] == ["449", "271818"]
    assert len(e["diagnosis"]) == 3
    assert e["period"] == {"start": "2017-09-18T09:39:00-04:00", "end": "2017-09-18T09:51:00-04:00"}


def test_header_and_body_encounter_are_one_resource(validate):
    """The same encounter as encompassingEncounter and Encounter Activity -> one Encounter."""
    [path] = list((ENC / "Outpatient Encounter with Diagnoses").glob("*.xml"))
    doc = load(path, "46240-8").replace("<component><structuredBody>", """<componentOf><encompassingEncounter>
      <id root="2a620155-9d11-439e-92b3-5d9815ff4de8"/>
      <effectiveTime><low value="201208151000-0800"/><high value="201208151030-0800"/></effectiveTime>
      </encompassingEncounter></componentOf><component><structuredBody>""", 1)
    b = ccda2fhir.convert(doc, "test-patient")
    all_valid(b, validate)
    [e] = resources_of(b, "Encounter")
    assert e["period"] == {"start": "2012-08-15T10:00:00-08:00", "end": "2012-08-15T10:30:00-08:00"}
    # one class and status whichever rendering (header first, no code) came first
    assert e["class"] == {"system": ACT, "code": "AMB", "display": "ambulatory"}
    assert e["status"] == "finished" and e["diagnosis"]
    comp = resources_of(b, "Composition")[0]
    assert comp["encounter"] == {"reference": f"Encounter/{e['id']}"}


def test_bare_encounter_pointer_renders_the_full_encounter(validate):
    """A problem act's <encounter> holding only an id names the Encounter Activity: one resource
    carrying the activity's status and period."""
    [path] = list((ENC / "Outpatient Encounter with Diagnoses").glob("*.xml"))
    enc_section = re.search(r"<section>.*</section>", path.read_text(), re.S).group(0)
    problems = """<component><section><code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/><title>Problems</title>
      <entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.3"/>
      <id root="1.2.3.4" extension="c1"/><code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
      <statusCode code="active"/>
      <entryRelationship typeCode="SUBJ"><encounter classCode="ENC" moodCode="EVN">
      <id root="2a620155-9d11-439e-92b3-5d9815ff4de8"/></encounter></entryRelationship>
      </act></entry></section></component>"""
    from support.wrap import wrap_fragment
    b = ccda2fhir.convert(wrap_fragment(problems + f"<component>{enc_section}</component>"), "test-patient")
    all_valid(b, validate)
    [e] = resources_of(b, "Encounter")
    assert e["status"] == "finished" and e["period"] == {"start": "2012-08-15T10:00:00-08:00"}


@needs_corpus
def test_nurrahealth_header_and_body_encounter_merge():
    path = CORPUS / "nurrahealth-ccda-to-fhir" / "tests" / "integration" / "fixtures" / "ccda" / "header_and_body_encounter.xml"
    b = ccda2fhir.convert(path.read_bytes(), "p")
    [e] = resources_of(b, "Encounter")
    assert {"system": "urn:oid:2.16.840.1.113883.19.5", "value": "ENC-HEADER-12345"} in e["identifier"]


@needs_corpus
def test_rec_encounter_myra_jones():
    folder = CORPUS / "hl7-ccda-on-fhir" / "mappings" / "examples" / "CDAtoFHIRExamples"
    rec = json.loads((folder / "Rec_Output" / "Rec_encounter_draft.json").read_text())["resource"]
    b = ccda2fhir.convert((folder / "Input" / "Myra Jones v2.xml").read_bytes(), "p")
    [e] = [e for e in resources_of(b, "Encounter") if e["identifier"] == rec["identifier"]]
    assert e["status"] == rec["status"]
    assert e["class"] == rec["class"]
    assert codes(e["type"][0]) == codes(rec["type"][0]) and e["type"][0]["text"] == rec["type"][0]["text"]
    # Same instant: the recommended output normalises to UTC, we keep the source's offset.
    assert rec["period"]["start"] == "2012-08-15T18:00:00.000Z" and e["period"]["start"] == "2012-08-15T10:00:00-08:00"
    assert len(e["diagnosis"]) == len(rec["diagnosis"]) == 1
    cond = resolve(b, e["diagnosis"][0]["condition"])
    assert codes(cond["code"])[0] == ("http://snomed.info/sct", "64109004")
    assert len(e["participant"]) == len(rec["participant"])


@needs_corpus
def test_rec_encounter_diagnosis_myra_jones():
    folder = CORPUS / "hl7-ccda-on-fhir" / "mappings" / "examples" / "CDAtoFHIRExamples"
    rec = json.loads((folder / "Rec_Output" / "Rec_encounterDx_draft.jsonc").read_text())["resource"]
    b = ccda2fhir.convert((folder / "Input" / "Myra Jones v2.xml").read_bytes(), "p")
    [e] = [e for e in resources_of(b, "Encounter")
           if e["identifier"][0]["value"] == "urn:uuid:2a620155-9d11-439e-92b3-5d9815ff4de8"]
    cond = resolve(b, e["diagnosis"][0]["condition"])
    assert cond["identifier"] == rec["identifier"]
    assert [(c["system"], c["code"]) for c in cond["category"][0]["coding"]] == \
        [(c["system"], c["code"]) for c in rec["category"][0]["coding"]]
    # the recommended output's SNOMED system URI is a typo (http://www.snomed.org/)
    assert [c["code"] for c in cond["code"]["coding"]] == [c["code"] for c in rec["code"]["coding"]]
    assert cond["code"]["coding"][0]["system"] == "http://snomed.info/sct"
    assert cond["code"]["text"] == rec["code"]["text"]
    assert cond["onsetDateTime"] == rec["onsetDateTime"]


def test_procedure_nested_in_encounter_references_it(validate):
    from support.wrap import wrap_fragment
    xml = """<section><templateId root="2.16.840.1.113883.10.20.22.2.22.1"/>
      <code code="46240-8" codeSystem="2.16.840.1.113883.6.1"/><title>Encounters</title>
      <entry><encounter classCode="ENC" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.49"/>
        <id root="1.2.3" extension="e1"/>
        <code code="99213" codeSystem="2.16.840.1.113883.6.12"/><effectiveTime value="20200102"/>
        <entryRelationship typeCode="COMP"><procedure classCode="PROC" moodCode="EVN">
          <templateId root="2.16.840.1.113883.10.20.22.4.14"/><id root="1.2.3" extension="p1"/>
          <code code="80146002" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>
          <effectiveTime value="20200102"/>
          <entryRelationship typeCode="SUBJ" inversionInd="true"><act classCode="ACT" moodCode="INT">
            <templateId root="2.16.840.1.113883.10.20.22.4.20"/>
            <code code="311401005" codeSystem="2.16.840.1.113883.6.96"/>
            <text>Keep the wound dry</text><statusCode code="completed"/></act></entryRelationship>
        </procedure></entryRelationship>
      </encounter></entry></section>"""
    b, rep = ccda2fhir.convert(wrap_fragment(xml), "p", report=True)
    all_valid(b, validate)
    [e] = resources_of(b, "Encounter")
    [p] = resources_of(b, "Procedure")
    assert p["encounter"] == {"reference": f"Encounter/{e['id']}"}
    assert p["note"] == [{"text": "Keep the wound dry"}]                   # nested Instruction
    assert resources_of(b, "CommunicationRequest") == []
    assert e["class"]["code"] == "AMB"
    assert not rep.unmapped()


def test_performer_known_only_by_role_code_is_a_practitioner_role(validate):
    """A performer with no id and no name but a role code ('General Physician') still took part:
    Encounter.participant -> a PractitionerRole holding that code, no Practitioner invented.
    A performer with a nullFlavored code says nothing: no participant."""
    from support.wrap import wrap_fragment

    def enc(performer: str) -> str:
        return f"""<entry><encounter classCode="ENC" moodCode="EVN">
          <templateId root="2.16.840.1.113883.10.20.22.4.49" extension="2015-08-01"/>
          <id root="1.2.3.4" extension="enc-role"/>
          <code code="99213" codeSystem="2.16.840.1.113883.6.12"/>
          <effectiveTime value="20200101"/>{performer}</encounter></entry>"""

    b = ccda2fhir.convert(wrap_fragment(enc("""<performer><assignedEntity><id nullFlavor="NI"/>
          <code code="59058001" codeSystem="2.16.840.1.113883.6.96" displayName="General Physician"/>
          </assignedEntity></performer>"""), "46240-8"), "test-patient")
    all_valid(b, validate)
    [e] = resources_of(b, "Encounter")
    [part] = e["participant"]
    role = resolve(b, part["individual"])
    assert role["resourceType"] == "PractitionerRole" and "practitioner" not in role
    assert role["code"] == [{"coding": [{"system": "http://snomed.info/sct", "code": "59058001",
                                         "display": "General Physician"}], "text": "General Physician"}]
    b = ccda2fhir.convert(wrap_fragment(enc("""<performer><assignedEntity><id nullFlavor="NI"/>
          <code nullFlavor="UNK"/></assignedEntity></performer>"""), "46240-8"), "test-patient")
    [e] = resources_of(b, "Encounter")
    assert "participant" not in e
