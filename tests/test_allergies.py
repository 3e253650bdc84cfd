"""Allergies -> US Core AllergyIntolerance (C-CDA on FHIR CF-allergies).

Every HL7 C-CDA example of the Allergies folder (CC0, copied under fixtures) is converted
and its IG-mapped fields are checked against the values in the XML; small fragments written
here cover the R1.1 / HITSP shapes and the branches the examples do not reach. Corpus
documents (HL7's Myra Jones with its recommended output, the whole corpus) run when present.
"""
from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

import ccda2fhir
from conftest import CORPUS, FIXTURES, needs_corpus, resolve, resources_of
from tests.support.wrap import wrap_fragment
from tests.support.fragments import strip_lead

EXAMPLES = FIXTURES / "hl7-c-cda-examples" / "Allergies"
PATIENT = "test-patient"
ALTERNATE_CODES = "http://hl7.org/fhir/StructureDefinition/alternate-codes"
SCT = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
PROFILE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-allergyintolerance"
ABATEMENT = "http://hl7.org/fhir/StructureDefinition/allergyintolerance-abatement"
DAR = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
CONCERN_PERIOD = "http://ccda2fhir.org/fhir/StructureDefinition/concern-period"


# ---------------------------------------------------------------- helpers
def _strip_prolog(text: str) -> str:
    """The HL7 example files open with comments before their <section>/<component>."""
    return strip_lead(text)


def convert_xml(xml: str, section_code: str = "48765-2"):
    return ccda2fhir.convert(wrap_fragment(_strip_prolog(xml), section_code).encode(), PATIENT,
                             report=True)


def convert_example(folder: str):
    path = next((EXAMPLES / folder).glob("*.xml"))
    return convert_xml(path.read_text(encoding="utf-8-sig"))


def fhir_model_check(resource: dict) -> None:
    """Second validator: the fhir.resources R4B model (AllergyIntolerance is as in R4)."""
    module = importlib.import_module(f"fhir.resources.R4B.{resource['resourceType'].lower()}")
    getattr(module, resource["resourceType"]).model_validate(resource)


def allergies(bundle, validate) -> list[dict]:
    """The AllergyIntolerances of a Bundle, each checked against the schema, the model and
    the contract this area promises (profile, patient, references resolving)."""
    found = resources_of(bundle, "AllergyIntolerance")
    for a in found:
        assert validate(a) == []
        fhir_model_check(a)
        assert a["meta"]["profile"] == [PROFILE]
        assert a["patient"] == {"reference": f"Patient/{PATIENT}"}
        for field in ("recorder", "asserter", "encounter"):
            if field in a:
                resolve(bundle, a[field])
        assert "code" in a
    for r in bundle["entry"]:
        assert validate(r["resource"]) == []
    return found


def only_allergy(bundle, validate) -> dict:
    found = allergies(bundle, validate)
    assert len(found) == 1, [a.get("code") for a in found]
    return found[0]


def clinical(a) -> str | None:
    cs = a.get("clinicalStatus")
    if cs is None:
        return None
    assert cs["coding"][0]["system"] == CLINICAL
    return cs["coding"][0]["code"]


def verification(a) -> str | None:
    vs = a.get("verificationStatus")
    if vs is None:
        return None
    assert vs["coding"][0]["system"] == VERIFICATION
    return vs["coding"][0]["code"]


def codings(cc) -> list[tuple]:
    return [(c.get("system"), c["code"]) for c in cc.get("coding", [])]


def no_issues_in_allergies(report) -> None:
    bad = [i for i in report.issues if i.level in ("unmapped", "partial", "error")]
    assert bad == [], bad


def practitioner_family(bundle, ref) -> str:
    prac = resolve(bundle, ref)
    assert prac["resourceType"] == "Practitioner"
    return prac["name"][0]["family"]


# ---------------------------------------------------------------- the HL7 examples
def test_allergy_to_food_egg(validate):
    bundle, report = convert_example("Allergy to food egg")
    no_issues_in_allergies(report)
    a = only_allergy(bundle, validate)
    assert a["identifier"] == [{"system": "urn:ietf:rfc:3986",
                                "value": "urn:uuid:0fffb34f-c1e0-47c2-92af-c414a3ff21ec"}]
    assert clinical(a) == "active"
    assert "verificationStatus" not in a
    assert a["type"] == "allergy"                       # 414285001 Allergy to food
    assert a["category"] == ["food"]
    assert a["code"] == {"coding": [{"system": SCT, "code": "102263004", "display": "Eggs (edible)"}],
                         "text": "Egg"}                 # originalText -> #allergy5allergen
    assert a["onsetDateTime"] == "1998"
    assert a["recordedDate"] == "2014-01-04"
    assert practitioner_family(bundle, a["recorder"]) == "Seven"
    # no abatement; the concern act's effectiveTime (when it was authored in the chart) is kept
    assert a["extension"] == [{"url": CONCERN_PERIOD, "valuePeriod": {"start": "2014-01-04T12:35:06-05:00"}}]
    assert a["reaction"] == [{
        "manifestation": [{"coding": [{"system": SCT, "code": "247472004", "display": "Wheal"}],
                           "text": "Wheal"}],
        "description": "Hives",                         # the reaction's own text (#allergy5reaction)
        "onset": "1998",
        "severity": "moderate",                         # 6736007
        # the Severity Observation's own coding, beside the FHIR code (HL7 alternate-codes)
        "_severity": {"extension": [{"url": ALTERNATE_CODES, "valueCodeableConcept": {
            "coding": [{"system": SCT, "code": "6736007", "display": "Moderate"}], "text": "Moderate"}}]},
    }]
    # the allergy-type concept (419199007 Allergy to substance) is kept beside the category it gave
    assert a["_category"] == [{"extension": [{"url": ALTERNATE_CODES, "valueCodeableConcept": {
        "coding": [{"system": SCT, "code": "414285001", "display": "Allergy to food (finding)"}],
        "text": "Allergy to food (finding)"}}]}]


