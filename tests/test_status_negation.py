"""Issue 7 section 3: status and negation follow the source's explicit statement.

- a stated status (Problem / Allergy Status Observation, a concern act's statusCode) wins over an
  inference from an unknown end; an active Condition carries no abatement (FHIR con-4);
- a refused immunization is not-done, whatever negationInd says;
- an entry that says there is nothing to report is an empty List, never a clinical fact;
- a narrative pointer is never data.

Fragments are written here after patterns found in ../shared/corpus (each test names the
document it follows); the corpus sweeps at the end check every corpus document.
"""
from __future__ import annotations

import re

import pytest

import ccda2fhir
from tests.conftest import CORPUS, FIXTURES, corpus_documents, needs_corpus, resources_of
from tests.support.fragments import convert_example
from tests.support.wrap import wrap_fragment

SCT = "2.16.840.1.113883.6.96"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
EMPTY = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
DAR = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
CONCERN_PERIOD = "http://ccda2fhir.org/fhir/StructureDefinition/concern-period"
ABATEMENT = "http://hl7.org/fhir/StructureDefinition/allergyintolerance-abatement"
ACTIVE_ISH = ("active", "recurrence", "relapse")


def convert(xml: str, section_code: str = "11450-4"):
    return ccda2fhir.convert(wrap_fragment(xml, section_code).encode(), "p1", report=True)


def valid(bundle, validate):
    for r in resources_of(bundle):
        assert validate(r) == [], r["resourceType"]


def con4(cond: dict) -> bool:
    """FHIR con-4: an abated Condition is inactive, resolved or remission."""
    abated = any(k.startswith(("abatement", "_abatement")) for k in cond)
    status = ((cond.get("clinicalStatus") or {}).get("coding") or [{}])[0].get("code")
    return not abated or status in ("inactive", "resolved", "remission")


def status_warnings(report) -> list:
    """The report's warnings about statuses and dates (not the profile claims a fragment's made-up
    participants cannot keep)."""
    return [i for i in report.issues if i.level == "warning" and "does not claim" not in i.reason]


def status(resource: dict) -> str:
    return resource["clinicalStatus"]["coding"][0]["code"]


# ---------------------------------------------------------------- problems
def problem(concern_status: str | None, obs_eff: str, status_value: str | None = None,
            concern_eff: str = '<effectiveTime><low value="20150101"/></effectiveTime>',
            holder: str = "concern") -> str:
    status_obs = "" if status_value is None else f"""
    <entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.6"/>
      <code code="33999-4" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
      <value xsi:type="CD" code="{status_value}" codeSystem="{SCT}"/>
    </observation></entryRelationship>"""
    obs = f"""<observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.4" extension="2015-08-01"/>
    <id root="1.2.3.4" extension="problem-1"/>
    <code code="55607006" codeSystem="{SCT}"/><statusCode code="completed"/>{obs_eff}
    <value xsi:type="CD" code="38341003" codeSystem="{SCT}" displayName="Hypertension"/>{status_obs}
  </observation>"""
    if holder == "procedure":   # a problem an EHR nests in a procedure (Vitera, chb-sample-ccdas)
        return f"""<entry><procedure classCode="PROC" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.14"/><id root="1.2.3.4" extension="proc-1"/>
  <code code="80146002" codeSystem="{SCT}"/><statusCode code="completed"/>
  <effectiveTime value="20150101"/>
  <entryRelationship typeCode="RSON">{obs}</entryRelationship></procedure></entry>"""
    sc = f'<statusCode code="{concern_status}"/>' if concern_status else ""
    return f"""<entry><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.3" extension="2015-08-01"/>
  <id root="1.2.3.4" extension="concern-1"/><code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
  {sc}{concern_eff}
  <entryRelationship typeCode="SUBJ">{obs}</entryRelationship></act></entry>"""


UNK_END = '<effectiveTime><low value="20150101"/><high nullFlavor="UNK"/></effectiveTime>'
NI_END = '<effectiveTime><low value="20150101"/><high nullFlavor="NI"/></effectiveTime>'
NO_END = '<effectiveTime><low value="20150101"/></effectiveTime>'
END = '<effectiveTime><low value="20150101"/><high value="20160301"/></effectiveTime>'


def the_condition(xml: str, validate, section_code: str = "11450-4"):
    bundle, report = convert(xml, section_code)
    valid(bundle, validate)
    (cond,) = resources_of(bundle, "Condition")
    assert con4(cond)
    return cond, report


def test_stated_active_wins_over_an_unknown_end(validate):
    """Problem Status 'Active' under an active concern, high nullFlavor UNK (Greenway
    26562_ExportSummary_CCDA, chb-sample-ccdas): active, and no abatement of any kind."""
    cond, report = the_condition(problem("active", UNK_END, "55561003"), validate)
    assert status(cond) == "active"
    assert not [k for k in cond if "abatement" in k]
    assert not status_warnings(report)


