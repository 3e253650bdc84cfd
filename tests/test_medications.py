"""Medication Activity -> MedicationStatement / MedicationRequest (+ Medication, MedicationDispense).

Fixtures: HL7 C-CDA Examples (CC0) in tests/fixtures/hl7-c-cda-examples/Medications; the
expected values are read off each example's XML.
"""
from __future__ import annotations

import json

import pytest

import ccda2fhir
from tests.conftest import CORPUS, FIXTURES, needs_corpus, resolve, resources_of
from tests.support.fragments import LEAD as _LEAD, convert_checked, example_text, only

MEDS = FIXTURES / "hl7-c-cda-examples" / "Medications"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NCI = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
SNOMED = "http://snomed.info/sct"


def example(folder: str) -> str:
    return example_text(MEDS / folder)


def convert(xml: str, validate, section_code="10160-0"):
    return convert_checked(xml, validate, section_code)


def test_every_4_to_6_hours_request(validate):
    b, _ = convert(example("Med every 4-6 hours"), validate)
    mr = only(b, "MedicationRequest")
    assert mr["identifier"] == [{"system": "urn:ietf:rfc:3986",
                                 "value": "urn:uuid:36edd5f0-0b15-49f6-a395-7752b4f18b77"}]
    assert mr["status"] == "active"
    assert mr["intent"] == "order"  # IG ConceptMap MedActivityMood INT -> order
    assert mr["medicationCodeableConcept"]["coding"] == [
        {"system": RXNORM, "code": "1049529",
         "display": "pseudoephedrine hydrochloride 30 MG Oral Tablet [Sudafed]"}]
    assert mr["medicationCodeableConcept"]["text"] == "Sudafed 30mg Oral Tablet"
    assert mr["subject"] == {"reference": "Patient/p1"}
    assert mr["authoredOn"] == "2014-01-18"
    role = resolve(b, mr["requester"])  # the author names a specialty: PractitionerRole (as the IG example)
    assert role["resourceType"] == "PractitionerRole"
    assert role["code"][0]["coding"][0]["code"] == "207RC0000X"
    assert resolve(b, role["practitioner"])["identifier"][0]["value"] == "66666"
    d = mr["dosageInstruction"][0]
    assert d["timing"]["repeat"] == {"frequency": 1, "period": 4, "periodMax": 6, "periodUnit": "h",
                                     "boundsPeriod": {"start": "2014-01-18"}}
    assert d["route"]["coding"] == [{"system": NCI, "code": "C38288",
                                     "display": "Oral Route of Administration"}]
    assert d["doseAndRate"] == [{"doseQuantity": {"value": 2}}]
    assert not resources_of(b, "MedicationStatement")


def test_qid_prn_request(validate):
    b, _ = convert(example("Med oral QID with PRN"), validate)
    mr = only(b, "MedicationRequest")
    d = mr["dosageInstruction"][0]
    assert d["timing"]["repeat"]["frequency"] == 4
    assert d["timing"]["repeat"]["period"] == 1 and d["timing"]["repeat"]["periodUnit"] == "d"
    assert d["asNeededBoolean"] is True
    codes = {(c["system"], c["code"]) for c in mr["medicationCodeableConcept"]["coding"]}
    assert codes == {(RXNORM, "197806"), ("http://hl7.org/fhir/sid/ndc", "00603402221")}


def test_liquid_prn_with_coded_precondition(validate):
    b, _ = convert(example("Med oral liquid PRN"), validate)
    mr = only(b, "MedicationRequest")
    d = mr["dosageInstruction"][0]
    assert d["asNeededCodeableConcept"]["coding"] == [{"system": SNOMED, "code": "49727002", "display": "Cough"}]
    assert d["timing"]["repeat"]["boundsPeriod"] == {"start": "2017-12-21", "end": "2017-12-31"}
    assert d["timing"]["repeat"]["period"] == 4 and d["timing"]["repeat"]["periodMax"] == 6
    assert d["doseAndRate"][0]["doseQuantity"] == {"value": 2, "unit": "mL",
                                                   "system": "http://unitsofmeasure.org", "code": "mL"}
    assert mr["authoredOn"] == "2017-12-21T09:30:00-05:00"


