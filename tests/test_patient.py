"""recordTarget -> US Core Patient (C-CDA on FHIR CF-patient), on the HL7 header examples."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import ccda2fhir
from tests.conftest import CORPUS, FIXTURES, SAMPLE_CCD, needs_corpus, resolve, resources_of
from tests.support.wrap import wrap_file, wrap_fragment

HEADER = FIXTURES / "hl7-c-cda-examples" / "Header"
RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
BIRTHSEX = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
CDC = "urn:oid:2.16.840.1.113883.6.238"
_EMPTY_SECTION = ('<section><code code="29762-2" codeSystem="2.16.840.1.113883.6.1"/>'
                  '<title>Social History</title><text>None</text></section>')
_RT = re.compile(r"<recordTarget>.*?</recordTarget>", re.S)


def with_record_target(record_target_xml: str, body: str = _EMPTY_SECTION) -> str:
    """A full document (tests.support.wrap) whose recordTarget is the given one."""
    rt = re.sub(r"^\s*(<\?xml[^>]*\?>)?", "", record_target_xml)
    return _RT.sub(lambda _: rt, wrap_fragment(body), count=1)


def patient_of(xml, validate, patient_id: str = "p-1") -> tuple[dict, dict]:
    bundle = ccda2fhir.convert(xml if isinstance(xml, (bytes, Path)) else xml.encode(), patient_id)
    pats = resources_of(bundle, "Patient")
    assert len(pats) == 1
    for r in resources_of(bundle):
        assert validate(r) == [], r["resourceType"]
    return pats[0], bundle


def header_patient(name: str, validate) -> tuple[dict, dict]:
    return patient_of(with_record_target((HEADER / name).read_text(encoding="utf-8-sig")), validate)


def ext(res: dict, url: str) -> dict | None:
    return next((e for e in res.get("extension", []) if e["url"] == url), None)


def sub(extension: dict, url: str) -> list:
    return [e for e in extension["extension"] if e["url"] == url]


def test_sample_ccd_patient(validate):
    p, bundle = patient_of(SAMPLE_CCD.read_bytes(), validate, "patient-42")
    assert p["id"] == "patient-42"
    assert p["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]
    assert p["identifier"] == [{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "444222222"}]
    assert p["name"][0] == {"use": "usual", "family": "Betterhalf", "given": ["Eve"]}
    # the SRCH name's family has qualifier BR (birth): our choice, use maiden
    assert p["name"][1] == {"family": "Everywoman", "given": ["Eve"], "use": "maiden"}
    assert p["gender"] == "female"
    assert p["birthDate"] == "1975-05-01"
    assert "_birthDate" not in p                      # date-only birthTime: no birthTime extension
    assert p["telecom"] == [{"system": "phone", "value": "+1(555)555-2003", "use": "home"}]
    assert p["address"] == [{"use": "home", "line": ["2222 Home Street"], "city": "Beaverton",
                             "state": "OR", "postalCode": "97867", "country": "US"}]
    assert p["maritalStatus"]["coding"] == [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M", "display": "Married"}]
    race = ext(p, RACE)
    assert [e["valueCoding"]["code"] for e in sub(race, "ombCategory")] == ["2106-3", "2076-8"]
    assert all(e["valueCoding"]["system"] == CDC for e in sub(race, "ombCategory"))
    assert sub(race, "text") == [{"url": "text",
                                  "valueString": "White, Native Hawaiian or Other Pacific Islander"}]
    eth = ext(p, ETHNICITY)
    assert sub(eth, "ombCategory")[0]["valueCoding"] == {"system": CDC, "code": "2186-5",
                                                        "display": "Not Hispanic or Latino"}
    religion = ext(p, "http://hl7.org/fhir/StructureDefinition/patient-religion")
    assert religion["valueCodeableConcept"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ReligiousAffiliation", "code": "1013",
        "display": "Christian (non-Catholic, non-specific)"}
    birthplace = ext(p, "http://hl7.org/fhir/StructureDefinition/patient-birthPlace")
    assert birthplace["valueAddress"]["line"] == ["4444 Home Street"]
    comm = p["communication"]
    assert comm[0]["language"]["coding"] == [{"system": "urn:ietf:bcp:47", "code": "en"}]
    assert comm[0]["preferred"] is True
    prof = comm[0]["extension"][0]
    assert prof["url"] == "http://hl7.org/fhir/StructureDefinition/patient-proficiency"
    assert {e["url"]: e["valueCoding"]["code"] for e in prof["extension"]} == {"level": "G", "type": "ESP"}
    # guardian Boris is also the next of kin and the emergency contact: one contact, all roles
    assert len(p["contact"]) == 1
    contact = p["contact"][0]
    codes = [c["coding"][0]["code"] for c in contact["relationship"]]
    assert codes == ["GUARD", "POWATT", "N", "C"]
    assert contact["relationship"][0]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
    assert contact["name"] == {"family": "Betterhalf", "given": ["Boris", "Bo"]}
    assert contact["telecom"] == [{"system": "phone", "value": "+1(555)555-2008", "use": "mobile"}]
    org = resolve(bundle, p["managingOrganization"])
    assert org["name"] == "The DoctorsTogether Physician Group"
    assert org["identifier"] == [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "219BX"}]
    assert "deceasedBoolean" not in p and "deceasedDateTime" not in p


def test_birth_name_is_maiden_with_period(validate):
    p, _ = header_patient("Patient Birth Name(C-CDA2.1).xml", validate)
    assert p["name"][0] == {"use": "usual", "family": "Newman", "given": ["Alice", "Jones"]}
    birth = p["name"][1]
    assert birth["family"] == "Newman" and birth["given"] == ["Alicia", "Jones"]
    # a BR-qualified (birth) name: 'maiden' even though its validTime ended; period kept
    assert birth["use"] == "maiden"
    assert birth["period"] == {"start": "2001-05-05", "end": "2021-05-10"}


def test_previous_legal_name_is_old(validate):
    p, _ = header_patient("Patient Previous Name(C-CDA2.1).xml", validate)
    assert p["name"][0] == {"use": "usual", "family": "Newman", "given": ["Jimmy", "Jones"]}
    assert p["name"][1]["use"] == "old"
    assert p["name"][1]["given"] == ["Sam", "Jones"]
    assert p["name"][1]["period"] == {"start": "2000-05-05", "end": "2010-05-10"}


def test_aliases_and_null_id(validate):
    p, _ = header_patient("Patient Aliases (C-CDA R2.1).xml", validate)
    assert [n.get("use") for n in p["name"]] == ["usual", "nickname"]
    assert p["name"][1] == {"use": "nickname", "family": "Jones", "given": ["Dee"]}
    assert "identifier" not in p                      # <id nullFlavor="NI"/>


def test_deceased_time_wins_and_language_region(validate):
    p, _ = header_patient("Patient Deceased Extension(C-CDA2.1).xml", validate)
    assert p["deceasedDateTime"] == "2018-03-15"
    assert "deceasedBoolean" not in p
    assert p["identifier"] == [{"system": "urn:oid:2.16.840.1.113883.3.6132", "value": "345678912-0154"}]
    assert "telecom" not in p                         # telecom nullFlavor="NA"
    assert p["communication"][0]["language"]["coding"] == [{"system": "urn:ietf:bcp:47", "code": "en-US"}]
    prof = p["communication"][0]["extension"][0]["extension"]
    assert {e["url"]: e["valueCoding"]["code"] for e in prof} == {"level": "E", "type": "ESP"}
    assert p["gender"] == "male" and p["birthDate"] == "1952-10-22"


def test_deceased_indicator_only(validate):
    xml = (HEADER / "Patient Deceased Extension(C-CDA2.1).xml").read_text()
    xml = re.sub(r"<sdtc:deceasedTime[^>]*/>", "", xml)
    p, _ = patient_of(with_record_target(xml), validate)
    assert p["deceasedBoolean"] is True


def test_demographics_two_languages_iso639_2(validate):
    p, _ = header_patient("Patient Demographic Information(C-CDA2.1).xml", validate)
    assert p["telecom"] == [{"system": "phone", "value": "+1(565)867-5309", "use": "mobile"},
                            {"system": "email", "value": "adam@diameterhealth.com", "use": "work"}]
    en, it = p["communication"]
    assert en["language"]["coding"] == [{"system": "urn:ietf:bcp:47", "code": "en"}] and en["preferred"] is True
    # 'ita' (ISO 639-2) becomes the BCP 47 tag 'it'; the sender's code is kept as a second coding
    assert it["language"]["coding"] == [{"system": "urn:ietf:bcp:47", "code": "it"},
                                        {"system": "http://terminology.hl7.org/CodeSystem/iso639-2",
                                         "code": "ita"}]
    assert it["preferred"] is False


def test_multiple_identifiers(validate):
    p, _ = header_patient("Multiple Patient Identifiers (C-CDAR2.1).xml", validate)
    assert [i["value"] for i in p["identifier"]] == ["12345", "6789", "2345", "06726-161"]
    assert p["identifier"][0]["system"] == "urn:oid:2.16.840.1.113883.1.111.12345"
    assert p["identifier"][0]["assigner"] == {
        "display": "River Valley Health Services Locally-assigned Medical Record Number"}
    assert p["name"] == [{"use": "usual", "family": "Nelson", "given": ["Linda"]}]


def test_masked_ssn_is_not_an_identifier(validate):
    p, _ = header_patient("Masked Social Security Number.xml", validate)
    assert p["identifier"] == [{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "414122222",
                                "assigner": {"display": "US Social Security Administration"}}]


def test_prior_addresses_keep_periods(validate):
    p, _ = header_patient("Patient With Prior Addresses(C-CDAR2.1).xml", validate)
    assert [a["city"] for a in p["address"]] == ["Shelburne", "BURLINGTON", "CHICAGO"]
    assert p["address"][0]["period"] == {"start": "2011-08-22"}
    assert p["address"][1]["period"] == {"start": "2011-01-31", "end": "2011-08-21"}
    assert p["communication"][0]["language"]["coding"][0] == {"system": "urn:ietf:bcp:47", "code": "en"}


def test_direct_address_document(validate):
    path = HEADER / "Patient and Provider Organization Direct Address(C-CDAR2.1).xml"
    p, bundle = patient_of(path.read_bytes(), validate)
    values = [i["value"] for i in p["identifier"]]
    assert values == ["lisarnelson@direct.myphd.us", "12345-0828"]
    # sdtc:identifiedBy names the Direct address identifier's type
    assert p["identifier"][0]["type"] == {"text": "DirectTrust Consumer Identity"}
    assert "type" not in p["identifier"][1]
    assert p["identifier"][1]["assigner"] == {"display": "River Valley Health Services"}


def test_birth_sex_from_social_history(validate):
    xml = wrap_file(FIXTURES / "hl7-c-cda-examples" / "Social History" / "Birth Sex" / "Birth Sex(C-CDA2.1).xml", "29762-2")
    p, _ = patient_of(xml, validate)
    assert ext(p, BIRTHSEX) == {"url": BIRTHSEX, "valueCode": "F"}


def test_no_birth_sex_no_extension(validate):
    p, _ = patient_of(SAMPLE_CCD.read_bytes(), validate)
    assert ext(p, BIRTHSEX) is None


@pytest.mark.parametrize("gender, expected", [
    ('code="UN" codeSystem="2.16.840.1.113883.5.1"', "other"),
    ('code="M" codeSystem="2.16.840.1.113883.5.1"', "male"),
    ('nullFlavor="UNK"', "unknown"),
])
def test_gender_map(validate, gender, expected):
    xml = wrap_fragment(_EMPTY_SECTION).replace(
        '<administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/>',
        f"<administrativeGenderCode {gender}/>")
    p, _ = patient_of(xml, validate)
    assert p["gender"] == expected


def test_detailed_race_and_ethnicity_birth_time_multiple_birth(validate):
    rt = """<recordTarget><patientRole><id root="2.16.840.1.113883.19.5" extension="p9"/>
      <patient><name use="L"><given>Myra</given><family>Jones</family></name>
      <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/>
      <birthTime value="194705011230-0500"/>
      <raceCode code="2106-3" codeSystem="2.16.840.1.113883.6.238" displayName="White"/>
      <sdtc:raceCode code="2108-9" codeSystem="2.16.840.1.113883.6.238" displayName="European"/>
      <ethnicGroupCode code="2135-2" codeSystem="2.16.840.1.113883.6.238" displayName="Hispanic or Latino"/>
      <sdtc:ethnicGroupCode code="2146-9" codeSystem="2.16.840.1.113883.6.238" displayName="Spanish Basque"/>
      <sdtc:multipleBirthInd value="true"/><sdtc:multipleBirthOrderNumber value="2"/>
      <guardian><code code="FTH" codeSystem="2.16.840.1.113883.5.111" displayName="father"/>
        <guardianPerson><name><given>Boris</given><family>Betterhalf</family></name></guardianPerson></guardian>
      </patient></patientRole></recordTarget>"""
    p, _ = patient_of(with_record_target(rt), validate)
    race = ext(p, RACE)
    assert sub(race, "ombCategory")[0]["valueCoding"]["code"] == "2106-3"
    assert sub(race, "detailed") == [{"url": "detailed", "valueCoding": {
        "system": CDC, "code": "2108-9", "display": "European"}}]
    assert sub(race, "text")[0]["valueString"] == "White, European"
    eth = ext(p, ETHNICITY)
    assert sub(eth, "detailed")[0]["valueCoding"]["code"] == "2146-9"
    assert sub(eth, "text")[0]["valueString"] == "Hispanic or Latino, Spanish Basque"
    assert p["birthDate"] == "1947-05-01"
    assert p["_birthDate"] == {"extension": [{
        "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
        "valueDateTime": "1947-05-01T12:30:00-05:00"}]}
    assert p["multipleBirthInteger"] == 2 and "multipleBirthBoolean" not in p
    rel = p["contact"][0]["relationship"]
    assert [r["coding"][0]["code"] for r in rel] == ["GUARD", "FTH"]
    assert rel[1]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/v3-RoleCode"


def test_unknown_race(validate):
    rt = """<recordTarget><patientRole><id root="2.16.840.1.113883.19.5" extension="p9"/>
      <patient><name><given>A</given><family>B</family></name>
      <raceCode nullFlavor="ASKU"/><ethnicGroupCode nullFlavor="UNK"/></patient></patientRole></recordTarget>"""
    p, _ = patient_of(with_record_target(rt), validate)
    omb = sub(ext(p, RACE), "ombCategory")[0]["valueCoding"]
    assert omb == {"system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "code": "ASKU",
                   "display": "Asked but no answer"}
    assert sub(ext(p, ETHNICITY), "ombCategory")[0]["valueCoding"]["code"] == "UNK"


def test_no_record_target_still_has_patient(validate):
    xml = _RT.sub("", wrap_fragment(_EMPTY_SECTION))
    bundle, report = ccda2fhir.convert(xml.encode(), "p-7", report=True)
    assert resources_of(bundle, "Patient") == [{"resourceType": "Patient", "id": "p-7"}]
    assert any("recordTarget" in i.reason for i in report.issues)


# ------------------------------------------------------------------ HL7's recommended output
MYRA = CORPUS / "hl7-ccda-on-fhir" / "mappings" / "examples" / "CDAtoFHIRExamples" / "Input" / "Myra Jones v2.xml"
REC = CORPUS / "hl7-ccda-on-fhir" / "mappings" / "examples" / "CDAtoFHIRExamples" / "Rec_Output" / "Rec_patient.jsonc"
CF_PATIENT = CORPUS / "hl7-ccda-on-fhir" / "input" / "resources" / "patient" / "CF-patient.json"


def _jsonc(path: Path) -> dict:
    text = re.sub(r"^\s*//.*$", "", path.read_text(), flags=re.M)
    return json.loads(text)


def _omb(res: dict, url: str) -> list:
    e = ext(res, url)
    return sorted((x["url"], json.dumps(x.get("valueCoding") or x.get("valueString"), sort_keys=True))
                  for x in e["extension"]) if e else []


@needs_corpus
@pytest.mark.parametrize("expected_path", [REC, CF_PATIENT], ids=["Rec_patient", "CF-patient"])
def test_matches_hl7_recommended_patient(validate, expected_path):
    p, bundle = patient_of(MYRA.read_bytes(), validate)
    expected = _jsonc(expected_path)
    expected = expected.get("resource", expected)
    for key in ("identifier", "name", "gender", "birthDate", "communication"):
        assert p[key] == expected[key], key
    # our addresses may carry more (country); every field HL7 gives must match
    for ours, theirs in zip(p["address"], expected["address"], strict=True):
        assert {k: ours.get(k) for k in theirs} == theirs
    assert _omb(p, RACE) == _omb(expected, RACE)
    assert _omb(p, ETHNICITY) == _omb(expected, ETHNICITY)
    assert "telecom" not in p                      # the source telecom is nullFlavor NI
    org = resolve(bundle, p["managingOrganization"])
    assert org["name"] == "Primary Care's Partners Test"
    assert org["identifier"] == [{"system": "urn:oid:1.3.6.1.4.1.22812.3.2009316.3", "value": "3"}]


def test_detailed_race_under_another_omb_category_adds_it(validate):
    rt = """<recordTarget><patientRole><id root="2.16.840.1.113883.19.5" extension="p9"/>
      <patient><name><given>A</given><family>B</family></name>
      <raceCode code="2106-3" codeSystem="2.16.840.1.113883.6.238" displayName="White"/>
      <sdtc:raceCode code="2029-7" codeSystem="2.16.840.1.113883.6.238" displayName="Asian Indian"/>
      <sdtc:raceCode code="2108-9" codeSystem="2.16.840.1.113883.6.238" displayName="European"/>
      </patient></patientRole></recordTarget>"""
    p, _ = patient_of(with_record_target(rt), validate)
    race = ext(p, RACE)
    # IG: 'If the detailed race is under a different OMB category than the raceCode, an additional
    # OMB category sub-extension should be included'; European is under White, already there
    assert [e["valueCoding"]["code"] for e in sub(race, "ombCategory")] == ["2106-3", "2028-9"]
    assert sub(race, "ombCategory")[1]["valueCoding"]["display"] == "Asian"
    assert [e["valueCoding"]["code"] for e in sub(race, "detailed")] == ["2029-7", "2108-9"]
    assert sub(race, "text")[0]["valueString"] == "White, Asian Indian, European"


def test_patient_without_name_or_gender_meets_us_core(validate):
    rt = """<recordTarget><patientRole><id root="2.16.840.1.113883.19.5" extension="p9"/>
      <patient><name nullFlavor="UNK"/></patient></patientRole></recordTarget>"""
    p, _ = patient_of(with_record_target(rt), validate)
    assert p["name"] == [{"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                                         "valueCode": "unknown"}]}]
    assert p["gender"] == "unknown"