def test_allergy_to_latex_propensity_has_no_type_or_category(validate):
    bundle, report = convert_example("Allergy to latex")
    no_issues_in_allergies(report)
    a = only_allergy(bundle, validate)
    # 418038007 Propensity to adverse reactions to substance: unmatched in both IG maps
    assert "type" not in a and "category" not in a
    assert codings(a["code"]) == [(SCT, "111088007")]
    assert a["code"]["text"] == "Latex"
    assert a["onsetDateTime"] == "2014-01-03"
    assert [r["severity"] for r in a["reaction"]] == ["severe"]
    assert codings(a["reaction"][0]["manifestation"][0]) == [(SCT, "39579001")]
    assert a["reaction"][0]["onset"] == "2014-01-03"


def test_allergy_to_codeine_two_reactions_and_informant(validate):
    bundle, report = convert_example("Allergy to specific drug Codeine")
    no_issues_in_allergies(report)
    a = only_allergy(bundle, validate)
    assert a["type"] == "intolerance"                  # 59037007 Intolerance to drug
    assert a["category"] == ["medication"]
    assert a["code"] == {"coding": [{"system": RXNORM, "code": "2670", "display": "codeine"}],
                         "text": "Codeine"}
    assert a["onsetDateTime"] == "2010-03-15"
    assert a["recordedDate"] == "2014-01-03T10:25:00-05:00"   # keeps the offset
    assert [(r["onset"], r["severity"]) for r in a["reaction"]] == [("2012-01-29", "severe"),
                                                                   ("2010-03-15", "mild")]
    assert all(codings(r["manifestation"][0]) == [(SCT, "422587007")] for r in a["reaction"])
    assert [r["manifestation"][0]["text"] for r in a["reaction"]] == ["Nausea", "Nausea"]
    # the informant (an assignedEntity) is the asserter
    assert practitioner_family(bundle, a["asserter"]) == "One"
    assert practitioner_family(bundle, a["recorder"]) == "Seven"


def test_allergy_to_penicillin_rxnorm(validate):
    bundle, report = convert_example("Allergy to specific drug Penicillin")
    no_issues_in_allergies(report)
    a = only_allergy(bundle, validate)
    assert (a["type"], a["category"]) == ("allergy", ["medication"])   # 416098002
    assert a["code"] == {"coding": [{"system": RXNORM, "code": "7980", "display": "penicillin G"}],
                         "text": "Penicillin"}
    assert a["onsetDateTime"] == "2006"
    assert a["reaction"][0]["severity"] == "severe"
    assert a["reaction"][0]["onset"] == "2006"
    # the reaction's text (#allergy2reaction) says what the manifestation says: no description
    assert "description" not in a["reaction"][0]


def test_allergy_to_drug_class_penicillins(validate):
    bundle, report = convert_example("Allergy to specific drug class Penicillins")
    no_issues_in_allergies(report)
    a = only_allergy(bundle, validate)
    assert a["code"] == {"coding": [{"system": SCT, "code": "764146007", "display": "Penicillin"}],
                         "text": "Penicillins (drug class)"}
    assert (a["type"], a["category"]) == ("allergy", ["medication"])
    assert clinical(a) == "active"


