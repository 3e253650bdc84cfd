"""FROM_DOCUMENT (--patient-id-from document): a stable, valid Patient id read from the recordTarget."""
from __future__ import annotations

import re

import pytest

import ccda2fhir
from tests.conftest import FIXTURES, SAMPLE_CCD

DOCS = FIXTURES / "hl7-c-cda-examples" / "Documents"
CCD = SAMPLE_CCD.read_bytes()
SSN_ID = b'<id extension="444222222" root="2.16.840.1.113883.4.1" />'
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def patient_of(data, **options) -> tuple[str, dict, ccda2fhir.Report]:
    bundle, report = ccda2fhir.convert(data, ccda2fhir.FROM_DOCUMENT, report=True, **options)
    return bundle["entry"][0]["resource"]["id"], bundle, report


def test_the_id_is_a_valid_fhir_id_used_by_every_patient_reference():
    pid, bundle, report = patient_of(CCD)
    assert FHIR_ID.fullmatch(pid) and len(pid) == 36
    assert bundle["entry"][0]["request"]["url"] == f"Patient/{pid}"
    text = str(bundle)
    assert "'Patient/" in text and not re.search(r"'Patient/(?!%s)" % re.escape(pid), text)
    assert not any("recordTarget has no usable identifier" in i.reason for i in report.issues)


def test_the_same_patient_in_two_documents_gets_the_same_id():
    # HL7's CCD and Care Plan examples: one patient, SSN 444222222, born 1975-05-01
    ccd, _, _ = patient_of(CCD)
    care_plan, _, _ = patient_of((DOCS / "Care Plan" / "Care_Plan.xml").read_bytes())
    assert ccd == care_plan == patient_of(SAMPLE_CCD)[0]      # and the same again, from the file


def test_a_different_identifier_or_birth_date_is_a_different_patient():
    ccd, _, _ = patient_of(CCD)
    other_ssn, _, _ = patient_of(CCD.replace(SSN_ID, SSN_ID.replace(b"444222222", b"444222223")))
    # a sample identifier copied onto another person: the birth date keeps them apart
    other_birth, _, _ = patient_of(CCD.replace(b'<birthTime value="19750501" />', b'<birthTime value="19800101" />', 1))
    assert len({ccd, other_ssn, other_birth}) == 3


def test_any_other_identifier_is_preferred_to_an_ssn_whatever_its_place():
    mrn = b'<id extension="998991" root="2.16.840.1.113883.19.5.99999.2" />'
    mrn_after_ssn, _, _ = patient_of(CCD.replace(SSN_ID, SSN_ID + mrn))
    mrn_before_ssn, _, _ = patient_of(CCD.replace(SSN_ID, mrn + SSN_ID))
    mrn_only, _, _ = patient_of(CCD.replace(SSN_ID, mrn))
    assert mrn_after_ssn == mrn_before_ssn == mrn_only != patient_of(CCD)[0]


@pytest.mark.parametrize("replacement", [b"", b'<id nullFlavor="UNK" />', b'<id root="2.16.840.1.113883.4.1" />'],
                         ids=["no-id", "null-flavored", "ssn-root-without-number"])
def test_without_a_usable_identifier_the_patient_is_the_documents_own(replacement):
    data = CCD.replace(SSN_ID, replacement)
    pid, _, report = patient_of(data)
    assert FHIR_ID.fullmatch(pid)
    assert pid == patient_of(data)[0]                                 # still stable
    other_document = data.replace(b'<id extension="TT988"', b'<id extension="TT989"', 1)
    assert patient_of(other_document)[0] != pid                       # never linked to another document
    [note] = [i for i in report.issues if "recordTarget has no usable identifier" in i.reason]
    assert note.level == "warning" and "not linked to other documents" in note.reason


def test_the_id_survives_the_worker_pool_and_a_time_limit():
    pid, _, _ = patient_of(CCD)
    assert patient_of(CCD, timeout=120)[0] == pid