def test_active_concern_wins_over_an_unknown_end(validate):
    """No Problem Status; the concern act is active and nothing says otherwise (ONC cures
    samples, onc-content-validator-api): the unknown end does not make the problem inactive."""
    cond, _ = the_condition(problem("active", UNK_END), validate)
    assert status(cond) == "active" and not [k for k in cond if "abatement" in k]


def test_unknown_end_alone_is_resolved_with_its_date_absent(validate):
    """Nothing states a status: the IG's reading of high UNK ('resolved problem but unknown
    resolution date') applies."""
    cond, _ = the_condition(problem(None, UNK_END, concern_eff=""), validate)
    assert status(cond) == "resolved"
    assert cond["_abatementDateTime"] == {"extension": [{"url": DAR, "valueCode": "unknown"}]}


def test_an_active_problem_with_a_no_information_end_has_no_abatement(validate):
    """Problem Status 'Active', high nullFlavor NI (Cerner Transition_of_Care_Referral_Summary,
    chb-sample-ccdas): it was active with a data-absent _abatementDateTime, which breaks con-4."""
    cond, _ = the_condition(problem("active", NI_END, "55561003"), validate)
    assert status(cond) == "active" and not [k for k in cond if "abatement" in k]


def test_a_completed_concern_end_is_no_abatement_of_a_stated_active_problem(validate):
    """Problem Status 'Active' in a completed concern act with an end (amida-blue-button sense
    CCD.example): active; the concern's own span stays in concern-period, nothing is reported."""
    eff = '<effectiveTime><low value="20150101"/><high value="20170101"/></effectiveTime>'
    cond, report = the_condition(problem("completed", NO_END, "55561003", concern_eff=eff), validate)
    assert status(cond) == "active" and not [k for k in cond if "abatement" in k]
    assert cond["extension"] == [{"url": CONCERN_PERIOD, "valuePeriod": {"start": "2015-01-01",
                                                                         "end": "2017-01-01"}}]
    assert not status_warnings(report)


def test_an_end_date_the_stated_status_contradicts_is_reported(validate):
    """Problem Status 'Active' and an end date of the problem (tempResults_ValidatorBrokeETTGG,
    onc-reference-ccda-validator): the status wins, the date is reported, not an abatement."""
    cond, report = the_condition(problem("active", END, "55561003"), validate)
    assert status(cond) == "active" and not [k for k in cond if "abatement" in k]
    (warning,) = [i for i in report.issues if "2016-03-01" in i.reason]
    assert warning.level == "warning" and "con-4" in warning.reason


def test_a_problem_end_date_outranks_an_active_concern(validate):
    """No Problem Status, an active concern, an end date on the problem itself: C-CDA makes the
    observation's effectiveTime the definitive word on resolution."""
    cond, _ = the_condition(problem("active", END), validate)
    assert status(cond) == "inactive" and cond["abatementDateTime"] == "2016-03-01"


def test_stated_resolved_keeps_its_unknown_end(validate):
    """Problem Status 'Resolved' with high UNK (nurrahealth condition_with_abatement_unknown)."""
    cond, _ = the_condition(problem("completed", UNK_END, "413322009"), validate)
    assert status(cond) == "resolved" and "_abatementDateTime" in cond


def test_the_status_of_a_procedure_holding_a_problem_is_not_the_problems(validate):
    """A problem nested in a completed procedure (Vitera_CCDA_SMART_Sample, chb-sample-ccdas):
    'completed' is the procedure's status, not the problem's; it was 'inactive'."""
    cond, _ = the_condition(problem(None, NO_END, holder="procedure"), validate, "47519-4")
    assert status(cond) == "active"


# ---------------------------------------------------------------- allergies
def allergy(status_value: str, eff: str) -> str:
    return f"""<entry><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.30" extension="2015-08-01"/>
  <id root="1.2.3.4" extension="ac-1"/><code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
  <statusCode code="active"/><effectiveTime><low value="20150101"/></effectiveTime>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.7" extension="2014-06-09"/>
    <id root="1.2.3.4" extension="al-1"/><code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
    <statusCode code="completed"/>{eff}
    <value xsi:type="CD" code="416098002" codeSystem="{SCT}" displayName="Drug allergy"/>
    <participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT">
      <code code="7980" codeSystem="2.16.840.1.113883.6.88" displayName="Penicillin G"/>
    </playingEntity></participantRole></participant>
    <entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.28"/>
      <code code="33999-4" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
      <value xsi:type="CE" code="{status_value}" codeSystem="{SCT}"/>
    </observation></entryRelationship>
  </observation></entryRelationship></act></entry>"""