def test_free_text_allergy_to_clinical_trial_drug(validate):
    bundle, report = convert_example("Free-text Allergy to clinical trial drug")
    no_issues_in_allergies(report)
    a = only_allergy(bundle, validate)
    # playingEntity/code nullFlavor OTH: its NCI translation and its originalText carry it
    assert a["code"] == {"coding": [{"system": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
                                     "code": "C95733", "display": "talazoparib"}],
                         "text": "talazoparib"}
    # effectiveTime/high -> abatement extension, and the allergy is resolved although its concern is active
    assert a["extension"] == [{"url": ABATEMENT, "valueDateTime": "2018-04-01"}]
    assert clinical(a) == "resolved"
    assert a["onsetDateTime"] == "2018-04-01"
    # observation id first (IG), then the id of the concern act that holds only this allergy
    assert a["identifier"] == [
        {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:4d3ac7ac-0c32-8712-b3fe-c2b268808259"},
        {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:4a2ac5fc-0c85-4223-baee-c2e254803974"}]
    assert a["recordedDate"] == "2018-04-01"
    r = a["reaction"][0]
    assert (r["onset"], r["severity"]) == ("2018-04-01", "moderate")   # effectiveTime/@value
    assert r["manifestation"][0] == {"coding": [{"system": SCT, "code": "267036007", "display": "Dyspnea"}],
                                     "text": "Dyspnea"}


def test_no_known_allergies(validate):
    bundle, report = convert_example("No Known Allergies")
    no_issues_in_allergies(report)
    a = only_allergy(bundle, validate)
    # negationInd + playingEntity/code nullFlavor NA + value 419199007 -> IG NoKnownAllergies
    assert codings(a["code"]) == [(SCT, "716186003")]
    assert a["code"]["text"] == "No Known Allergies"
    assert "verificationStatus" not in a                # the code itself says 'no known'
    assert clinical(a) == "active"
    assert "onsetDateTime" not in a                     # low nullFlavor NI
    assert "category" not in a and "reaction" not in a
    assert a["recordedDate"] == "2010-01-03T09:08:00-05:00"


def test_no_known_medication_allergies(validate):
    bundle, report = convert_example("No Known Medication Allergies")
    no_issues_in_allergies(report)
    a = only_allergy(bundle, validate)
    assert codings(a["code"]) == [(SCT, "409137002")]
    assert a["category"] == ["medication"]
    assert "verificationStatus" not in a
    assert a["recordedDate"] == "2010-01-03"            # the observation's author, not the act's
    assert "onsetDateTime" not in a


def test_no_information_section_makes_no_allergy(validate):
    bundle, report = convert_example("No Section Information Allergies")
    assert resources_of(bundle, "AllergyIntolerance") == []
    no_issues_in_allergies(report)


def test_not_allergic_to_peanuts_is_refuted(validate):
    bundle, report = convert_example("Not Allergic to Peanuts")
    no_issues_in_allergies(report)
    a = only_allergy(bundle, validate)
    # negated with a substance that has no 'no known' concept: the substance, refuted
    assert verification(a) == "refuted"
    assert clinical(a) == "active"                      # FHIR R4 ait-1
    assert codings(a["code"]) == [(SCT, "762952008")]
    assert (a["type"], a["category"]) == ("allergy", ["food"])
    assert a["onsetDateTime"] == "2006"


def test_withdrawn_epinephrine_reaction_at_concern_level(validate):
    bundle, report = convert_example("Withdrawn Allergy to specific drug Epinephrine")
    no_issues_in_allergies(report)
    a = only_allergy(bundle, validate)
    assert codings(a["code"]) == [(RXNORM, "3992")]
    assert a["code"]["text"] == "Epineprhine"          # (sic) the narrative's spelling
    # one reaction in the observation, one beside it in the concern act: both are reactions
    assert [(codings(r["manifestation"][0])[0][1], r["severity"]) for r in a["reaction"]] == [
        ("25569003", "severe"), ("26079004", "moderate")]
    assert [r["manifestation"][0]["text"] for r in a["reaction"]] == ["Ventricular tachycardia", "Tremor"]


def test_every_example_is_used():
    folders = {p.parent.name for p in EXAMPLES.rglob("*.xml")}
    tested = {"Allergy to food egg", "Allergy to latex", "Allergy to specific drug Codeine",
              "Allergy to specific drug Penicillin", "Allergy to specific drug class Penicillins",
              "Free-text Allergy to clinical trial drug", "No Known Allergies",
              "No Known Medication Allergies", "No Section Information Allergies",
              "Not Allergic to Peanuts", "Withdrawn Allergy to specific drug Epinephrine"}
    assert folders == tested


# ---------------------------------------------------------------- fragments written here
def concern(inner: str, status: str = "active", extra: str = "", act_id: str = "c0ffee00-0000-4000-8000-000000000001") -> str:
    return f"""<entry><act classCode="ACT" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.30" extension="2015-08-01"/>
      <id root="{act_id}"/>
      <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
      <statusCode code="{status}"/>
      <effectiveTime><low value="20200102"/></effectiveTime>
      <entryRelationship typeCode="SUBJ">{inner}</entryRelationship>{extra}
    </act></entry>"""


def allergy_obs(body: str = "", value: str = "416098002", substance: str | None = None,
                negated: bool = False, eff: str = '<low value="20190304"/>', status: str = "completed",
                obs_id: str = "0b5e0000-0000-4000-8000-000000000002") -> str:
    if substance is None:
        substance = '<code code="7980" codeSystem="2.16.840.1.113883.6.88" displayName="penicillin G"/>'
    neg = ' negationInd="true"' if negated else ""
    return f"""<observation classCode="OBS" moodCode="EVN"{neg}>
      <templateId root="2.16.840.1.113883.10.20.22.4.7" extension="2014-06-09"/>
      <id root="{obs_id}"/>
      <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
      <statusCode code="{status}"/>
      <effectiveTime>{eff}</effectiveTime>
      <value xsi:type="CD" code="{value}" codeSystem="2.16.840.1.113883.6.96"/>
      <participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT">
        {substance}</playingEntity></participantRole></participant>
      {body}
    </observation>"""


def status_obs(code: str) -> str:
    return f"""<entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.28" extension="2019-06-20"/>
      <code code="33999-4" codeSystem="2.16.840.1.113883.6.1"/>
      <statusCode code="completed"/>
      <value xsi:type="CE" code="{code}" codeSystem="2.16.840.1.113883.6.96"/>
    </observation></entryRelationship>"""


def severity_obs(code: str) -> str:
    return f"""<entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.8" extension="2014-06-09"/>
      <code code="SEV" codeSystem="2.16.840.1.113883.5.4"/>
      <statusCode code="completed"/>
      <value xsi:type="CD" code="{code}" codeSystem="2.16.840.1.113883.6.96"/>
    </observation></entryRelationship>"""


def reaction_obs(code: str, inner: str = "", low: str = "20190305") -> str:
    return f"""<entryRelationship typeCode="MFST" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.9" extension="2014-06-09"/>
      <id root="7eac0000-0000-4000-8000-000000000003"/>
      <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
      <statusCode code="completed"/>
      <effectiveTime><low value="{low}"/></effectiveTime>
      <value xsi:type="CD" code="{code}" codeSystem="2.16.840.1.113883.6.96"/>
      {inner}
    </observation></entryRelationship>"""


def criticality_obs(code: str) -> str:
    return f"""<entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.145"/>
      <code code="82606-5" codeSystem="2.16.840.1.113883.6.1"/>
      <statusCode code="completed"/>
      <value xsi:type="CD" code="{code}" codeSystem="2.16.840.1.113883.5.1063"/>
    </observation></entryRelationship>"""


def section(*entries: str) -> str:
    return ("""<section><templateId root="2.16.840.1.113883.10.20.22.2.6.1" extension="2015-08-01"/>
      <code code="48765-2" codeSystem="2.16.840.1.113883.6.1"/><title>Allergies</title>
      <text>allergies</text>""" + "".join(entries) + "</section>")


def test_allergy_status_observation_wins_over_the_concern(validate):
    bundle, report = convert_xml(section(concern(allergy_obs(status_obs("73425007")))))
    no_issues_in_allergies(report)
    assert clinical(only_allergy(bundle, validate)) == "inactive"


@pytest.mark.parametrize("act_status,expected", [("active", "active"), ("completed", "resolved"),
                                                 ("suspended", "inactive"), ("aborted", "inactive")])
def test_concern_status_when_no_status_observation(validate, act_status, expected):
    bundle, _ = convert_xml(section(concern(allergy_obs(), status=act_status)))
    assert clinical(only_allergy(bundle, validate)) == expected


def author(time: str, npi: str, family: str) -> str:
    return f"""<author><templateId root="2.16.840.1.113883.10.20.22.4.119"/><time value="{time}"/>
      <assignedAuthor><id root="2.16.840.1.113883.4.6" extension="{npi}"/>
      <assignedPerson><name><given>A</given><family>{family}</family></name></assignedPerson></assignedAuthor></author>"""


def test_recorder_is_the_last_author_recorded_date_the_earliest(validate):
    obs = allergy_obs(author("20210304101500-0500", "1111111111", "Later") +
                      author("20190102", "2222222222", "Earlier"))
    bundle, _ = convert_xml(section(concern(obs)))
    a = only_allergy(bundle, validate)
    assert a["recordedDate"] == "2019-01-02"
    assert practitioner_family(bundle, a["recorder"]) == "Later"


def test_without_authors_recorded_date_is_when_the_concern_began(validate):
    a = only_allergy(convert_xml(section(concern(allergy_obs())))[0], validate)
    assert a["recordedDate"] == "2020-01-02"          # concern effectiveTime/low
    assert "recorder" not in a


def test_patient_informant_is_the_asserter(validate):
    informant = """<informant><relatedEntity classCode="PAT"/></informant>"""
    a = only_allergy(convert_xml(section(concern(allergy_obs(informant))))[0], validate)
    assert a["asserter"] == {"reference": f"Patient/{PATIENT}"}


def test_explicit_status_kept_despite_an_end_date(validate):
    obs = allergy_obs(status_obs("55561003"), eff='<low value="2003"/><high value="2006"/>')
    a = only_allergy(convert_xml(section(concern(obs)))[0], validate)
    assert clinical(a) == "active"
    assert a["extension"] == [{"url": ABATEMENT, "valueDateTime": "2006"},
                              {"url": CONCERN_PERIOD, "valuePeriod": {"start": "2020-01-02"}}]


def test_nullified_is_entered_in_error_without_clinical_status(validate):
    bundle, _ = convert_xml(section(concern(allergy_obs(status="nullified"))))
    a = only_allergy(bundle, validate)
    assert verification(a) == "entered-in-error"
    assert "clinicalStatus" not in a                    # FHIR ait-2


def test_criticality_at_concern_level_and_comment(validate):
    comment = """<entryRelationship typeCode="SUBJ" inversionInd="true"><act classCode="ACT" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.64"/>
      <code code="48767-8" codeSystem="2.16.840.1.113883.6.1"/>
      <text>Tolerated amoxicillin in 2015.</text></act></entryRelationship>"""
    bundle, report = convert_xml(section(concern(allergy_obs(comment), extra=criticality_obs("CRITL"))))
    no_issues_in_allergies(report)
    a = only_allergy(bundle, validate)
    assert a["criticality"] == "low"
    assert a["note"] == [{"text": "Tolerated amoxicillin in 2015."}]


def test_allergy_level_severity_fills_reactions_without_their_own(validate):
    body = severity_obs("371924009") + reaction_obs("247472004") + \
        reaction_obs("39579001", severity_obs("255604002"), low="2020")
    a = only_allergy(convert_xml(section(concern(allergy_obs(body))))[0], validate)
    # 371924009 moderate to severe -> severe (our map: upper bound); a reaction's own severity wins
    assert [(codings(r["manifestation"][0])[0][1], r["severity"], r["onset"]) for r in a["reaction"]] == [
        ("247472004", "severe", "2019-03-05"), ("39579001", "mild", "2020")]


def test_comment_in_a_reaction_is_the_reaction_note(validate):
    comment = """<entryRelationship typeCode="SUBJ" inversionInd="true"><act classCode="ACT" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.64"/>
      <code code="48767-8" codeSystem="2.16.840.1.113883.6.1"/>
      <text>Needed epinephrine.</text></act></entryRelationship>"""
    bundle, report = convert_xml(section(concern(allergy_obs(reaction_obs("39579001", comment)))))
    no_issues_in_allergies(report)
    a = only_allergy(bundle, validate)
    assert a["reaction"][0]["note"] == [{"text": "Needed epinephrine."}]
    assert "note" not in a


def test_severity_without_reaction_keeps_the_severity(validate):
    a = only_allergy(convert_xml(section(concern(allergy_obs(severity_obs("24484000")))))[0], validate)
    assert a["reaction"] == [{"manifestation": [{"extension": [{"url": DAR, "valueCode": "unknown"}]}],
                              "severity": "severe",
                              "_severity": {"extension": [{"url": ALTERNATE_CODES, "valueCodeableConcept": {
                                  "coding": [{"system": SCT, "code": "24484000"}]}}]}}]


def test_negated_propensity_without_substance_is_no_known_allergy(validate):
    obs = allergy_obs(value="420134006", substance='<code nullFlavor="NI"/>', negated=True,
                      eff='<low nullFlavor="NA"/>')
    a = only_allergy(convert_xml(section(concern(obs)))[0], validate)
    assert codings(a["code"]) == [(SCT, "716186003")]   # our map: the IG leaves 420134006 unmatched
    assert "verificationStatus" not in a


def test_negated_latex_is_no_known_latex_allergy(validate):
    obs = allergy_obs(value="419199007", negated=True,
                      substance='<code code="111088007" codeSystem="2.16.840.1.113883.6.96" displayName="Latex"/>')
    a = only_allergy(convert_xml(section(concern(obs)))[0], validate)
    assert codings(a["code"]) == [(SCT, "1003774007")]  # the IG's own example
    assert "verificationStatus" not in a


def test_negated_generic_substance_is_no_known_allergy(validate):
    # HL7's CCD 2 example: negated allergy to 105590001 'Substance'
    obs = allergy_obs(value="419199007", negated=True,
                      substance='<code code="105590001" codeSystem="2.16.840.1.113883.6.96" displayName="Substance"/>')
    a = only_allergy(convert_xml(section(concern(obs)))[0], validate)
    assert codings(a["code"]) == [(SCT, "716186003")]
    assert "verificationStatus" not in a


def test_negated_intolerance_without_substance_is_refuted(validate):
    obs = allergy_obs(value="59037007", substance='<code nullFlavor="NA"/>', negated=True)
    a = only_allergy(convert_xml(section(concern(obs)))[0], validate)
    assert verification(a) == "refuted"
    assert codings(a["code"]) == [(SCT, "59037007")]    # unmatched in NoKnownAllergies


def test_uncoded_substance_uses_its_name_else_data_absent(validate):
    named = allergy_obs(substance='<code nullFlavor="UNK"/><name>Shellfish</name>', value="414285001")
    a = only_allergy(convert_xml(section(concern(named)))[0], validate)
    assert a["code"] == {"text": "Shellfish"}
    # VA C32: an uncoded substance's originalText is a placeholder, its name is the substance
    va = allergy_obs(substance='<code nullFlavor="UNK"><originalText>Coded Allergy Name Not Available'
                               '</originalText></code><name>LATEX STRAP</name>',
                     obs_id="0b5e0000-0000-4000-8000-0000000000fe")
    assert only_allergy(convert_xml(section(concern(va)))[0], validate)["code"] == {"text": "LATEX STRAP"}
    nothing = allergy_obs(substance='<code nullFlavor="UNK"/>', value="x", obs_id="0b5e0000-0000-4000-8000-0000000000ff")
    nothing = nothing.replace('<value xsi:type="CD" code="x" codeSystem="2.16.840.1.113883.6.96"/>',
                              '<value xsi:type="CD" nullFlavor="UNK"/>')
    b = only_allergy(convert_xml(section(concern(nothing)))[0], validate)
    assert b["code"] == {"extension": [{"url": DAR, "valueCode": "unknown"}]}


def test_medication_given_for_a_reaction_is_mapped_not_dropped(validate):
    med = """<entryRelationship typeCode="RSON" inversionInd="true">
      <substanceAdministration classCode="SBADM" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.22.4.16" extension="2014-06-09"/>
        <id root="54cdc18a-9ddb-11ee-8c90-0242ac120002"/>
        <statusCode code="completed"/><effectiveTime value="20080501"/>
        <consumable><manufacturedProduct classCode="MANU">
          <templateId root="2.16.840.1.113883.10.20.22.4.23" extension="2014-06-09"/>
          <manufacturedMaterial><code code="1049901" codeSystem="2.16.840.1.113883.6.88"
            displayName="Benadryl 12.5 mg chewable tablet"/></manufacturedMaterial>
        </manufacturedProduct></consumable>
      </substanceAdministration></entryRelationship>"""
    bundle, report = convert_xml(section(concern(allergy_obs(reaction_obs("247472004", med)))))
    only_allergy(bundle, validate)
    meds = [r for r in bundle["entry"] if "54cdc18a-9ddb-11ee-8c90-0242ac120002" in json.dumps(r["resource"].get("identifier", []))]
    assert len(meds) == 1 and meds[0]["resource"]["resourceType"].startswith("Medication")
    assert [i for i in report.issues if i.level == "unmapped"] == []


def test_encounter_in_concern_is_the_allergy_encounter(validate):
    enc = """<entryRelationship typeCode="SUBJ"><encounter classCode="ENC" moodCode="EVN">
      <id extension="5283815" root="1.3.6.1.4.1.22812.3.99930.3.3.4"/></encounter></entryRelationship>"""
    bundle, _ = convert_xml(section(concern(allergy_obs(), extra=enc)))
    a = only_allergy(bundle, validate)
    e = resolve(bundle, a["encounter"])
    assert e["resourceType"] == "Encounter"
    assert {"system": "urn:oid:1.3.6.1.4.1.22812.3.99930.3.3.4", "value": "5283815"} in e["identifier"]


def test_allergy_outside_a_concern_takes_no_status_from_its_parent(validate):
    enc = f"""<entry><encounter classCode="ENC" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.49" extension="2015-08-01"/>
      <id root="e0c00000-0000-4000-8000-000000000005"/>
      <code code="99213" codeSystem="2.16.840.1.113883.6.12"/>
      <statusCode code="completed"/><effectiveTime value="20200102"/>
      <entryRelationship typeCode="SUBJ">{allergy_obs()}</entryRelationship>
    </encounter></entry>"""
    bundle, _ = convert_xml(section(enc))
    a = only_allergy(bundle, validate)
    assert clinical(a) == "active"                   # not 'resolved' from the completed encounter
    assert a["identifier"] == [{"system": "urn:ietf:rfc:3986",
                                "value": "urn:uuid:0b5e0000-0000-4000-8000-000000000002"}]


def test_concern_with_two_allergies_makes_two_without_the_act_id(validate):
    two = allergy_obs() + "</entryRelationship><entryRelationship typeCode=\"SUBJ\">" + allergy_obs(
        value="414285001", obs_id="0b5e0000-0000-4000-8000-000000000009",
        substance='<code code="762952008" codeSystem="2.16.840.1.113883.6.96" displayName="Peanut"/>')
    found = allergies(convert_xml(section(concern(two)))[0], validate)
    assert sorted(codings(a["code"])[0][1] for a in found) == ["762952008", "7980"]
    for a in found:
        assert len(a["identifier"]) == 1              # the shared act id identifies neither
    assert len({a["id"] for a in found}) == 2


# R1.1 (CCD 1.0) alerts, HITSP C32/C83 and IHE shapes
R11_ALERT = """<entry typeCode="DRIV"><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.1.27"/>
  <id root="36e3e930-7b14-11db-9fe1-0800200c9a66"/>
  <code nullFlavor="NA"/>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.1.18"/>
    <id root="4adc1020-7b14-11db-9fe1-0800200c9a66"/>
    <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
    <statusCode code="completed"/>
    <value xsi:type="CD" code="282100009" codeSystem="2.16.840.1.113883.6.96" displayName="Adverse reaction to substance"/>
    <participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT">
      <code code="70618" codeSystem="2.16.840.1.113883.6.88" displayName="Penicillin"/>
    </playingEntity></participantRole></participant>
    <entryRelationship typeCode="MFST" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.1.54"/>
      <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
      <statusCode code="completed"/>
      <value xsi:type="CD" code="247472004" codeSystem="2.16.840.1.113883.6.96" displayName="Hives"/>
      <entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.1.55"/>
        <code code="SEV" codeSystem="2.16.840.1.113883.5.4"/>
        <statusCode code="completed"/>
        <value xsi:type="CD" code="255604002" codeSystem="2.16.840.1.113883.6.96" displayName="Mild"/>
      </observation></entryRelationship>
    </observation></entryRelationship>
    <entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.1.39"/>
      <code code="33999-4" codeSystem="2.16.840.1.113883.6.1" displayName="Status"/>
      <statusCode code="completed"/>
      <value xsi:type="CE" code="421139008" codeSystem="2.16.840.1.113883.6.96" displayName="No longer active"/>
    </observation></entryRelationship>
  </observation></entryRelationship>
</act></entry>"""

R11_SECTION = ("""<section><templateId root="2.16.840.1.113883.10.20.1.2"/>
  <code code="48765-2" codeSystem="2.16.840.1.113883.6.1"/><title>Alerts</title><text>alerts</text>"""
               + R11_ALERT + "</section>")


def test_r11_alert_in_allergy_section_is_an_allergy_not_a_condition(validate):
    bundle, report = convert_xml(R11_SECTION)
    no_issues_in_allergies(report)
    assert resources_of(bundle, "Condition") == []
    a = only_allergy(bundle, validate)
    assert codings(a["code"]) == [(RXNORM, "70618")]
    assert clinical(a) == "inactive"                   # Alert Status 421139008 (our R1.1 map)
    assert "type" not in a and "category" not in a    # 282100009 is in no IG map
    assert a["reaction"] == [{"manifestation": [{"coding": [{"system": SCT, "code": "247472004",
                                                             "display": "Hives"}], "text": "Hives"}],
                              "severity": "mild",
                              "_severity": {"extension": [{"url": ALTERNATE_CODES, "valueCodeableConcept": {
                                  "coding": [{"system": SCT, "code": "255604002", "display": "Mild"}],
                                  "text": "Mild"}}]}}]
    assert a["identifier"][0] == {"system": "urn:ietf:rfc:3986",
                                  "value": "urn:uuid:4adc1020-7b14-11db-9fe1-0800200c9a66"}


def test_r11_problem_act_outside_allergies_stays_a_problem(validate):
    problem = R11_SECTION.replace('root="2.16.840.1.113883.10.20.1.2"', 'root="2.16.840.1.113883.10.20.1.11"') \
        .replace('code="48765-2"', 'code="11450-4"') \
        .replace('<templateId root="2.16.840.1.113883.10.20.1.18"/>', '<templateId root="2.16.840.1.113883.10.20.1.28"/>')
    bundle, _ = convert_xml(problem, "11450-4")
    assert resources_of(bundle, "AllergyIntolerance") == []
    assert len(resources_of(bundle, "Condition")) == 1


def test_hitsp_c32_reaction_carrying_allergy_templates(validate):
    """HITSP C32 stacks the problem, IHE allergy and alert templates on the allergy *and* on
    its reaction; only the allergy is an AllergyIntolerance, the reaction is its reaction.
    C83 puts the allergy type in observation/code."""
    xml = R11_SECTION.replace('<templateId root="2.16.840.1.113883.10.20.1.18"/>', """
      <templateId root="2.16.840.1.113883.10.20.1.18"/><templateId root="2.16.840.1.113883.10.20.1.28"/>
      <templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.5"/><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.6"/>""") \
        .replace('<templateId root="2.16.840.1.113883.10.20.1.54"/>', """
      <templateId root="2.16.840.1.113883.10.20.1.54"/><templateId root="2.16.840.1.113883.10.20.1.28"/>
      <templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.5"/><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.6"/>""") \
        .replace('<code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>\n    <statusCode',
                 '<code code="416098002" codeSystem="2.16.840.1.113883.6.96" displayName="drug allergy"/>\n    <statusCode', 1) \
        .replace('<value xsi:type="CD" code="282100009" codeSystem="2.16.840.1.113883.6.96" displayName="Adverse reaction to substance"/>', "")
    bundle, report = convert_xml(xml)
    no_issues_in_allergies(report)
    assert resources_of(bundle, "Condition") == []
    a = only_allergy(bundle, validate)
    assert (a["type"], a["category"]) == ("allergy", ["medication"])   # from code 416098002
    # ... whose own coding stays beside the category (alternate-codes), not on the type as well
    assert a["_category"] == [{"extension": [{"url": ALTERNATE_CODES, "valueCodeableConcept": {
        "coding": [{"system": SCT, "code": "416098002", "display": "drug allergy"}], "text": "drug allergy"}}]}]
    assert "_type" not in a
    assert codings(a["reaction"][0]["manifestation"][0]) == [(SCT, "247472004")]


# ---------------------------------------------------------------- corpus (when present)
MYRA_V2 = CORPUS / "hl7-ccda-on-fhir" / "mappings" / "examples" / "CDAtoFHIRExamples" / "Input" / "Myra Jones v2.xml"
REC_ALLERGY = CORPUS / "hl7-ccda-on-fhir" / "mappings" / "examples" / "CDAtoFHIRExamples" / "Rec_Output" / "Rec_allergy.jsonc"
CHUNLI = CORPUS / "chunli866-ccdatofhirsamples" / "CDAtoFHIRExamples"


def _jsonc(path: Path) -> dict:
    """HL7's annotated JSON: whole-line // comments and trailing commas."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("//")]
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", "\n".join(lines)))


def _compare_with_recommended(a: dict, rec: dict) -> None:
    assert a["identifier"][:len(rec["identifier"])] == rec["identifier"]
    assert a["clinicalStatus"]["coding"][0]["code"] == rec["clinicalStatus"]["coding"][0]["code"]
    assert a["category"] == rec["category"]
    assert codings(a["code"]) == [(c["system"], c["code"]) for c in rec["code"]["coding"]]
    assert a["onsetDateTime"] == rec["onsetDateTime"]
    assert "type" not in a                              # Rec: type left out (unmatched value)
    assert len(a["reaction"]) == len(rec["reaction"])
    for got, want in zip(a["reaction"], rec["reaction"]):
        assert got["severity"] == want["severity"]
        assert codings(got["manifestation"][0]) == codings(want["manifestation"][0])


@needs_corpus
def test_myra_jones_matches_hl7_recommended_output(validate):
    rec = _jsonc(REC_ALLERGY)["resource"]
    bundle = ccda2fhir.convert(MYRA_V2.read_bytes(), PATIENT)
    found = allergies(bundle, validate)
    mine = [a for a in found if a.get("identifier", [{}])[0] == rec["identifier"][0]]
    assert len(mine) == 1
    _compare_with_recommended(mine[0], rec)
    assert mine[0]["reaction"][0]["manifestation"][0]["text"] == rec["reaction"][0]["manifestation"][0]["text"]


@needs_corpus
@pytest.mark.parametrize("name", ["Myra Jones v5-final.xml", "Myra v6 20231218.xml", "Myra_Jones v7.xml"])
def test_chunli_myra_jones_versions_match_recommended_output(validate, name):
    # (Myra_Jones v7_ChunEditsv2.xml is not well-formed XML: refused by the parser.)
    rec = _jsonc(REC_ALLERGY)["resource"]
    bundle = ccda2fhir.convert((CHUNLI / "Input" / name).read_bytes(), PATIENT)
    found = allergies(bundle, validate)
    mine = [a for a in found if a.get("identifier", [{}])[0] == rec["identifier"][0]]
    assert len(mine) == 1
    _compare_with_recommended(mine[0], rec)


@needs_corpus
def test_cf_allergy_binary_matches_the_ig_example(validate):
    base = CORPUS / "hl7-ccda-on-fhir" / "input" / "resources"
    want = json.loads((base / "allergyintolerance" / "CF-allergy.json").read_text())
    bundle, _ = convert_xml((base / "binary" / "CF-allergy.xml").read_text())
    a = only_allergy(bundle, validate)
    _compare_with_recommended(a, want)
    assert [c.get("display") for c in a["code"]["coding"]] == [c["display"] for c in want["code"]["coding"]]


ALLERGY_TEMPLATES = {"2.16.840.1.113883.10.20.22.4.7", "2.16.840.1.113883.10.20.1.18",
                     "1.3.6.1.4.1.19376.1.5.3.1.4.6", "2.16.840.1.113883.10.20.22.4.90"}
# HITSP C32 stacks the allergy templates on reactions and severities too
NOT_ALLERGY_TEMPLATES = {"2.16.840.1.113883.10.20.22.4.9", "2.16.840.1.113883.10.20.1.54",
                         "2.16.840.1.113883.10.20.22.4.8", "2.16.840.1.113883.10.20.1.55"}


@needs_corpus
def test_every_allergy_observation_in_the_corpus_becomes_one_allergy(validate):
    from lxml import etree
    from conftest import corpus_documents
    v3 = "{urn:hl7-org:v3}"
    checked = 0
    for path in corpus_documents():
        raw = path.read_bytes()
        try:
            root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
        except etree.XMLSyntaxError:
            continue
        expected, ids = 0, set()
        for entry in root.iter(f"{v3}entry"):
            for obs in entry.iter(f"{v3}observation"):
                tids = {t.get("root") for t in obs.findall(f"{v3}templateId")}
                if tids & ALLERGY_TEMPLATES and not tids & NOT_ALLERGY_TEMPLATES:
                    expected += 1
                    first = obs.find(f"{v3}id")
                    if first is not None and first.get("extension"):
                        ids.add(first.get("extension"))
        if not expected:
            continue
        try:
            bundle = ccda2fhir.convert(raw, PATIENT)
        except ccda2fhir.ConversionError:
            continue
        found = allergies(bundle, validate)
        # one per observation, or an empty List for one that says there is nothing to report
        # ('Allergy excluded/not available', nullFlavor NASK); a document repeating a statement
        # word for word gives one resource
        empty = [x for x in resources_of(bundle, "List") if "emptyReason" in x]
        assert len(found) <= expected and len(ids) <= len(found) + len(empty), path
        values = {i["value"] for a in found + empty for i in a.get("identifier", [])}
        assert ids <= values, path
        for a in found:
            assert a["code"].get("coding") or a["code"].get("text") or a["code"].get("extension")
            assert "clinicalStatus" in a or verification(a) == "entered-in-error"
        checked += 1
    assert checked > 200


def test_reactions_with_ids_keep_their_identity_as_observations_about_the_allergy(validate):
    """Our choice beside the IG's reaction[]: a reaction with an id is also an Observation
    (focus = the allergy) that keeps the id and the end date reaction[] cannot hold."""
    bundle, _ = convert_example("Allergy to specific drug Codeine")
    a = only_allergy(bundle, validate)
    obs = [o for o in resources_of(bundle, "Observation") if "focus" in o]
    assert sorted(o["identifier"][0]["value"] for o in obs) == [
        "urn:uuid:0506c036-adfb-4e6e-b9e1-eea76177ead5", "urn:uuid:fea0b775-f3fe-4e0a-9c4f-4a5c235c2af0"]
    for o in obs:
        assert resolve(bundle, o["focus"][0]) is a
        assert codings(o["valueCodeableConcept"]) == [(SCT, "422587007")]
        assert o["effectivePeriod"]["start"] == o["effectivePeriod"]["end"]
        assert validate(o) == []


def test_concern_period_keeps_the_active_concerns_end_beside_the_allergys_own_dates(validate):
    """An active concern's high says nothing about the allergy (no abatement), and the allergy
    keeps its own onset; the concern's low/high go, as written, to the concern-period extension."""
    xml = concern(allergy_obs(eff='<low value="20190304"/>')).replace(
        '<effectiveTime><low value="20200102"/></effectiveTime>',
        '<effectiveTime><low value="202001021030-0500"/><high value="20210615"/></effectiveTime>')
    a = only_allergy(convert_xml(section(xml))[0], validate)
    assert a["onsetDateTime"] == "2019-03-04"
    assert a["extension"] == [{"url": CONCERN_PERIOD,
                               "valuePeriod": {"start": "2020-01-02T10:30:00-05:00", "end": "2021-06-15"}}]
    assert a["recordedDate"] == "2020-01-02T10:30:00-05:00"     # no author: when the concern began


def test_allergy_outside_a_concern_has_no_concern_period(validate):
    a = only_allergy(convert_xml(section("<entry>" + allergy_obs() + "</entry>"))[0], validate)
    assert "extension" not in a


def test_concern_act_author_is_a_provenance_of_the_allergy(validate):
    """The observation's author makes the recorder and its Provenance; the concern act's own
    author (IG: mapped to the AllergyIntolerance) a Provenance of its own targeting the allergy."""
    obs = allergy_obs(author("20210304101500-0500", "1111111111", "Observer"))
    xml = concern(obs).replace("<entryRelationship", author("20200102", "2222222222", "Concerned")
                               + "<entryRelationship", 1)
    bundle, _ = convert_xml(section(xml))
    a = only_allergy(bundle, validate)
    target = {"reference": f"AllergyIntolerance/{a['id']}"}
    provs = [p for p in resources_of(bundle, "Provenance") if target in p["target"] and not p.get("entity")]
    by_author = {practitioner_family(bundle, p["agent"][0]["who"]): p["recorded"] for p in provs}
    assert by_author == {"Observer": "2021-03-04T10:15:00-05:00",
                         "Concerned": "2020-01-02T00:00:00Z"}   # a date-only time: midnight UTC
    assert practitioner_family(bundle, a["recorder"]) == "Observer"


def test_concern_time_with_both_value_and_interval_keeps_the_interval_and_reports_the_value(validate):
    xml = concern(allergy_obs()).replace(
        '<effectiveTime><low value="20200102"/></effectiveTime>',
        '<effectiveTime value="20090909"><low value="20090902"/><high value="20100103"/></effectiveTime>')
    bundle, report = convert_xml(section(xml))
    a = only_allergy(bundle, validate)
    assert a["extension"] == [{"url": CONCERN_PERIOD, "valuePeriod": {"start": "2009-09-02", "end": "2010-01-03"}}]
    assert [i.reason for i in report.issues if "20090909" in i.reason] == [
        "concern act effectiveTime has both @value '20090909' and low/high; @value left out "
        "(an IVL_TS is one or the other)"]


def test_type_in_code_beside_an_unmapped_value(validate):
    """code 'drug allergy' with value 'Adverse reaction to substance' (no IG map): the code gives
    type and category, and is kept beside them."""
    xml = R11_SECTION.replace('<code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>\n    <statusCode',
                              '<code code="416098002" codeSystem="2.16.840.1.113883.6.96" displayName="drug allergy"/>\n    <statusCode', 1)
    assert 'code="282100009"' in xml and 'code="416098002"' in xml
    a = only_allergy(convert_xml(xml)[0], validate)
    assert (a["type"], a["category"]) == ("allergy", ["medication"])
    assert a["_category"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "416098002"
