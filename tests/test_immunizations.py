"""Immunization Activity -> US Core Immunization; planned ones -> ImmunizationRecommendation.

Fixtures: HL7 C-CDA Examples (CC0) in tests/fixtures/hl7-c-cda-examples/Immunizations; the
expected values are read off each example's XML.
"""
from __future__ import annotations

import json

import ccda2fhir
from tests.conftest import CORPUS, FIXTURES, needs_corpus, resolve, resources_of
from tests.support.fragments import LEAD as _LEAD, convert_checked, example_text, only

IMMS = FIXTURES / "hl7-c-cda-examples" / "Immunizations"
CVX = "http://hl7.org/fhir/sid/cvx"
DAR = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


def example(folder: str) -> str:
    return example_text(IMMS / folder)


def convert(xml: str, validate, section_code="11369-6"):
    return convert_checked(xml, validate, section_code)


def test_influenza_vaccination(validate):
    b, report = convert(example("Influenza Vaccination"), validate)
    imm = only(b, "Immunization")
    assert imm["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-immunization"]
    assert imm["identifier"] == [{"system": "urn:ietf:rfc:3986",
                                  "value": "urn:uuid:e6f1ba43-c0ed-4b9b-9f12-f435d8ad8f92"}]
    assert imm["status"] == "completed"
    assert imm["vaccineCode"]["coding"] == [{"system": CVX, "code": "88",
                                             "display": "influenza virus vaccine, unspecified formulation"}]
    assert imm["vaccineCode"]["text"] == "Influenza Virus Vaccine"
    assert imm["patient"] == {"reference": "Patient/p1"}
    assert imm["occurrenceDateTime"] == "2010-08-15"
    assert imm["recorded"] == "2010-08-15"
    assert imm["lotNumber"] == "1"
    assert imm["_primarySource"] == {"extension": [{"url": DAR, "valueCode": "unknown"}]}
    perf = imm["performer"][0]
    assert perf["function"]["coding"][0]["code"] == "AP"
    role = resolve(b, perf["actor"])  # performer with an organization -> PractitionerRole (IG example output)
    assert role["resourceType"] == "PractitionerRole"
    assert resolve(b, role["practitioner"])["identifier"][0]["value"] == "2981824"
    assert resolve(b, role["organization"])["name"] == "Good Health Clinic"
    assert not [i for i in report.issues if i.level in ("unmapped", "error")]


def test_ndc_translation_kept(validate):
    b, _ = convert(example("Influenza Vaccination with NDC"), validate)
    imm = only(b, "Immunization")
    assert imm["vaccineCode"]["coding"] == [
        {"system": CVX, "code": "141", "display": "Influenza, seasonal, injectable"},
        {"system": "http://hl7.org/fhir/sid/ndc", "code": "49281-0394-15", "display": "FLUZONE"}]


def test_patient_reported_is_not_primary_source(validate):
    b, _ = convert(example("Influenza Vaccination - Patient Reported"), validate)
    imm = only(b, "Immunization")
    assert imm["primarySource"] is False
    assert "_primarySource" not in imm
    assert imm["identifier"][0]["value"] == "urn:uuid:3b3e2533-46aa-4e3f-b675-12ac6749cdcd"


def test_refused_is_not_done_with_reason(validate):
    b, report = convert(example("Immunization not given Patient refused"), validate)
    imm = only(b, "Immunization")
    assert imm["status"] == "not-done"
    assert imm["statusReason"]["coding"] == [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                                              "code": "PATOBJ", "display": "patient objection"}]
    assert imm["vaccineCode"]["coding"][0]["code"] == "166"
    assert imm["occurrenceDateTime"] == "2015-11-15"
    # the refusal reason observation is consumed, not made into its own resource
    assert not resources_of(b, "Observation")
    assert not [i for i in report.issues if i.level in ("unmapped", "error")]


