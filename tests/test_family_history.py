"""Family History Organizer / Observation -> FamilyMemberHistory (HL7 C-CDA examples, CC0)."""
from __future__ import annotations

from pathlib import Path

import ccda2fhir
from tests.conftest import CORPUS, FIXTURES, needs_corpus, resources_of
from tests.support.wrap import wrap_fragment
from tests.support.fragments import convert_example

FH = FIXTURES / "hl7-c-cda-examples" / "Family History"
SNOMED = "http://snomed.info/sct"
ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"


def convert_fragment(path: Path, section_code: str = "10157-6"):
    return convert_example(Path(path), section_code, report=True)


def by_identifier(resources, value):
    return next(r for r in resources if any(i["value"] == value for i in r.get("identifier", [])))


def test_father_deceased_mother_alive(validate):
    bundle, report = convert_fragment(FH / "Normal Family History Father deceased-Mother alive" /
                                      "Normal Family History Father deceased Mother alive(C-CDA2.1).xml")
    fmh = resources_of(bundle, "FamilyMemberHistory")
    assert len(fmh) == 2
    for r in fmh:
        assert validate(r) == []
    father = by_identifier(fmh, "urn:uuid:01faa204-db62-4610-864f-cb50b650d0fa")
    assert father["status"] == "completed"
    assert father["patient"] == {"reference": "Patient/p1"}
    assert father["name"] == "Lucas Valieri"
    assert father["relationship"]["coding"] == [{"system": ROLE, "code": "FTH", "display": "father"}]
    assert {"system": "http://hl7.org/fhir/administrative-gender", "code": "male", "display": "Male"} \
        in father["sex"]["coding"]
    assert father["deceasedDate"] == "2003-01"
    assert "deceasedBoolean" not in father and "bornDate" not in father   # birthTime UNK
    stroke, htn = father["condition"]
    assert stroke["code"]["coding"][0] == {"system": SNOMED, "code": "230690007",
                                           "display": "Cerebrovascular accident"}
    assert stroke["onsetAge"] == {"value": 72, "unit": "year", "system": "http://unitsofmeasure.org", "code": "a"}
    assert stroke["contributedToDeath"] is True
    assert stroke["outcome"]["coding"][0]["code"] == "419099009"
    assert htn["code"]["coding"][0]["code"] == "59621000"
    assert "onsetAge" not in htn and "onsetPeriod" not in htn      # effectiveTime UNK
    # the observation ids are kept on the record
    ids = {i["value"] for i in father["identifier"]}
    assert "urn:uuid:02faa204-db62-4610-864f-cb50b650d0fa" in ids

    mother = by_identifier(fmh, "urn:uuid:03faa204-db62-4610-864f-cb50b650d0fa")
    assert mother["relationship"]["coding"][0]["code"] == "MTH"
    assert mother["deceasedBoolean"] is False
    # a negated observation ("no problems") is not a condition; it is said in a note
    assert "condition" not in mother
    assert mother["note"][0]["text"].startswith("No ")
    assert not [i for i in report.issues if i.level in ("unmapped", "error")]


def test_two_brothers_stay_two_resources(validate):
    bundle, _ = convert_fragment(FH / "Family History two individuals same relationship to the patient" /
                                 "Family History two individuals same relationship to the patient(C-CDA2.1).xml")
    fmh = resources_of(bundle, "FamilyMemberHistory")
    assert sorted(r["name"] for r in fmh) == ["Gerald", "James"]
    assert all(r["relationship"]["coding"][0]["code"] == "BRO" for r in fmh)
    james = next(r for r in fmh if r["name"] == "James")
    assert james["bornDate"] == "1982"
    assert [c["code"]["coding"][0]["code"] for c in james["condition"]] == ["59621000", "73211009"]
    for r in fmh:
        assert validate(r) == []


def test_generic_family_member(validate):
    bundle, _ = convert_fragment(FH / "Family History Generic" / "Family History generic(C-CDA2.1).xml")
    (fmh,) = resources_of(bundle, "FamilyMemberHistory")
    assert fmh["relationship"]["coding"][0]["code"] == "FAMMEMB"
    assert [c["code"]["coding"][0]["code"] for c in fmh["condition"]] == ["56265001"]
    assert validate(fmh) == []


@needs_corpus
def test_ccd_r21_family_history(validate):
    path = CORPUS / "hl7-cda-ccda-2.1" / "examples" / "C-CDA_R2-1_CCD.xml"
    bundle, report = ccda2fhir.convert(path.read_bytes(), "p1", report=True)
    fmh = resources_of(bundle, "FamilyMemberHistory")
    assert fmh
    father = next(r for r in fmh if r["relationship"]["coding"][0]["code"] == "FTH")
    assert father["bornDate"] == "1910"
    mi = next(c for c in father["condition"] if c["code"]["coding"][0]["code"] == "22298006")
    assert mi["onsetAge"]["value"] == 57 and mi["contributedToDeath"] is True
    assert father["deceasedBoolean"] is True
    for r in fmh:
        assert validate(r) == []