def test_bedtime_eivl_and_manufacturer_makes_medication(validate):
    b, _ = convert(example("Med at bedtime"), validate)
    ms = only(b, "MedicationStatement")
    assert ms["status"] == "active"
    assert ms["effectivePeriod"] == {"start": "2009-01-09"}
    d = ms["dosage"][0]
    assert d["timing"] == {"repeat": {"when": ["HS"]}}
    assert d["text"] == "Administer 40 units at bedtime"
    assert d["doseAndRate"][0]["doseQuantity"]["value"] == 40
    assert d["doseAndRate"][0]["doseQuantity"]["code"] == "[IU]"
    assert d["route"]["coding"][0]["code"] == "C38299"
    med = resolve(b, ms["medicationReference"])
    assert med["resourceType"] == "Medication"
    assert med["code"]["coding"][0] == {"system": RXNORM, "code": "847232",
                                        "display": "3 ML insulin glargine 100 UNT/ML Pen Injector [Lantus]"}
    org = resolve(b, med["manufacturer"])
    assert org["resourceType"] == "Organization" and org["name"]


def test_drug_vehicle_is_inactive_ingredient_and_indication_is_reason(validate):
    b, _ = convert(example("Med Relative Dose IV Drug"), validate)
    mr = only(b, "MedicationRequest")
    med = resolve(b, mr["medicationReference"])
    assert med["code"]["coding"][0]["code"] == "1657066"
    assert med["identifier"][0]["value"] == "urn:uuid:2a620155-9d11-439e-92b3-5d9815ff3cc2"
    assert med["ingredient"] == [{"itemCodeableConcept": {
        "coding": [{"system": RXNORM, "code": "1807639", "display": "1000 ML sodium chloride 9 MG/ML Injection"}],
        "text": "1000 ML sodium chloride 9 MG/ML Injection"}, "isActive": False}]
    assert mr["reasonCode"][0]["coding"] == [{"system": SNOMED, "code": "363406005",
                                              "display": "Malignant neoplasm of colon"}]
    d = mr["dosageInstruction"][0]
    assert d["timing"] == {"event": ["2018-02-15"]}
    assert d["doseAndRate"][0]["doseQuantity"]["code"] == "mg/kg"
    assert d["route"]["coding"][0]["code"] == "C38276"


def test_drug_mixture_pharm_ingredients_and_form(validate):
    b, _ = convert(example("Drug Mixture"), validate)
    mr = only(b, "MedicationRequest")
    assert mr["identifier"] == [{"system": "urn:oid:1.2.840.114350.1.13.861.1.7.2.798268", "value": "1012722087"}]
    med = resolve(b, mr["medicationReference"])
    assert med["code"] == {"text": "diphenhydrAMINE hydrochloride 5 mg, lidocaine 50 mg, aluminum & magnesium "
                                   "hydroxide-simethicone 80-80-8 mg/mL SUSP 1.6667 mL"}
    assert med["form"]["coding"] == [{"system": SNOMED, "code": "385023001", "display": "Oral solution"}]
    ing = med["ingredient"]
    assert [i["itemCodeableConcept"]["coding"][0]["code"] for i in ing] == ["1362", "1011092", "237870"]
    assert [i["isActive"] for i in ing] == [True, True, False]
    assert ing[1]["strength"]["numerator"]["value"] == 0.2
    rep = mr["dosageInstruction"][0]["timing"]["repeat"]
    assert (rep["frequency"], rep["period"], rep["periodUnit"]) == (2, 1, "d")
    assert rep["boundsPeriod"] == {"start": "2022-01-11", "end": "2022-01-19T05:59:00+00:00"}
    assert mr["dosageInstruction"][0]["route"]["text"] == "Mouth/Throat"


