"""Patient ids: the caller's must be a valid FHIR id; the CLI's {stem} makes one from any file name."""
from __future__ import annotations

import hashlib
import re

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
