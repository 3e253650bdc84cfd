"""Patient ids: the caller's must be a valid FHIR id; {stem} makes one from any file name, and
FROM_DOCUMENT one from the document's recordTarget."""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from enum import Enum
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .assemble.ids import NAMESPACE, ii_key
from .errors import InvalidPatientIdError

MAX_LENGTH = 64
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_NOT_ID = re.compile(r"[^A-Za-z0-9\-.]+")
RULE = "1 to 64 characters, each a letter A-Z a-z, a digit, '-' or '.'"


def check_patient_id(patient_id) -> str:
    """``patient_id`` itself when it is a valid FHIR id, else InvalidPatientIdError saying why."""
    if not isinstance(patient_id, str):
        raise InvalidPatientIdError(f"patient_id must be a str, not {type(patient_id).__name__}")
    if _FHIR_ID.fullmatch(patient_id):
        return patient_id
    shown = patient_id if len(patient_id) <= 40 else patient_id[:40] + "..."
    raise InvalidPatientIdError(f"patient_id {shown!r} ({len(patient_id)} characters) is not a valid FHIR id: {RULE}")


def id_from_name(name: str, max_length: int = MAX_LENGTH) -> str:
    """A valid FHIR id made from a file name, deterministically, at most ``max_length`` long.

    Runs of characters an id cannot hold become one '-', '-' at either end is dropped; a name
    that had to change, or comes out empty or too long, gets '-' and 8 hex digits of the SHA-256
    of the whole name, so two names never share an id by being mended alike.
    """
    if max_length < 9:
        raise ValueError(f"an id made from a file name needs room for its hash: max_length {max_length} < 9")
    if _FHIR_ID.fullmatch(name) and len(name) <= max_length:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    mended = _NOT_ID.sub("-", name).strip("-")[:max_length - 9].rstrip("-")
    return f"{mended}-{digest}" if mended else digest


# ---- ids made for many documents: {stem} templates and ids read from the document -----------------

STEM = "{stem}"


class PatientIdFrom(Enum):
    """Where the patient id comes from when the caller does not give one."""

    DOCUMENT = "document"


FROM_DOCUMENT = PatientIdFrom.DOCUMENT
"""Pass as ``patient_id``: the id is made from the document's recordTarget (``id_from_document``)."""


def patient_id_for(template: str, path: Path) -> str:
    """The patient id for one file: the template with {stem} replaced by a valid FHIR id made from
    the file's name without its suffix (``id_from_name``), fitted so that the whole id stays within
    64 characters."""
    count = template.count(STEM)
    if not count:
        return template
    room = (MAX_LENGTH - len(template) + count * len(STEM)) // count
    if room < 9:
        raise InvalidPatientIdError(f"--patient-id {template!r} leaves {room} characters for {STEM}; "
                                    f"an id is at most {MAX_LENGTH}")
    return template.replace(STEM, id_from_name(path.stem, room))


_V3 = "{urn:hl7-org:v3}"
_SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"


@lru_cache(maxsize=1)
def _ssn_roots() -> frozenset:
    """The identifier roots (data/identifier_systems.json) whose system is the US SSN."""
    data = json.loads(resources.files("ccda2fhir.data").joinpath("identifier_systems.json").read_text())
    return frozenset(root for root, system in data.items() if system == _SSN_SYSTEM)


def id_from_document(root, data: bytes) -> tuple[str, str | None]:
    """(patient id, why it could not come from an identifier or None) for a parsed ClinicalDocument.

    The id is uuid3 of the first usable recordTarget/patientRole/id (document order; an SSN only
    when there is nothing else) together with the patient's birth date, so the same patient in
    two documents of one sender gets the same id, while people who share a copied sample or
    placeholder identifier differ by birth date. Without a usable identifier the patient is the
    document's own (uuid3 of the ClinicalDocument/id, else of the document's SHA-256): never
    linked to another document's patient, which is safer than a guess.
    """
    role = root.find(f"{_V3}recordTarget/{_V3}patientRole")
    keys = [] if role is None else [(_ii(el), el.get("root", "").strip()) for el in role.iterfind(f"{_V3}id")]
    usable = [key for key, ii_root in keys if key and ii_root not in _ssn_roots()] or [key for key, _ in keys if key]
    if usable:
        birth = role.find(f"{_V3}patient/{_V3}birthTime")
        born = "".join(c for c in (birth.get("value", "") if birth is not None else "") if c.isdigit())[:8]
        return str(uuid.uuid3(NAMESPACE, f"PatientIdentifier|{usable[0]}|{born}")), None
    doc_id = root.find(f"{_V3}id")
    key = _ii(doc_id) if doc_id is not None else None
    why = "the recordTarget has no usable identifier: the patient id is made from this document's " \
          + ("id" if key else "content") + ", so this patient is not linked to other documents"
    key = key or "sha256:" + hashlib.sha256(data).hexdigest()
    return str(uuid.uuid3(NAMESPACE, f"PatientOfDocument|{key}")), why


def _ii(el) -> str | None:
    return ii_key({"root": el.get("root"), "extension": el.get("extension"), "nullFlavor": el.get("nullFlavor")})
