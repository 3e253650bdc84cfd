"""CD/CE/CV/CO/CS -> FHIR Coding and CodeableConcept (C-CDA on FHIR 'CDA coding')."""
from __future__ import annotations

from ..engine.registry import template_filter
from .navigation import many, one
from .terminology import system_by_name, system_uri
from .text import narrative_text

def _clean(value) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None


@template_filter
def coding(cd) -> dict | None:
    """One Coding from a coded element's own code (None for nullFlavor or no code)."""
    cd = one(cd)
    if not isinstance(cd, dict) or cd.get("nullFlavor"):
        return None
    code = _clean(cd.get("code"))
    if not code:
        return None
    # no @codeSystem at all: a well-known @codeSystemName ("LOINC") still names the system
    system = system_uri(cd.get("codeSystem")) if cd.get("codeSystem") else system_by_name(cd.get("codeSystemName"))
    out = {"system": system, "code": code} if system else {"code": code}
    display = _clean(cd.get("displayName"))
    if display:
        out["display"] = display
    version = _clean(cd.get("codeSystemVersion"))
    if version:
        out["version"] = version
    return out


def original_text(cd: dict) -> str | None:
    ot = cd.get("originalText")
    if isinstance(ot, dict):
        return narrative_text(ot.get("reference")) or _clean(ot.get("_text"))
    return None


def _with_translations(cd: dict):
    yield cd
    for t in many(cd.get("translation")):
        if isinstance(t, dict):
            yield from _with_translations(t)  # translations of translations occur in the wild


@template_filter
def codings(cd) -> list[dict]:
    """The code and all its translations as Codings, each once."""
    out, seen = [], set()
    for c in many(cd):
        if not isinstance(c, dict):
            continue
        # most codes carry no translation: no generator for them
        for x in (_with_translations(c) if c.get("translation") else (c,)):
            cod = coding(x)
            if cod and (cod.get("system"), cod["code"]) not in seen:
                seen.add((cod.get("system"), cod["code"]))
                out.append(cod)
    return out


@template_filter
def codeable_concept(cd) -> dict | None:
    """CodeableConcept: code + translations, text from originalText (narrative-resolved) or displayName."""
    cd = one(cd)
    if not isinstance(cd, dict):
        return None
    cods = codings(cd)
    txt = original_text(cd) or _clean(cd.get("displayName"))
    if not txt and not cods:
        txt = _clean(cd.get("_text"))
    if not cods and not txt:
        return None
    out = {}
    if cods:
        out["coding"] = cods
    if txt:
        out["text"] = txt
    return out


@template_filter
def codeable_concepts(items) -> list[dict]:
    """A CodeableConcept for each coded element of a list."""
    return [c for x in many(items) if (c := codeable_concept(x))]


@template_filter
def code_of(cd) -> str | None:
    """Just the @code of a coded element (for FHIR elements of type code)."""
    cd = one(cd)
    if not isinstance(cd, dict) or cd.get("nullFlavor"):
        return None
    return _clean(cd.get("code"))


@template_filter
def code_is(cd, *codes: str) -> bool:
    """Whether a coded element's own @code is one of ``codes`` (translations not looked at; a
    nullFlavored element matches none)."""
    return code_of(cd) in codes


# HL7 extension (FHIR extensions pack) for a FHIR element of type `code`: "alternate codings and/or
# original text for the concept represented by the code". Where the source gives a coded concept
# that the mapping turns into a FHIR enum (a status, a severity), the source coding goes here.
ALTERNATE_CODES = "http://hl7.org/fhir/StructureDefinition/alternate-codes"


@template_filter
def alternate_codes(cd) -> dict | None:
    """The `_element` of a FHIR code mapped from a coded source value: the alternate-codes
    extension holding that value's CodeableConcept (None when it has no code)."""
    cc = codeable_concept(cd)
    if not cc or not cc.get("coding"):
        return None
    return {"extension": [{"url": ALTERNATE_CODES, "valueCodeableConcept": cc}]}