def test_allergy_stated_active_wins_and_keeps_its_end(validate):
    """Allergy Status 'Active' and an end date (Myra v6, chunli866-ccdatofhirsamples): the same
    precedence; the end stays in allergyintolerance-abatement, and the contradiction is reported."""
    bundle, report = convert(allergy("55561003", END), "48765-2")
    valid(bundle, validate)
    (a,) = resources_of(bundle, "AllergyIntolerance")
    assert status(a) == "active"
    assert {"url": ABATEMENT, "valueDateTime": "2016-03-01"} in a["extension"]
    assert [i.level for i in report.issues if "2016-03-01" in i.reason] == ["warning"]


def test_allergy_under_an_active_concern_with_an_unknown_end_stays_active(validate):
    bundle, _ = convert(allergy("55561003", UNK_END), "48765-2")
    (a,) = resources_of(bundle, "AllergyIntolerance")
    assert status(a) == "active" and not a.get("extension", [{}])[0].get("url") == ABATEMENT


# ---------------------------------------------------------------- immunizations
def immunization(negation: str | None, reason: str) -> str:
    neg = f' negationInd="{negation}"' if negation is not None else ""
    return f"""<entry><substanceAdministration classCode="SBADM" moodCode="EVN"{neg}>
  <templateId root="2.16.840.1.113883.10.20.22.4.52" extension="2015-08-01"/>
  <id root="e6f1ba43-c0ed-4b9b-9f12-f435d8ad8f92"/><statusCode code="completed"/>
  <effectiveTime value="19981215"/>
  <consumable><manufacturedProduct classCode="MANU"><templateId root="2.16.840.1.113883.10.20.22.4.54"/>
    <manufacturedMaterial><code code="103" codeSystem="2.16.840.1.113883.12.292"
      displayName="Tetanus and diphtheria toxoids - preservative free"/></manufacturedMaterial>
  </manufacturedProduct></consumable>{reason}
</substanceAdministration></entry>"""


REFUSAL = """<entryRelationship typeCode="RSON"><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.53"/><id root="1.2.3.4" extension="refusal-1"/>
  <code code="PATOBJ" codeSystem="2.16.840.1.113883.5.8" displayName="Patient Objection"/>
  <statusCode code="completed"/></observation></entryRelationship>"""
R11_REFUSAL = """<entryRelationship typeCode="RSON"><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.1.27"/><code nullFlavor="NA"/>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.1.28"/>
    <code code="PHILISOP" codeSystem="2.16.840.1.113883.5.8" displayName="Philosophical objection"/>
    <statusCode code="completed"/></observation></entryRelationship></act></entryRelationship>"""


@pytest.mark.parametrize("negation", ["false", None])
def test_a_refusal_reason_means_not_done_whatever_negation_says(negation, validate):
    """A refusal reason on an immunization whose negationInd is false (amida-blue-button sense
    CCD.example, line 1743) or absent: not-done with the reason, and the contradiction reported."""
    bundle, report = convert(immunization(negation, REFUSAL), "11369-6")
    valid(bundle, validate)
    (imm,) = resources_of(bundle, "Immunization")
    assert imm["status"] == "not-done"
    assert imm["statusReason"]["coding"][0]["code"] == "PATOBJ"
    (warning,) = status_warnings(report)
    assert "Refusal Reason (PATOBJ)" in warning.reason and "not-done" in warning.reason


def test_a_negated_refusal_is_not_done_without_a_contradiction(validate):
    bundle, report = convert(immunization("true", REFUSAL), "11369-6")
    (imm,) = resources_of(bundle, "Immunization")
    assert imm["status"] == "not-done" and imm["statusReason"]["coding"][0]["code"] == "PATOBJ"
    assert not status_warnings(report)


def test_an_r11_refusal_reason_is_a_refusal_too(validate):
    bundle, _ = convert(immunization("false", R11_REFUSAL), "11369-6")
    (imm,) = resources_of(bundle, "Immunization")
    assert imm["status"] == "not-done" and imm["statusReason"]["coding"][0]["code"] == "PHILISOP"


def test_an_immunization_without_refusal_is_completed(validate):
    bundle, report = convert(immunization("false", ""), "11369-6")
    (imm,) = resources_of(bundle, "Immunization")
    assert imm["status"] == "completed" and "statusReason" not in imm


NO_VACCINE = """<entry><substanceAdministration classCode="SBADM" moodCode="EVN" negationInd="false">
  <templateId root="2.16.840.1.113883.10.20.22.4.52"/><id root="1.2.3.4" extension="1222"/>
  <text>MMR</text><statusCode code="completed"/><effectiveTime value="20130121000000"/>
  <consumable><manufacturedProduct classCode="MANU"><templateId root="2.16.840.1.113883.10.20.22.4.54"/>
    <manufacturedMaterial><code code="998" displayName="no vaccine administered"
      codeSystem="2.16.840.1.113883.12.292" codeSystemName="CVX"><originalText>MMR</originalText></code>
    </manufacturedMaterial></manufacturedProduct></consumable>
</substanceAdministration></entry>"""