def test_no_information_statement_is_an_empty_list_not_an_immunization(validate):
    """Unknown Immunization Status (HL7 example): the statement itself is nullFlavor NI ('no
    information on whether the patient received a vaccination'): no Immunization; a List empty
    because the information is unavailable, keeping its id, date and the vaccine concept."""
    b, report = convert(example("Unknown Immunization Status"), validate)
    assert not resources_of(b, "Immunization")
    lst = only(b, "List")
    assert lst["emptyReason"]["coding"][0]["code"] == "unavailable"
    assert lst["identifier"] == [{"system": "urn:ietf:rfc:3986",
                                  "value": "urn:uuid:e6f1ba43-c0ed-4b9b-9f12-f435d8ad8f88"}]
    assert lst["date"] == "1999-11"
    assert lst["code"]["coding"][0]["code"] == "787859002"
    assert any("nullFlavor NI" in i.reason for i in report.issues if i.level == "info")
    assert not report.unmapped()


PLANNED = """
<section>
 <templateId root="2.16.840.1.113883.10.20.22.2.2.1"/>
 <code code="11369-6" codeSystem="2.16.840.1.113883.6.1"/>
 <title>Immunizations</title>
 <entry>
  <substanceAdministration classCode="SBADM" moodCode="INT">
   <templateId root="2.16.840.1.113883.10.20.22.4.{tid}"/>
   <id root="a8d6b4d2-9a54-4c3c-8d2a-1b2c3d4e5f60"/>
   <statusCode code="active"/>
   <effectiveTime value="20250301"/>
   <repeatNumber value="2"/>
   <consumable><manufacturedProduct classCode="MANU">
     <templateId root="2.16.840.1.113883.10.20.22.4.54"/>
     <manufacturedMaterial><code code="33" codeSystem="2.16.840.1.113883.12.292" displayName="pneumococcal polysaccharide PPV23"/></manufacturedMaterial>
   </manufacturedProduct></consumable>
   <author><time value="20240115"/><assignedAuthor><id root="2.16.840.1.113883.4.6" extension="42"/>
     <assignedPerson><name><given>Ima</given><family>Planner</family></name></assignedPerson></assignedAuthor></author>
  </substanceAdministration>
 </entry>
</section>"""


def test_planned_immunization_is_recommendation(validate):
    for tid in ("120", "52"):
        b, _ = convert(PLANNED.replace("{tid}", tid), validate)
        rec = only(b, "ImmunizationRecommendation")
        assert not resources_of(b, "Immunization")
        assert rec["identifier"] == [{"system": "urn:ietf:rfc:3986",
                                      "value": "urn:uuid:a8d6b4d2-9a54-4c3c-8d2a-1b2c3d4e5f60"}]
        assert rec["date"] == "2024-01-15"
        r = rec["recommendation"][0]
        assert r["vaccineCode"][0]["coding"][0] == {"system": CVX, "code": "33",
                                                    "display": "pneumococcal polysaccharide PPV23"}
        assert r["forecastStatus"]["coding"][0]["code"] == "due"
        assert r["dateCriterion"][0]["value"] == "2025-03-01"
        assert r["dateCriterion"][0]["code"]["coding"][0]["code"] == "30980-7"
        assert r["doseNumberPositiveInt"] == 2


