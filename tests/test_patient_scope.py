"""Ids are scoped to the patient: two patients' documents never share a patient-compartment Type/id.

Vendors reuse statement ids across patients (HL7's sample ids are copied into production
templates); a FHIR server that received both Bundles would otherwise overwrite one patient's
Condition with another's.
"""
from __future__ import annotations

import json
import re
from importlib import resources

import pytest
from lxml import etree

import ccda2fhir
from tests.conftest import FIXTURES, SAMPLE_CCD
from tests.support.patient_compartment import DEFINITION, derive

COMPARTMENT = frozenset(json.loads(resources.files("ccda2fhir.data")
                                   .joinpath("patient_compartment.json").read_text())["types"])
REFERRAL = FIXTURES / "hl7-c-cda-examples" / "Documents" / "Referral Note" / "Referral_Note.xml"
SHARED = ("Practitioner", "Organization", "Location", "Medication")


def _urls(bundle: dict, types) -> set[str]:
    return {e["request"]["url"] for e in bundle["entry"] if e["resource"]["resourceType"] in types}


def _statement_ids(path) -> set[tuple[str, str | None]]:
    """The ids of the document's entries and of everything they nest."""
    root = etree.parse(str(path)).getroot()
    return {(i.get("root"), i.get("extension"))
            for i in root.iterfind(".//{urn:hl7-org:v3}entry//{urn:hl7-org:v3}id") if i.get("root")}


@pytest.mark.skipif(not DEFINITION.is_file(), reason="../shared/fhir is not present")
def test_compartment_table_matches_the_r4_definition():
    assert sorted(COMPARTMENT) == derive()


def test_two_patients_documents_sharing_entry_ids_share_no_patient_resource():
    # the two HL7 examples reuse the same statement ids (a precondition of the test)
    assert len(_statement_ids(SAMPLE_CCD) & _statement_ids(REFERRAL)) >= 20
    a = ccda2fhir.convert(SAMPLE_CCD.read_bytes(), "patient-a")
    b = ccda2fhir.convert(REFERRAL.read_bytes(), "patient-b")
    patient_types = COMPARTMENT - {"Patient"}
    assert _urls(a, patient_types) and _urls(b, patient_types)
    assert not _urls(a, patient_types) & _urls(b, patient_types)
    # the ids come from the same statement identifiers all the same: the same Condition of the
    # same patient keeps its id whichever document names it
    a_again = ccda2fhir.convert(REFERRAL.read_bytes(), "patient-a")
    assert _urls(a, {"Condition"}) & _urls(a_again, {"Condition"})


def test_shared_entities_keep_patient_independent_ids():
    a = ccda2fhir.convert(SAMPLE_CCD.read_bytes(), "patient-a")
    b = ccda2fhir.convert(SAMPLE_CCD.read_bytes(), "patient-b")
    assert _urls(a, SHARED) and _urls(a, SHARED) == _urls(b, SHARED)
    assert not _urls(a, COMPARTMENT - {"Patient"}) & _urls(b, COMPARTMENT - {"Patient"})


def test_same_document_same_patient_gives_the_same_ids():
    one = ccda2fhir.convert_to_json(SAMPLE_CCD.read_bytes(), "patient-a")
    two = ccda2fhir.convert_to_json(SAMPLE_CCD.read_bytes(), "patient-a")
    assert one == two


def test_every_reference_to_a_patient_resource_uses_the_scoped_id():
    bundle = ccda2fhir.convert(SAMPLE_CCD.read_bytes(), "patient-a")
    made = {e["request"]["url"] for e in bundle["entry"]}
    refs = re.findall(r'"reference":"([^"#]+)"', ccda2fhir.convert_to_json(SAMPLE_CCD.read_bytes(),
                                                                          "patient-a").decode())
    assert refs and all(r in made or r == "Patient/patient-a" for r in refs)


def test_a_device_is_the_patients_own_only_when_it_names_the_patient():
    from ccda2fhir.map.state import Conversion
    conv = Conversion({"header": {}, "narrative": {}}, "patient-a")
    other = Conversion({"header": {}, "narrative": {}}, "patient-b")
    implant = {"resourceType": "Device", "patient": {"reference": "Patient/patient-a"}}
    implant_b = {"resourceType": "Device", "patient": {"reference": "Patient/patient-b"}}
    authoring = {"resourceType": "Device"}
    assert conv.id_for("Device", "1.2.3|x", implant) != other.id_for("Device", "1.2.3|x", implant_b)
    assert conv.id_for("Device", "1.2.3|x", authoring) == other.id_for("Device", "1.2.3|x", authoring)
    assert conv.id_for("Condition", "1.2.3|x") != other.id_for("Condition", "1.2.3|x")
    assert conv.id_for("Practitioner", "1.2.3|x") == other.id_for("Practitioner", "1.2.3|x")