def test_a_vaccine_coded_no_vaccine_administered_was_not_given(validate):
    """Greenway's export (chb-sample-ccdas 26789_ExportSummary_CCDA.xml, line 701) records 'MMR'
    coded CVX 998 'no vaccine administered' as completed: MMR was not given, so not-done, the code
    and words kept, and the contradiction reported."""
    bundle, report = convert(NO_VACCINE, "11369-6")
    valid(bundle, validate)
    (imm,) = resources_of(bundle, "Immunization")
    assert imm["status"] == "not-done" and "statusReason" not in imm
    assert imm["vaccineCode"]["coding"][0]["code"] == "998" and imm["vaccineCode"]["text"] == "MMR"
    (warning,) = status_warnings(report)
    assert "998 (no vaccine administered)" in warning.reason and "statusCode is completed" in warning.reason


@needs_corpus
def test_greenways_no_vaccine_administered_entries_are_not_done():
    doc = CORPUS / "chb-sample-ccdas" / "Greenway Samples" / "26789_ExportSummary_CCDA.xml"
    immunizations = resources_of(ccda2fhir.convert_file(doc, "p1"), "Immunization")
    by_code = {i["vaccineCode"]["coding"][0]["code"]: i["status"] for i in immunizations}
    assert by_code["998"] == "not-done" and by_code["88"] == "completed"


# ---------------------------------------------------------------- nothing to report
def empty_list(bundle) -> dict:
    (lst,) = [x for x in resources_of(bundle, "List") if "emptyReason" in x]
    assert "entry" not in lst and lst["status"] == "current" and lst["mode"] == "snapshot"
    return lst


def empty_reason(lst: dict) -> list[tuple]:
    return [(c.get("system"), c["code"]) for c in lst["emptyReason"]["coding"]]


def narrative(ident: str, words: str) -> str:
    return f'<text><content ID="{ident}">{words}</content></text>'


MED_EXCLUDED = """<section><code code="10160-0" codeSystem="2.16.840.1.113883.6.1"/><title>Medications</title>
{text}<entry><substanceAdministration classCode="SBADM" moodCode="INT" negationInd="true">
  <templateId root="2.16.840.1.113883.10.20.22.4.16"/>
  <id extension="1898141" root="1.3.6.1.4.1.22812.11.0.100610.4.9"/>
  <text><reference value="#m1"/></text><statusCode code="completed"/>
  <effectiveTime xsi:type="IVL_TS"><low nullFlavor="UNK"/><high nullFlavor="UNK"/></effectiveTime>
  <consumable><manufacturedProduct classCode="MANU"><templateId root="2.16.840.1.113883.10.20.22.4.23"/>
    <manufacturedMaterial><code nullFlavor="OTH"><originalText><reference value="#m1"/></originalText>
      <translation code="410942007" codeSystem="2.16.840.1.113883.6.96" displayName="drug or medication"/>
    </code></manufacturedMaterial></manufacturedProduct></consumable>
</substanceAdministration></entry></section>"""


@pytest.mark.parametrize("words, reason", [("Medication excluded/not available", "unavailable"),
                                           ("No Known Hospital Discharge Medications", "nilknown"),
                                           ("No known medications", "nilknown")])
def test_a_negated_drug_or_medicament_order_is_no_order(words, reason, validate):
    """A negated 'Drug or medicament' order (Allscripts Sunrise, Allscripts MU2, ONC cures samples):
    it was a MedicationRequest 'completed' (doNotPerform: 'do not give any drug'); it is an empty
    List with the reason its words give, keeping id, code and words."""
    bundle, report = convert(MED_EXCLUDED.format(text=narrative("m1", words)))
    valid(bundle, validate)
    assert not resources_of(bundle, "MedicationRequest") and not resources_of(bundle, "MedicationStatement")
    lst = empty_list(bundle)
    assert empty_reason(lst) == [(EMPTY, reason)]
    assert lst["emptyReason"]["text"] == words
    assert lst["code"]["coding"][0]["code"] == "410942007"
    assert lst["identifier"] == [{"system": "urn:oid:1.3.6.1.4.1.22812.11.0.100610.4.9", "value": "1898141"}]
    assert lst["title"] == "Medications"
    (note,) = [i for i in report.issues if i.level == "info"]
    assert "not a MedicationRequest" in note.reason and note.line