FULL = """
<section>
 <templateId root="2.16.840.1.113883.10.20.1.6"/>
 <code code="11369-6" codeSystem="2.16.840.1.113883.6.1"/>
 <title>Immunizations</title>
 <entry>
  <substanceAdministration classCode="SBADM" moodCode="EVN" negationInd="false">
   <templateId root="2.16.840.1.113883.10.20.1.24"/>
   <id root="e6f1ba43-c0ed-4b9b-9f12-f435d8ad8f92"/>
   <statusCode code="completed"/>
   <effectiveTime xsi:type="IVL_TS"><low value="201008151030-0500"/></effectiveTime>
   <repeatNumber value="1"/>
   <routeCode code="C28161" codeSystem="2.16.840.1.113883.3.26.1.1" displayName="Intramuscular Route of Administration"/>
   <approachSiteCode code="700022004" codeSystem="2.16.840.1.113883.6.96" displayName="Muscle and/or tendon structure of upper limb"/>
   <doseQuantity value="60" unit="ug"/>
   <consumable><manufacturedProduct classCode="MANU">
     <templateId root="2.16.840.1.113883.10.20.1.53"/>
     <manufacturedMaterial><code code="88" codeSystem="2.16.840.1.113883.12.292" displayName="Influenza virus vaccine"/>
       <lotNumberText>L-1</lotNumberText></manufacturedMaterial>
     <manufacturerOrganization><name>Good Vaccines Inc</name></manufacturerOrganization>
   </manufacturedProduct></consumable>
   <entryRelationship typeCode="RSON">
    <observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.19"/>
     <id root="11111111-2222-3333-4444-555555555555"/>
     <code code="404684003" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>
     <value xsi:type="CD" code="195967001" codeSystem="2.16.840.1.113883.6.96" displayName="Asthma"/></observation>
   </entryRelationship>
   <entryRelationship typeCode="MFST" inversionInd="true">
    <observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.9"/>
     <id root="4adc1020-7b14-11db-9fe1-0800200c9a64"/>
     <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/><statusCode code="completed"/>
     <effectiveTime><low value="20100816"/></effectiveTime>
     <value xsi:type="CD" code="247472004" codeSystem="2.16.840.1.113883.6.96" displayName="Hives"/></observation>
   </entryRelationship>
   <entryRelationship typeCode="SUBJ" inversionInd="true">
    <act classCode="ACT" moodCode="INT"><templateId root="2.16.840.1.113883.10.20.22.4.20"/>
     <code code="171044003" codeSystem="2.16.840.1.113883.6.96" displayName="immunization education"/>
     <text>Possible flu-like symptoms for three days.</text><statusCode code="completed"/>
     <effectiveTime value="20100815"/></act>
   </entryRelationship>
   <entryRelationship typeCode="SUBJ" inversionInd="true">
    <act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.64"/>
     <code code="48767-8" codeSystem="2.16.840.1.113883.6.1"/><text>Tolerated well</text></act>
   </entryRelationship>
  </substanceAdministration>
 </entry>
</section>"""


def test_r11_immunization_all_fields(validate):
    b, report = convert(FULL, validate)
    imm = only(b, "Immunization")
    assert not resources_of(b, "MedicationStatement")
    assert imm["occurrenceDateTime"] == "2010-08-15T10:30:00-05:00"
    assert imm["route"]["coding"][0]["code"] == "C28161"
    assert imm["site"]["coding"][0]["code"] == "700022004"
    assert imm["doseQuantity"] == {"value": 60, "unit": "ug", "system": "http://unitsofmeasure.org", "code": "ug"}
    assert imm["lotNumber"] == "L-1"
    assert resolve(b, imm["manufacturer"])["name"] == "Good Vaccines Inc"
    assert imm["protocolApplied"] == [{"doseNumberPositiveInt": 1}]
    assert imm["reasonCode"][0]["coding"][0]["code"] == "195967001"
    reaction = imm["reaction"][0]
    assert reaction["date"] == "2010-08-16"
    obs = resolve(b, reaction["detail"])
    assert obs["resourceType"] == "Observation"
    assert obs["valueCodeableConcept"]["coding"][0]["code"] == "247472004"
    assert imm["education"] == [{"documentType": "Possible flu-like symptoms for three days.",
                                 "presentationDate": "2010-08-15"}]
    assert {"text": "Tolerated well"} in imm["note"]
    assert not [i for i in report.issues if i.level in ("unmapped", "error")]


def test_r11_id_in_medications_section_is_medication(validate):
    b, _ = convert(FULL.replace("2.16.840.1.113883.10.20.1.6", "2.16.840.1.113883.10.20.1.8")
                   .replace("11369-6", "10160-0"), validate, section_code="10160-0")
    assert not resources_of(b, "Immunization")
    ms = only(b, "MedicationStatement")
    assert ms["status"] == "completed"


def test_no_date_gives_occurrence_string(validate):
    xml = FULL.replace('<effectiveTime xsi:type="IVL_TS"><low value="201008151030-0500"/></effectiveTime>',
                       '<effectiveTime nullFlavor="UNK"/>')
    b, _ = convert(xml, validate)
    imm = only(b, "Immunization")
    assert "occurrenceDateTime" not in imm
    assert imm["occurrenceString"] == "Unknown"


# ---- HL7 C-CDA on FHIR recommended output (corpus only: no licence stated) ----

IG = CORPUS / "hl7-ccda-on-fhir" / "input" / "resources"


