"""What an Allergy - Intolerance Observation holds, and its Allergy Concern Act: nested statements
by role (reaction, severity, status, criticality, comment), the substance, the allergy type.
"""
from __future__ import annotations

from ...datatypes.navigation import children, has_template, many, one
from ...datatypes.status import status_code
from ...datatypes.terminology import concept

# Nested statements by role: templateIds (R2.x, R1.1, IHE) and, for the templateless ones
# some systems send, the observation code that names the role.
REACTION = ("2.16.840.1.113883.10.20.22.4.9", "2.16.840.1.113883.10.20.1.54")
SEVERITY = ("2.16.840.1.113883.10.20.22.4.8", "2.16.840.1.113883.10.20.1.55",
            "1.3.6.1.4.1.19376.1.5.3.1.4.1")
STATUS = ("2.16.840.1.113883.10.20.22.4.28", "2.16.840.1.113883.10.20.1.39",
          "1.3.6.1.4.1.19376.1.5.3.1.4.1.1")
CRITICALITY = ("2.16.840.1.113883.10.20.22.4.145",)
COMMENT = ("2.16.840.1.113883.10.20.22.4.64", "2.16.840.1.113883.10.20.1.40",
           "1.3.6.1.4.1.19376.1.5.3.1.4.2")
ALLERGY = ("2.16.840.1.113883.10.20.22.4.7", "2.16.840.1.113883.10.20.22.4.90",
           "2.16.840.1.113883.10.20.1.18", "1.3.6.1.4.1.19376.1.5.3.1.4.6")
_ROLE_CODES = {"SEV": SEVERITY, "33999-4": STATUS, "82606-5": CRITICALITY}


def plays_role(stmt, roles: tuple) -> bool:
    if not isinstance(stmt, dict):
        return False
    if has_template(stmt, *roles):
        # A reaction carries its own templates plus, in HITSP C32, the allergy ones: the
        # most specific role wins, so an R1.1 reaction is never taken for a severity.
        return not (roles is not REACTION and has_template(stmt, *REACTION))
    if stmt.get("templateId"):
        return False
    code = stmt.get("code") if isinstance(stmt.get("code"), dict) else {}
    return _ROLE_CODES.get(code.get("code")) is roles


def nested_in_role(stmt, roles: tuple) -> list[dict]:
    return [c for c in children(stmt) if plays_role(c, roles)]


CONCERN = ("2.16.840.1.113883.10.20.22.4.30", "2.16.840.1.113883.10.20.1.27",
           "1.3.6.1.4.1.19376.1.5.3.1.4.5.1", "1.3.6.1.4.1.19376.1.5.3.1.4.5.2",
           "1.3.6.1.4.1.19376.1.5.3.1.4.5.3")


def allergy_concern(parents):
    """The Allergy Concern Act holding the observation (None when it sits elsewhere, say in
    an encounter, whose status says nothing about the allergy)."""
    p = one(parents)
    if not isinstance(p, dict):
        return None
    code = p.get("code") if isinstance(p.get("code"), dict) else {}
    return p if has_template(p, *CONCERN) or code.get("code") == "CONC" else None


def allergies_in(concern) -> list[dict]:
    return [c for c in children(concern)
            if has_template(c, *ALLERGY) and not plays_role(c, REACTION) and not plays_role(c, SEVERITY)]


def first_in_role(src, concern, roles):
    """The nested statement of a role: the observation's own first, then the concern act's."""
    found = nested_in_role(src, roles) or (nested_in_role(concern, roles) if concern else [])
    return found[0] if found else None


def value_cd(stmt):
    return one((stmt or {}).get("value")) if isinstance(stmt, dict) else None


SNOMED = "2.16.840.1.113883.6.96"


def allergy_kind(src):
    """The allergy-type concept: the observation value (C-CDA); HITSP C83 puts it in
    observation/code instead (a SNOMED code where C-CDA has ASSERTION)."""
    value = value_cd(src)
    code = src.get("code") if isinstance(src.get("code"), dict) else None
    if not (code and code.get("code") and (code.get("codeSystem") or "").strip() == SNOMED):
        return value
    if not (isinstance(value, dict) and value.get("code")) or (not _types(value) and _types(code)):
        # no coded value, or a value no map knows ('Adverse reaction to substance') beside a
        # code that says the type ('drug allergy'): the code is the type
        return code
    return value


def _types(cd) -> bool:
    """Whether a concept gives an allergy type or category."""
    return any(concept(cd, name) for name in ("AllergyIntoleranceType", "AllergyTypeExtra",
                                                "AllergyIntoleranceCategory", "AllergyCategoryExtra"))


def substance(src) -> dict | None:
    """participant[@typeCode=CSM]/participantRole/playingEntity (any participant when untyped)."""
    parts = many(src.get("participant"))
    for p in sorted(parts, key=lambda p: p.get("typeCode") != "CSM"):
        entity = ((p.get("participantRole") or {}).get("playingEntity"))
        if isinstance(entity, dict):
            return entity
    return None


def nullified(stmt) -> bool:
    return status_code(stmt) == "nullified"