def test_no_drug_therapy_prescribed_keeps_its_code_in_the_empty_reason(validate):
    """SNOMED 182849000 'No drug therapy prescribed' as the medication, not negated."""
    xml = """<entry><substanceAdministration classCode="SBADM" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.16"/><id root="1.2.3.4" extension="m-2"/>
  <statusCode code="completed"/><effectiveTime><low value="20200101"/></effectiveTime>
  <consumable><manufacturedProduct classCode="MANU"><manufacturedMaterial>
    <code code="182849000" codeSystem="2.16.840.1.113883.6.96" displayName="No drug therapy prescribed"/>
  </manufacturedMaterial></manufacturedProduct></consumable>
  <author><time value="20200102"/><assignedAuthor><id root="2.16.840.1.113883.4.6" extension="111"/>
    <assignedPerson><name><family>Doe</family></name></assignedPerson></assignedAuthor></author>
</substanceAdministration></entry>"""
    bundle, _ = convert(xml, "10160-0")
    valid(bundle, validate)
    assert not resources_of(bundle, "MedicationStatement")
    lst = empty_list(bundle)
    assert empty_reason(lst) == [(EMPTY, "nilknown"), ("http://snomed.info/sct", "182849000")]
    assert lst["date"] == "2020-01-02"
    assert lst["code"]["coding"][0]["code"] == "10160-0"          # the section's: its only code says 'nothing'
    assert [p for p in resources_of(bundle, "Provenance") if {"reference": f"List/{lst['id']}"} in p["target"]]


NO_DRUG_THERAPY = """<entry><substanceAdministration classCode="SBADM" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.16"/><id root="1.2.3.4" extension="m-2"/>
  <statusCode code="completed"/><effectiveTime><low value="20200101"/></effectiveTime>
  <consumable><manufacturedProduct classCode="MANU"><manufacturedMaterial>
    <code code="182849000" codeSystem="2.16.840.1.113883.6.96" displayName="No drug therapy prescribed"/>
  </manufacturedMaterial></manufacturedProduct></consumable></substanceAdministration></entry>"""
LISINOPRIL = """<entry><substanceAdministration classCode="SBADM" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.16"/><id root="1.2.3.4" extension="m-3"/>
  <statusCode code="active"/><effectiveTime xsi:type="IVL_TS"><low value="20200101"/></effectiveTime>
  <consumable><manufacturedProduct classCode="MANU"><templateId root="2.16.840.1.113883.10.20.22.4.23"/>
    <manufacturedMaterial><code code="314076" codeSystem="2.16.840.1.113883.6.88"
      displayName="lisinopril 10 MG Oral Tablet"/></manufacturedMaterial></manufacturedProduct></consumable>
</substanceAdministration></entry>"""


def contradictions(report) -> list:
    return [i for i in report.issues if "yet its other entries made" in i.reason]


def test_nothing_to_report_beside_real_entries_is_reported(validate):
    """'No Known Problems' beside nine problems (onc-reference-ccda-validator
    tempResults_ValidatorBrokeETTGG.xml, line 2336): the section contradicts itself; the List and
    the statements are both kept and the report says so, once, at the 'nothing' entry's line."""
    bundle, report = convert(NO_DRUG_THERAPY + LISINOPRIL, "10160-0")
    valid(bundle, validate)
    assert empty_list(bundle) and len(resources_of(bundle, "MedicationStatement")) == 1
    (said,) = contradictions(report)
    assert said.level == "warning" and "made 1 resource(s)" in said.reason and said.line
    _, alone = convert(NO_DRUG_THERAPY, "10160-0")
    assert contradictions(alone) == []
    _, real = convert(LISINOPRIL, "10160-0")
    assert contradictions(real) == []


@needs_corpus
def test_no_known_problems_beside_problems_in_the_corpus_is_reported():
    doc = CORPUS / "onc-reference-ccda-validator" / "src" / "test" / "resources" / "tempResults_ValidatorBrokeETTGG.xml"
    _, report = ccda2fhir.convert_with_report(doc.read_bytes(), "p1")
    said = {(i.section.split(" ")[0], i.line) for i in contradictions(report)}
    assert ("2.16.840.1.113883.10.20.22.2.5", 2336) in said


def test_a_negated_generic_medication_history_stays_not_taken(validate):
    """The IG's negation rule already says 'nothing' for a medication history: No Medications (HL7
    example) stays a MedicationStatement not-taken (tests/test_medications.py)."""
    path = FIXTURES / "hl7-c-cda-examples" / "Medications" / "No Medications" / "No Medications(C-CDA2.1).xml"
    bundle, report = convert_example(path, "10160-0", report=True)
    (ms,) = resources_of(bundle, "MedicationStatement")
    assert ms["status"] == "not-taken" and not resources_of(bundle, "List")