@needs_corpus
def test_r11_c32_family_history(validate):
    path = CORPUS / "amida-blue-button" / "example" / "C32.xml"
    bundle = ccda2fhir.convert(path.read_bytes(), "p1")
    fmh = resources_of(bundle, "FamilyMemberHistory")
    assert sorted(r["relationship"]["coding"][0]["code"] for r in fmh) == ["FTH", "MTH"]
    father = next(r for r in fmh if r["relationship"]["coding"][0]["code"] == "FTH")
    # the SNOMED translation (biological father) is kept beside the RoleCode
    assert {"system": SNOMED, "code": "9947008", "display": "Biological father"} in father["relationship"]["coding"]
    assert father["bornDate"] == "1912" and father["deceasedBoolean"] is True
    # the R1.1 death observation under the cause of death keeps its id on the record
    assert "urn:uuid:6898fae0-5c8a-11db-b0de-0800200c9a66" in {i["value"] for i in father["identifier"]}
    mother = next(r for r in fmh if r["relationship"]["coding"][0]["code"] == "MTH")
    assert mother["condition"][0]["onsetPeriod"] == {"start": "1942"}
    mi = next(c for c in father["condition"] if c["code"]["coding"][0]["code"] == "22298006")
    assert mi["onsetAge"]["value"] == 57 and mi["contributedToDeath"] is True
    for r in fmh:
        assert validate(r) == []


STANDALONE = """<entry><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.46" extension="2015-08-01"/>
  <id root="2.16.840.1.113883.19.5" extension="fh-obs-1"/>
  <code code="64572001" codeSystem="2.16.840.1.113883.6.96" displayName="Disease"/>
  <statusCode code="completed"/>
  <effectiveTime><low value="1999"/></effectiveTime>
  <value xsi:type="CD" code="363406005" codeSystem="2.16.840.1.113883.6.96" displayName="Malignant neoplasm of colon"/>
  <subject><relatedSubject classCode="PRS">
    <code code="GRFTH" codeSystem="2.16.840.1.113883.5.111" displayName="grandfather"/>
    <subject><administrativeGenderCode code="M" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="1920"/></subject>
  </relatedSubject></subject>
</observation></entry>"""


def test_standalone_family_history_observation(validate):
    bundle, report = ccda2fhir.convert(wrap_fragment(STANDALONE, "10157-6").encode(), "p1", report=True)
    (fmh,) = resources_of(bundle, "FamilyMemberHistory")
    assert validate(fmh) == []
    assert fmh["identifier"] == [{"system": "urn:oid:2.16.840.1.113883.19.5", "value": "fh-obs-1"}]
    assert fmh["relationship"]["coding"][0] == {"system": ROLE, "code": "GRFTH", "display": "grandfather"}
    assert fmh["bornDate"] == "1920"
    assert fmh["condition"] == [{"code": {"coding": [{"system": SNOMED, "code": "363406005",
                                                       "display": "Malignant neoplasm of colon"}],
                                          "text": "Malignant neoplasm of colon"},
                                 "onsetPeriod": {"start": "1999"}}]
    assert not [i for i in report.issues if i.level in ("unmapped", "error", "partial")]


EFFECTIVE_TIME_EXT = "http://ccda2fhir.org/fhir/StructureDefinition/familymemberhistory-condition-effective-time"
AGE_57 = {"value": 57, "unit": "year", "system": "http://unitsofmeasure.org", "code": "a"}


def test_onset_age_keeps_effective_time_in_extension(validate):
    """Referral Note (HL7 example): father's MI has an Age Observation (57 a) and effectiveTime 1967;
    onsetAge takes onset[x], the effectiveTime goes to the converter-defined extension."""
    path = FIXTURES / "hl7-c-cda-examples" / "Documents" / "Referral Note" / "Referral_Note.xml"
    bundle = ccda2fhir.convert(path.read_bytes(), "p1")
    (father,) = [r for r in resources_of(bundle, "FamilyMemberHistory")
                 if r["relationship"]["coding"][0]["code"] == "FTH"]
    mi, diabetes = father["condition"]
    assert mi["onsetAge"] == AGE_57
    assert mi["extension"] == [{"url": EFFECTIVE_TIME_EXT, "valueDateTime": "1967"}]
    assert "onsetPeriod" not in mi
    assert diabetes["onsetAge"]["value"] == 40
    assert diabetes["extension"] == [{"url": EFFECTIVE_TIME_EXT, "valueDateTime": "1950"}]
    assert validate(father) == []


WITH_AGE_AND_PERIOD = STANDALONE.replace(
    '<effectiveTime><low value="1999"/></effectiveTime>',
    '<effectiveTime><low value="199903151030-0500"/><high value="2001"/></effectiveTime>').replace(
    "</value>", "").replace(
    'displayName="Malignant neoplasm of colon"/>',
    'displayName="Malignant neoplasm of colon"/>'
    '<entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN">'
    '<templateId root="2.16.840.1.113883.10.20.22.4.31"/>'
    '<code code="445518008" codeSystem="2.16.840.1.113883.6.96" displayName="Age At Onset"/>'
    '<statusCode code="completed"/><value xsi:type="PQ" value="57" unit="a"/></observation></entryRelationship>')


def test_onset_age_keeps_effective_period_with_precision_and_offset(validate):
    bundle, report = ccda2fhir.convert(wrap_fragment(WITH_AGE_AND_PERIOD, "10157-6").encode(), "p1",
                                       report=True)
    (fmh,) = resources_of(bundle, "FamilyMemberHistory")
    (cond,) = fmh["condition"]
    assert cond["onsetAge"] == AGE_57
    assert cond["extension"] == [{"url": EFFECTIVE_TIME_EXT,
                                  "valuePeriod": {"start": "1999-03-15T10:30:00-05:00", "end": "2001"}}]
    assert validate(fmh) == []
    assert not [i for i in report.issues if i.level in ("unmapped", "error", "partial")]
