"""Issue 7 section 3: status and negation follow the source's explicit statement.

- a stated status (Problem / Allergy Status Observation, a concern act's statusCode) wins over an
  inference from an unknown end; an active Condition carries no abatement (FHIR con-4);
- a refused immunization is not-done, whatever negationInd says.

Fragments are written here after patterns found in ../shared/corpus (each test names the
document it follows).
"""
from __future__ import annotations

import pytest

import ccda2fhir
from tests.conftest import resources_of
from tests.support.wrap import wrap_fragment

SCT = "2.16.840.1.113883.6.96"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
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
    assert not [i for i in report.issues if i.level == "warning"]


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
    assert not [i for i in report.issues if i.level == "warning"]


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
    (warning,) = [i for i in report.issues if i.level == "warning"]
    assert "Refusal Reason (PATOBJ)" in warning.reason and "not-done" in warning.reason


def test_a_negated_refusal_is_not_done_without_a_contradiction(validate):
    bundle, report = convert(immunization("true", REFUSAL), "11369-6")
    (imm,) = resources_of(bundle, "Immunization")
    assert imm["status"] == "not-done" and imm["statusReason"]["coding"][0]["code"] == "PATOBJ"
    assert not [i for i in report.issues if i.level == "warning"]


def test_an_r11_refusal_reason_is_a_refusal_too(validate):
    bundle, _ = convert(immunization("false", R11_REFUSAL), "11369-6")
    (imm,) = resources_of(bundle, "Immunization")
    assert imm["status"] == "not-done" and imm["statusReason"]["coding"][0]["code"] == "PHILISOP"


def test_an_immunization_without_refusal_is_completed(validate):
    bundle, report = convert(immunization("false", ""), "11369-6")
    (imm,) = resources_of(bundle, "Immunization")
    assert imm["status"] == "completed" and "statusReason" not in imm