RESULT_EXCLUDED = """<section><code code="30954-2" codeSystem="2.16.840.1.113883.6.1"/><title>Results</title>
<text><content ID="r1">Result excluded/not available</content></text>
<entry><organizer classCode="BATTERY" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.1"/><id extension="18981711" root="1.3.6.1.4.1.22812.11.0.100610.4.5"/>
  <code nullFlavor="UNK"/><statusCode code="completed"/><effectiveTime value="00010101000000"/>
  <component><observation classCode="OBS" moodCode="EVN" negationInd="true">
    <templateId root="2.16.840.1.113883.10.20.22.4.2"/><id extension="1898171" root="1.3.6.1.4.1.22812.11.0.100610.4.5"/>
    <code nullFlavor="UNK"/><text><reference value="#r1"/></text><statusCode code="completed"/>
    <effectiveTime nullFlavor="NA"/><value xsi:type="ST" nullFlavor="UNK"/>
  </observation></component>{more}
</organizer></entry></section>"""


def test_results_excluded_is_no_result(validate):
    """A panel whose only result says 'Result excluded/not available' (Allscripts Sunrise,
    chb-sample-ccdas): it was an Observation 'final' in a DiagnosticReport; one empty List,
    keeping both ids."""
    bundle, _ = convert(RESULT_EXCLUDED.format(more=""))
    valid(bundle, validate)
    assert not resources_of(bundle, "Observation") and not resources_of(bundle, "DiagnosticReport")
    lst = empty_list(bundle)
    assert empty_reason(lst) == [(EMPTY, "unavailable")]
    assert [i["value"] for i in lst["identifier"]] == ["18981711", "1898171"]
    assert lst["code"]["coding"][0]["code"] == "30954-2"


def test_a_panel_with_a_real_result_is_a_report(validate):
    more = """<component><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.2"/><id root="1.2.3.4" extension="glu"/>
    <code code="2345-7" codeSystem="2.16.840.1.113883.6.1" displayName="Glucose"/>
    <statusCode code="completed"/><effectiveTime value="20200101"/>
    <value xsi:type="PQ" value="95" unit="mg/dL"/></observation></component>"""
    bundle, _ = convert(RESULT_EXCLUDED.format(more=more))
    assert resources_of(bundle, "DiagnosticReport")
    assert any(o["code"]["coding"][0]["code"] == "2345-7" for o in resources_of(bundle, "Observation"))


def test_goals_excluded_is_no_goal(validate):
    """'Plan Of Care Entry excluded/not available' as a negated goal (Allscripts Sunrise): it was a
    Goal 'proposed'."""
    xml = """<section><code code="18776-5" codeSystem="2.16.840.1.113883.6.1"/><title>Plan of Care</title>
<text><content ID="g1">Plan Of Care Entry excluded/not available</content></text>
<entry><observation classCode="OBS" moodCode="GOL" negationInd="true">
  <templateId root="2.16.840.1.113883.10.20.22.4.44"/><id extension="1" root="1.2.3.4.5"/>
  <code nullFlavor="UNK"><originalText><reference value="#g1"/></originalText></code>
  <statusCode code="new"/></observation></entry></section>"""
    bundle, _ = convert(xml)
    valid(bundle, validate)
    assert not resources_of(bundle, "Goal")
    assert empty_reason(empty_list(bundle)) == [(EMPTY, "unavailable")]


def test_a_not_asked_allergy_is_no_allergy(validate):
    """An allergy observation nullFlavored NASK, 'No allergy data is applicable' (Partners
    LMR1TEST, chb-sample-ccdas): it was an active AllergyIntolerance 'Allergy to substance'."""
    xml = """<section><code code="48765-2" codeSystem="2.16.840.1.113883.6.1"/><title>Allergies</title>
<text><content ID="a1">No allergy data is applicable</content></text>
<entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.30"/>
  <id root="1.3.6.1.4.1.16517" extension="1"/><code code="48765-2" codeSystem="2.16.840.1.113883.6.1"/>
  <statusCode code="active"/><effectiveTime><low value="20140212130114"/></effectiveTime>
  <entryRelationship typeCode="SUBJ"><observation nullFlavor="NASK" classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.7"/><id root="1.3.6.1.4.1.16517" extension="1"/>
    <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/><statusCode code="completed"/>
    <effectiveTime><low value="20140212130114"/></effectiveTime>
    <value xsi:type="CD" code="419199007" codeSystem="2.16.840.1.113883.6.96">
      <originalText><reference value="#a1"/></originalText></value>
  </observation></entryRelationship></act></entry></section>"""
    bundle, _ = convert(xml)
    valid(bundle, validate)
    assert not resources_of(bundle, "AllergyIntolerance")
    lst = empty_list(bundle)
    assert empty_reason(lst) == [(EMPTY, "notasked")]
    assert lst["date"] == "2014-02-12"