@needs_corpus
def test_matches_ig_immunization_example(validate):
    xml = _LEAD.sub("", (IG / "binary" / "CF-immunization.xml").read_text(encoding="utf-8-sig"), count=1)
    expected = json.loads((IG / "immunization" / "CF-immunization.json").read_text())
    b, _ = convert(xml, validate)
    imm = only(b, "Immunization")
    for key in ("identifier", "status", "occurrenceDateTime", "lotNumber", "_primarySource"):
        assert imm[key] == expected[key], key
    assert [(c["system"], c["code"]) for c in imm["vaccineCode"]["coding"]] == \
        [(c["system"], c["code"]) for c in expected["vaccineCode"]["coding"]]
    assert imm["performer"][0]["actor"]["reference"].startswith("PractitionerRole/")


REC = CORPUS / "hl7-ccda-on-fhir" / "mappings" / "examples" / "CDAtoFHIRExamples"


def _jsonc(path):
    return json.loads("\n".join(line for line in path.read_text().splitlines() if not line.strip().startswith("//")))


@needs_corpus
def test_matches_recommended_output_myra_jones(validate):
    b = ccda2fhir.convert((REC / "Input" / "Myra Jones v2.xml").read_bytes(), "p1")
    expected = _jsonc(REC / "Rec_Output" / "Rec_immunization.jsonc")["resource"]
    imm = only(b, "Immunization")
    assert validate(imm) == []
    for key in ("identifier", "status", "occurrenceDateTime", "recorded", "lotNumber", "_primarySource"):
        assert imm[key] == expected[key], key
    assert imm["vaccineCode"] == expected["vaccineCode"]
    assert resolve(b, imm["performer"][0]["actor"])["resourceType"] == "PractitionerRole"


def _chunli_inputs():
    base = CORPUS / "chunli866-ccdatofhirsamples" / "CDAtoFHIRExamples" / "Rec_Output" / "Rec_MyraJonesv6" / "Input xml entries"
    return sorted(base.glob("Input_immunization*.xml")) if base.is_dir() else []


@needs_corpus
def test_chunli_immunization_entries(validate):
    paths = _chunli_inputs()
    assert paths
    for path in paths:
        src = path.read_text(encoding="utf-8-sig")
        b, report = convert(_LEAD.sub("", src, count=1), validate)
        imms = resources_of(b, "Immunization") + resources_of(b, "ImmunizationRecommendation")
        assert imms, (path.name, report.summary())
        for imm in resources_of(b, "Immunization"):
            for c in imm["vaccineCode"].get("coding", []):
                assert f'code="{c["code"]}"' in src
            assert imm["occurrenceDateTime"][:4] in src


def test_r11_refusal_in_problem_act(validate):
    refusal = """<entryRelationship typeCode="RSON"><act classCode="ACT" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.1.27"/><id root="1.2.3" extension="act-1"/><code nullFlavor="NA"/>
      <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.1.28"/><id root="1.2.3" extension="obs-1"/>
        <code code="PATOBJ" displayName="patient objection" codeSystem="2.16.840.1.113883.11.19725"/>
        <statusCode code="completed"/></observation></entryRelationship></act></entryRelationship>"""
    xml = FULL.replace('negationInd="false"', 'negationInd="true"').replace(
        '<entryRelationship typeCode="MFST"', refusal + '<entryRelationship typeCode="MFST"')
    b, report = convert(xml, validate)
    imm = only(b, "Immunization")
    assert imm["status"] == "not-done"
    assert imm["statusReason"]["coding"][0]["code"] == "PATOBJ"
    assert [c["coding"][0]["code"] for c in imm["reasonCode"]] == ["195967001"]  # the refusal is no indication
    # the indication (it has an id) is also a Condition the Immunization points at; the refusal is not
    [cond] = resources_of(b, "Condition")
    assert imm["reasonReference"] == [{"reference": f"Condition/{cond['id']}"}]
    assert cond["code"]["coding"][0]["code"] == "195967001"


def test_r11_series_number_observation_gives_dose_number(validate):
    series = """<entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.1.46"/><code code="30973-2" codeSystem="2.16.840.1.113883.6.1"/>
      <statusCode code="completed"/><value xsi:type="INT" value="3"/></observation></entryRelationship>"""
    xml = FULL.replace('<repeatNumber value="1"/>', "").replace(
        '<entryRelationship typeCode="MFST"', series + '<entryRelationship typeCode="MFST"')
    b, _ = convert(xml, validate)
    assert only(b, "Immunization")["protocolApplied"] == [{"doseNumberPositiveInt": 3}]