def test_free_text_sig_and_unknown_code(validate):
    b, report = convert(example("Free Text Medication SIG"), validate)
    ms = only(b, "MedicationStatement")
    assert ms["dosage"][0]["text"] == "Experimental '150 cure-all drug', take one tab by mouth every morning"
    assert ms["medicationCodeableConcept"] == {"extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}
    assert ms["effectivePeriod"] == {"start": "2018-01-10"}
    assert "doseAndRate" not in ms["dosage"][0]
    assert not [i for i in report.issues if i.level == "unmapped"]


def test_indications_instructions_precondition(validate):
    b, report = convert(example("Med oral with indications and instructions"), validate)
    by_id = {ms["identifier"][0]["value"]: ms for ms in resources_of(b, "MedicationStatement")}
    prn = by_id["300035"]["dosage"][0]
    assert prn["asNeededCodeableConcept"]["coding"][0]["code"] == "57676002"
    assert prn["timing"]["repeat"] == {"frequency": 4, "period": 1, "periodUnit": "d"}
    assert prn["text"] == "take 1 tablet Every 6 Hours PRN for joint pain"
    instr = by_id["200035"]["dosage"][0]
    assert instr["patientInstruction"] == "Do not take on an empty stomach."
    assert instr["additionalInstruction"][0]["coding"][0]["code"] == "422037009"
    assert instr["timing"]["repeat"] == {"frequency": 1, "period": 6, "periodUnit": "h"}
    ind = by_id["500035"]
    assert ind["reasonCode"][0]["coding"][0] == {"system": SNOMED, "code": "57676002", "display": "Joint pain"}
    assert [x["value"] for x in ind["identifier"]] == ["500035", "500013"]
    assert not [i for i in report.issues if i.level == "unmapped"]


def test_refused_medication_is_not_taken(validate):
    b, _ = convert(example("Medication Refused"), validate)
    ms = only(b, "MedicationStatement")
    assert ms["status"] == "not-taken"
    assert ms["statusReason"][0]["coding"][0]["code"] == "105480006"
    assert ms["medicationCodeableConcept"]["coding"][0]["code"] == "314076"
    assert ms["effectiveDateTime"] == "2018-03-15T11:23:05-05:00"


def test_no_medications_negated(validate):
    b, _ = convert(example("No Medications"), validate)
    ms = only(b, "MedicationStatement")
    assert ms["status"] == "not-taken"
    assert ms["medicationCodeableConcept"]["coding"] == [{"system": SNOMED, "code": "410942007",
                                                          "display": "Drug or medicament"}]


def test_single_administration_point_in_time(validate):
    b, _ = convert(example("Single administration of medication"), validate)
    ms = only(b, "MedicationStatement")
    assert ms["status"] == "completed"
    assert ms["effectiveDateTime"] == "2013-09-11T16:03:00-07:00"
    assert ms["medicationCodeableConcept"]["coding"][0]["code"] == "243670"
    assert ms["dosage"][0]["doseAndRate"] == [{"doseQuantity": {"value": 2}}]
    assert resolve(b, ms["informationSource"])["resourceType"] == "PractitionerRole"


def test_withdrawn_patient_reported(validate):
    b, _ = convert(example("Withdrawn Patient reported oral medication"), validate)
    ms = only(b, "MedicationStatement")
    assert ms["status"] == "completed"
    assert ms["effectivePeriod"] == {"start": "2014-04-09", "end": "2014-05-10T23:59:59-05:00"}
    assert ms["dateAsserted"] == "2014-04-09"
    assert ms["dosage"][0]["timing"] == {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}


def test_varied_dosing_two_requests(validate):
    b, _ = convert(example("Withdrawn Anitbiotics with varied dosing"), validate)
    reqs = resources_of(b, "MedicationRequest")
    assert len(reqs) == 2
    bounds = sorted(r["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]["start"] for r in reqs)
    assert bounds == ["2014-03-10", "2014-03-11"]
    doses = sorted(r["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] for r in reqs)
    assert doses == [1, 2]


SUPPLY_XML = """
<section>
 <templateId root="2.16.840.1.113883.10.20.22.2.1.1"/>
 <code code="10160-0" codeSystem="2.16.840.1.113883.6.1"/>
 <title>Medications</title>
 <entry>
  <substanceAdministration classCode="SBADM" moodCode="{mood}">
   <templateId root="2.16.840.1.113883.10.20.22.4.16"/>
   <id root="cdbd33f0-6cde-11db-9fe1-0800200c9a66"/>
   <statusCode code="active"/>
   <effectiveTime xsi:type="IVL_TS"><low value="20120806"/><high nullFlavor="UNK"/></effectiveTime>
   <effectiveTime xsi:type="EIVL_TS" operator="A"><event code="ACM"/><offset><low value="30" unit="min"/></offset></effectiveTime>
   <routeCode code="C38288" codeSystem="2.16.840.1.113883.3.26.1.1" displayName="Oral"/>
   <doseQuantity value="1"/>
   <maxDoseQuantity><numerator value="6" unit="{{spray}}"/><denominator value="1" unit="d"/></maxDoseQuantity>
   <administrationUnitCode code="C48501" codeSystem="2.16.840.1.113883.3.26.1.1" displayName="Inhalation dosing unit"/>
   <consumable><manufacturedProduct classCode="MANU">
     <templateId root="2.16.840.1.113883.10.20.22.4.23"/>
     <id root="2a620155-9d11-439e-92b3-5d9815ff4ee8"/>
     <manufacturedMaterial><code code="1190220" codeSystem="2.16.840.1.113883.6.88" displayName="albuterol spray"/>
       <lotNumberText>LOT-77</lotNumberText></manufacturedMaterial>
   </manufacturedProduct></consumable>
   <author><time value="20130911160300-0700"/><assignedAuthor><id root="2.16.840.1.113883.4.6" extension="999"/>
     <assignedPerson><name><given>Pat</given><family>Prescriber</family></name></assignedPerson></assignedAuthor></author>
   <entryRelationship typeCode="REFR">
    <supply classCode="SPLY" moodCode="INT">
     <templateId root="2.16.840.1.113883.10.20.22.4.17"/>
     <id root="1.2.3.4.56789.1" extension="supply-1"/>
     <statusCode code="completed"/>
     <effectiveTime xsi:type="IVL_TS"><high value="20121106"/></effectiveTime>
     <repeatNumber value="2"/>
     <quantity value="3"/>
    </supply>
   </entryRelationship>
   <entryRelationship typeCode="REFR">
    <supply classCode="SPLY" moodCode="EVN">
     <templateId root="2.16.840.1.113883.10.20.22.4.18"/>
     <id root="1.2.3.4.56789.1" extension="dispense-1"/>
     <statusCode code="completed"/>
     <effectiveTime value="20120810"/>
     <quantity value="3"/>
    </supply>
   </entryRelationship>
   <entryRelationship typeCode="SUBJ" inversionInd="true">
    <act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.64"/>
     <code code="48767-8" codeSystem="2.16.840.1.113883.6.1"/><text>Keep at room temperature</text></act>
   </entryRelationship>
  </substanceAdministration>
 </entry>
</section>"""


def test_supply_order_and_dispense_on_request(validate):
    b, report = convert(SUPPLY_XML.replace("{mood}", "INT"), validate)
    mr = only(b, "MedicationRequest")
    assert mr["dispenseRequest"] == {"validityPeriod": {"end": "2012-11-06"}, "numberOfRepeatsAllowed": 1,
                                     "quantity": {"value": 3}}
    assert mr["authoredOn"] == "2013-09-11T16:03:00-07:00"
    # the supply order's id (often the Rx number) identifies the same prescription
    assert mr["identifier"] == [{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:cdbd33f0-6cde-11db-9fe1-0800200c9a66"},
                                {"system": "urn:oid:1.2.3.4.56789.1", "value": "supply-1"}]
    assert mr["note"] == [{"text": "Keep at room temperature"}]
    d = mr["dosageInstruction"][0]
    assert d["timing"]["repeat"]["when"] == ["ACM"] and d["timing"]["repeat"]["offset"] == 30
    assert d["maxDosePerPeriod"]["numerator"]["value"] == 6
    med = resolve(b, mr["medicationReference"])  # administrationUnitCode -> Medication.form (IG)
    assert med["form"]["coding"][0]["code"] == "C48501"
    assert med["batch"] == {"lotNumber": "LOT-77"}
    disp = only(b, "MedicationDispense")
    assert disp["identifier"] == [{"system": "urn:oid:1.2.3.4.56789.1", "value": "dispense-1"}]
    assert disp["status"] == "completed"
    assert disp["whenHandedOver"] == "2012-08-10"
    assert disp["quantity"] == {"value": 3}
    assert resolve(b, disp["authorizingPrescription"][0]) is mr or \
        resolve(b, disp["authorizingPrescription"][0])["id"] == mr["id"]
    assert disp["medicationReference"] == mr["medicationReference"]
    assert not [i for i in report.issues if i.level == "unmapped"]


def test_supply_order_on_history_becomes_based_on(validate):
    b, _ = convert(SUPPLY_XML.replace("{mood}", "EVN"), validate)
    ms = only(b, "MedicationStatement")
    assert ms["effectivePeriod"] == {"start": "2012-08-06"}
    assert ms["dosage"][0]["timing"] == {"repeat": {"when": ["ACM"], "offset": 30}}
    order = resolve(b, ms["basedOn"][0])
    assert order["resourceType"] == "MedicationRequest"
    assert order["intent"] == "order" and order["status"] == "completed"
    assert order["identifier"] == [{"system": "urn:oid:1.2.3.4.56789.1", "value": "supply-1"}]
    assert order["dispenseRequest"]["numberOfRepeatsAllowed"] == 1
    assert order["medicationReference"] == ms["medicationReference"]
    disp = resolve(b, ms["derivedFrom"][0])
    assert disp["resourceType"] == "MedicationDispense"


def test_planned_medication_activity_is_plan(validate):
    xml = SUPPLY_XML.replace("{mood}", "INT").replace(
        '<templateId root="2.16.840.1.113883.10.20.22.4.16"/>',
        '<templateId root="2.16.840.1.113883.10.20.22.4.42"/>')
    b, _ = convert(xml, validate)
    assert only(b, "MedicationRequest")["intent"] == "plan"
    xml = xml.replace('moodCode="INT"><templateId root="2.16.840.1.113883.10.20.22.4.42"', 'x')
    rqo = SUPPLY_XML.replace("{mood}", "RQO").replace(
        '<templateId root="2.16.840.1.113883.10.20.22.4.16"/>',
        '<templateId root="2.16.840.1.113883.10.20.22.4.42"/>')
    b, _ = convert(rqo, validate)
    assert only(b, "MedicationRequest")["intent"] == "order"


R11 = """
<section>
 <templateId root="2.16.840.1.113883.10.20.1.8"/>
 <code code="10160-0" codeSystem="2.16.840.1.113883.6.1"/>
 <title>Medications</title>
 <entry>
  <substanceAdministration classCode="SBADM" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.1.24"/>
   <id root="cdbd33f0-6cde-11db-9fe1-0800200c9a66"/>
   <statusCode code="completed"/>
   <effectiveTime xsi:type="IVL_TS"><low value="20070103"/></effectiveTime>
   <effectiveTime xsi:type="PIVL_TS" operator="A"><period value="6" unit="h"/></effectiveTime>
   <consumable><manufacturedProduct><templateId root="2.16.840.1.113883.10.20.1.53"/>
     <manufacturedMaterial><code code="307782" codeSystem="2.16.840.1.113883.6.88" displayName="Albuterol 0.09 MG/ACTUAT inhalant solution"/></manufacturedMaterial>
   </manufacturedProduct></consumable>
   <entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">
     <templateId root="2.16.840.1.113883.10.20.1.47"/><code code="33999-4" codeSystem="2.16.840.1.113883.6.1"/>
     <statusCode code="completed"/><value xsi:type="CE" code="421139008" codeSystem="2.16.840.1.113883.6.96" displayName="On Hold"/>
   </observation></entryRelationship>
   <entryRelationship typeCode="SUBJ"><act classCode="ACT" moodCode="INT">
     <templateId root="2.16.840.1.113883.10.20.1.49"/><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.3"/>
     <code code="PINSTRUCT" codeSystem="1.3.6.1.4.1.19376.1.5.3.2"/><text>Shake well</text>
     <entryRelationship typeCode="SUBJ" inversionInd="true"><act classCode="ACT" moodCode="EVN">
       <templateId root="2.16.840.1.113883.10.20.1.40"/><code code="48767-8" codeSystem="2.16.840.1.113883.6.1"/>
       <text>Patient prefers the inhaler</text></act></entryRelationship>
   </act></entryRelationship>
   <entryRelationship typeCode="SUBJ"><act classCode="ACT" moodCode="INT">
     <templateId root="2.16.840.1.113883.10.20.1.43"/><code code="FINSTRUCT" codeSystem="1.3.6.1.4.1.19376.1.5.3.2"/>
     <text>Dispense in original package</text></act></entryRelationship>
   <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
     <templateId root="2.16.840.1.113883.3.88.11.83.8.1"/>
     <code code="73639000" codeSystem="2.16.840.1.113883.6.96" displayName="Prescription Drug"/>
   </observation></entryRelationship>
  </substanceAdministration>
 </entry>
</section>"""


def test_r11_medication_activity_in_medications_section(validate):
    b, report = convert(R11, validate)
    ms = only(b, "MedicationStatement")
    # the R1.1 Medication Status Observation says on hold; statusCode 'completed' records the act
    assert ms["status"] == "on-hold"
    # ... and its own SNOMED coding is kept beside the FHIR status (HL7 alternate-codes extension)
    assert ms["_status"] == {"extension": [{
        "url": "http://hl7.org/fhir/StructureDefinition/alternate-codes",
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "421139008", "display": "On Hold"}],
                                 "text": "On Hold"}}]}
    assert ms["category"]["coding"] == [{"system": SNOMED, "code": "73639000", "display": "Prescription Drug"}]
    assert ms["dosage"][0]["patientInstruction"] == "Shake well"
    # the comment on the (absorbed) instruction and the pharmacist's instruction are kept as notes
    assert ms["note"] == [{"text": "Patient prefers the inhaler"}, {"text": "Dispense in original package"}]
    assert not resources_of(b, "Observation")
    assert not [i for i in report.issues if i.level in ("unmapped", "partial")]
    assert ms["medicationCodeableConcept"]["coding"][0]["code"] == "307782"
    assert ms["dosage"][0]["timing"]["repeat"] == {"frequency": 1, "period": 6, "periodUnit": "h"}
    assert not resources_of(b, "Immunization")


def test_r11_status_value_not_kept_when_the_status_does_not_come_from_it(validate):
    # negated: the statement is 'not-taken', not what the status observation says
    b, _ = convert(R11.replace('moodCode="EVN">\n   <templateId root="2.16.840.1.113883.10.20.1.24"/>',
                               'moodCode="EVN" negationInd="true">\n   <templateId root="2.16.840.1.113883.10.20.1.24"/>'),
                   validate)
    ms = only(b, "MedicationStatement")
    assert ms["status"] == "not-taken" and "_status" not in ms
    # a value the status map does not know ('Other'): status from statusCode, value not attached
    b, _ = convert(R11.replace('code="421139008"', 'code="74964007"'), validate)
    ms = only(b, "MedicationStatement")
    assert ms["status"] == "completed" and "_status" not in ms


# ---- HL7 C-CDA on FHIR recommended output (corpus only: no licence stated) ----

IG = CORPUS / "hl7-ccda-on-fhir" / "input" / "resources"


@needs_corpus
def test_matches_ig_medication_example(validate):
    xml = (IG / "binary" / "CF-medication.xml").read_text(encoding="utf-8-sig")
    expected = json.loads((IG / "medicationrequest" / "CF-medication.json").read_text())
    xml = _LEAD.sub("", xml, count=1)
    b, _ = convert(xml, validate)
    # The IG maps this EVN entry to a MedicationRequest (intent plan, ConceptMap MedActivityMood
    # EVN -> plan); ccda2fhir makes medication histories (EVN) MedicationStatements.
    ms = only(b, "MedicationStatement")
    assert ms["identifier"] == expected["identifier"]
    assert ms["status"] == expected["status"]
    assert ms["medicationCodeableConcept"]["coding"] == expected["medicationCodeableConcept"]["coding"]
    assert ms["dosage"][0]["doseAndRate"] == expected["dosageInstruction"][0]["doseAndRate"]
    assert ms["effectivePeriod"] == {"start": "2012-08-06"}
    # the performer is who the statement came from when no author is given (PractitionerRole, as the IG)
    role = resolve(b, ms["informationSource"])
    assert role["resourceType"] == "PractitionerRole"
    assert resolve(b, role["practitioner"])["identifier"][0]["value"] == "2222222222"


REC = CORPUS / "hl7-ccda-on-fhir" / "mappings" / "examples" / "CDAtoFHIRExamples"


@needs_corpus
def test_matches_recommended_output_myra_jones(validate):
    text = (REC / "Rec_Output" / "Rec_medicationRequest.jsonc").read_text()
    expected = json.loads("\n".join(x for x in text.splitlines() if not x.strip().startswith("//")))["resource"]
    b = ccda2fhir.convert((REC / "Input" / "Myra Jones v2.xml").read_bytes(), "p1")
    # the entry is moodCode EVN: a MedicationStatement here (the recommended output makes a request)
    ms = only(b, "MedicationStatement")
    assert validate(ms) == []
    assert ms["identifier"] == expected["identifier"]
    assert ms["status"] == expected["status"]
    assert ms["medicationCodeableConcept"]["coding"] == expected["medicationCodeableConcept"]["coding"]
    assert ms["dosage"][0]["doseAndRate"] == expected["dosageInstruction"][0]["doseAndRate"]


def _chunli_inputs(kind):
    base = CORPUS / "chunli866-ccdatofhirsamples" / "CDAtoFHIRExamples" / "Rec_Output" / "Rec_MyraJonesv6" / "Input xml entries"
    return sorted(base.glob(f"Input_{kind}*.xml")) if base.is_dir() else []


@needs_corpus
@pytest.mark.parametrize("path", _chunli_inputs("medication"), ids=lambda p: p.name)
def test_chunli_medication_entries(path, validate):
    xml = _LEAD.sub("", path.read_text(encoding="utf-8-sig"), count=1)
    b, report = convert(xml, validate)
    meds = resources_of(b, "MedicationRequest") + resources_of(b, "MedicationStatement")
    assert meds, report.summary()
    src = path.read_text()
    for m in meds:
        cc = m.get("medicationCodeableConcept") or resolve(b, m["medicationReference"])["code"]
        for c in cc.get("coding", []):
            assert f'code="{c["code"]}"' in src