def test_no_known_allergies_without_negation_is_the_no_known_allergy_code(validate):
    """'No Known Allergies' said in words on an allergy type, without negationInd: the US Core
    'no known allergy' AllergyIntolerance the IG makes of the negated form, not an allergy to
    'Allergy to substance'."""
    xml = """<section><code code="48765-2" codeSystem="2.16.840.1.113883.6.1"/><title>Allergies</title>
<text><content ID="a1">No Known Allergies</content></text>
<entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.30"/>
  <id root="1.2.3.4" extension="c"/><code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
  <statusCode code="active"/>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.7"/><id root="1.2.3.4" extension="o"/>
    <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/><text><reference value="#a1"/></text>
    <statusCode code="completed"/>
    <value xsi:type="CD" code="419199007" codeSystem="2.16.840.1.113883.6.96" displayName="Allergy to substance"/>
    <participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT">
      <code nullFlavor="NA"/></playingEntity></participantRole></participant>
  </observation></entryRelationship></act></entry></section>"""
    bundle, _ = convert(xml)
    valid(bundle, validate)
    (a,) = resources_of(bundle, "AllergyIntolerance")
    assert a["code"]["coding"][0]["code"] == "716186003"
    assert not resources_of(bundle, "List")


@pytest.mark.parametrize("name, section, kind", [
    # an allergy to an unnamed food (VA C32 sample, amida-blue-button)
    ("unnamed allergy", "48765-2", "AllergyIntolerance"),
    # 'Sexual orientation: Not on file' names its question (eICR sample, chunli866)
    ("question answered not on file", "29762-2", "Observation"),
])
def test_statements_that_name_something_stay_what_they_are(name, section, kind, validate):
    xml = {
        "unnamed allergy": """<entry><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.1.18"/><templateId root="2.16.840.1.113883.10.20.1.28"/>
  <id root="1.2.3.4" extension="va-1"/><code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
  <statusCode code="completed"/>
  <value xsi:type="CD" code="418471000" codeSystem="2.16.840.1.113883.6.96"
    displayName="Propensity to adverse reactions to food"/>
  <participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT">
    <code nullFlavor="UNK"><originalText>Coded Allergy Name Not Available</originalText></code>
  </playingEntity></participantRole></participant></observation></entry>""",
        "question answered not on file": """<entry><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.38"/><id root="1.2.3.4" extension="so-1"/>
  <code code="76690-7" codeSystem="2.16.840.1.113883.6.1" displayName="Sexual orientation"/>
  <statusCode code="completed"/><effectiveTime value="20200101"/>
  <value xsi:type="CD" nullFlavor="OTH"><originalText>Not on file</originalText></value>
</observation></entry>"""}[name]
    bundle, _ = convert(xml, section)
    assert resources_of(bundle, kind) and not resources_of(bundle, "List")


def test_the_data_file_is_consistent():
    """Every phrase compiles and matches its own example, every reason is a list-empty-reason,
    every template named exists."""
    from ccda2fhir.map.engine import templates_dir
    from ccda2fhir.map.datatypes.terminology import data_file
    data = data_file("nothing_to_report.json")
    reasons = {"nilknown", "notasked", "withheld", "unavailable", "notstarted", "closed"}
    assert set(data["empty_reasons"]) <= reasons and set(data["null_flavors"].values()) <= reasons
    for p in data["phrases"]:
        assert p["reason"] in reasons
        for example in filter(None, p.get("_example", "").split("; ")):
            assert re.match(p["match"], example.lower().rstrip(".")), p
    for c in data["nothing_codes"]:
        assert c["reason"] in reasons and c["system"].startswith("http")
    for t in data["templates"] + data["negation_kept"] + data["nilknown_kept"]:
        assert (templates_dir() / f"{t}.json.j2").is_file(), t


# ---------------------------------------------------------------- narrative pointers
def ed_result(pointer: str) -> str:
    return f"""<section><code code="30954-2" codeSystem="2.16.840.1.113883.6.1"/><title>Results</title>
<text><content ID="Fndng3">No acute cardiopulmonary process.</content><content ID="empty"></content></text>
<entry><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.6.2.12"/><id root="1.2.3.4" extension="imp-1"/>
  <code code="121073" codeSystem="1.2.840.10008.2.16.4" displayName="Impression"/>
  <effectiveTime value="20060828170821"/>
  <value xsi:type="ED"><reference value="{pointer}"/></value></observation></entry></section>"""


def test_a_narrative_pointer_is_resolved_to_its_text(validate):
    """Diagnostic Imaging Report (HL7 example): the Impression's value is #Fndng3."""
    bundle, _ = convert(ed_result("#Fndng3"))
    (obs,) = resources_of(bundle, "Observation")
    assert obs["valueString"] == "No acute cardiopulmonary process."


def test_a_pointer_to_no_text_is_left_out_and_reported(validate):
    """CCDA_ReferencedValuesSample_v1 (amida-blue-button): the value points at an empty
    <content ID="problem24"/>; it was written as valueString '#problem24'."""
    bundle, report = convert(ed_result("#empty"))
    valid(bundle, validate)
    (obs,) = resources_of(bundle, "Observation")
    assert "valueString" not in obs and "#empty" not in str(bundle)
    assert [i.level for i in report.issues if "#empty" in i.reason] == ["partial"]


# ---------------------------------------------------------------- the corpus
def _strings(value, out: list) -> list:
    if isinstance(value, dict):
        for k, v in value.items():
            if k != "div":
                _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)
    elif isinstance(value, str):
        out.append(value)
    return out


# the element that names what a clinical resource is about
_NAMED_BY = {"Condition": "code", "AllergyIntolerance": "code", "Procedure": "code", "Observation": "code",
             "DiagnosticReport": "code", "ServiceRequest": "code", "Immunization": "vaccineCode",
             "MedicationStatement": "medicationCodeableConcept", "MedicationRequest": "medicationCodeableConcept",
             "Goal": "description", "Encounter": "type", "CommunicationRequest": "payload"}


@needs_corpus
def test_corpus_status_negation_and_pointers():
    """Every document of ../shared/corpus: no output string starting with '#' is a narrative
    pointer of its source (only the source's own words, such as an address line '#225');
    every Condition satisfies con-4; every problem whose Problem Status says Active is an active
    Condition (or an empty List, when it says there is nothing); no clinical resource is named by
    words that say there is nothing to report (the data file's strong phrases)."""
    from lxml import etree
    from ccda2fhir.map.datatypes.terminology import data_file
    strong = [re.compile(p["match"]) for p in data_file("nothing_to_report.json")["phrases"] if p["strong"]]
    v3 = "{urn:hl7-org:v3}"
    pointers, con4s, stated, nothing = [], [], [], []
    checked = 0
    for path in corpus_documents():
        raw = path.read_bytes()
        try:
            root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
            bundle = ccda2fhir.convert(raw, "p1")
        except (etree.XMLSyntaxError, ccda2fhir.ConversionError):
            continue
        checked += 1
        name = str(path.relative_to(CORPUS))
        source_pointers = {r.get("value").strip() for r in root.iter(f"{v3}reference")
                           if (r.get("value") or "").strip().startswith("#")}
        hashed = {x for x in _strings(bundle, []) if x.startswith("#")}
        # a '#...' string is the source's own words ('#225', a suite number), never a pointer
        literal = {" ".join((el.text or "").split()) for el in root.iter() if isinstance(el.tag, str)} | \
            {" ".join(v.split()) for el in root.iter() if isinstance(el.tag, str)
             for k, v in el.attrib.items() if not (k == "value" and el.tag == f"{v3}reference")}
        leaked = {x for x in hashed if x in source_pointers or " ".join(x.split()) not in literal}
        if leaked:
            pointers.append((name, sorted(leaked)[:3]))
        resources = resources_of(bundle)
        by_identifier = {}
        for r in resources:
            idents = r.get("identifier", [])
            for i in idents if isinstance(idents, list) else [idents]:
                by_identifier.setdefault(i.get("value"), []).append(r)
        for r in resources:
            if r["resourceType"] == "Condition" and not con4(r):
                con4s.append((name, r["id"]))
            named = r.get(_NAMED_BY.get(r["resourceType"], ""))
            for w in filter(None, [c.get("text") for c in (named if isinstance(named, list) else [named])
                                   if isinstance(c, dict)]):
                if any(p.match(" ".join(w.split()).lower().rstrip(".:; ")) for p in strong):
                    nothing.append((name, r["resourceType"], w))
        for obs in root.iter(f"{v3}observation"):
            if "2.16.840.1.113883.10.20.22.4.4" not in {t.get("root") for t in obs.findall(f"{v3}templateId")}:
                continue
            st = obs.find(f"{v3}entryRelationship/{v3}observation/{v3}value[@code='55561003']")
            ii = obs.find(f"{v3}id")
            if st is None or ii is None or not ii.get("extension"):
                continue
            made = [r for r in by_identifier.get(ii.get("extension"), [])
                    if r["resourceType"] in ("Condition", "List")]
            if made and not any(r["resourceType"] == "List" or status(r) == "active" for r in made):
                stated.append((name, ii.get("extension")))
    assert checked > 300
    assert pointers == [], pointers[:5]
    assert con4s == [], con4s[:5]
    assert stated == [], stated[:5]
    assert nothing == [], nothing[:5]
