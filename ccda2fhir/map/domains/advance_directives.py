"""Advance Directive Observation / Organizer -> Consent (scope adr), and the referenced
external document -> DocumentReference.

No C-CDA on FHIR page covers advance directives. FHIR R4 Consent with scope 'adr'
(Advance Directive) is the resource FHIR defines for them; the directive's kind (the
observation code, e.g. Resuscitation status / LOINC Advance directive, and the organizer's
code, e.g. living will) is Consent.category, what it says (the value, e.g. Do not
resuscitate) is provision.code, its effective time provision.period.
"""
from __future__ import annotations

from ..datatypes.codes import alternate_codes, codeable_concept
from ..datatypes.dates import datetime
from ..datatypes.navigation import has_template, many, one
from ..datatypes.status import status_code, status_observation_value
from ..datatypes.terminology import concept
from ..datatypes.text import text
from ..engine.registry import template_global
from ..shared.external_documents import external_docs
from ..shared.participants import participants, related_person_ref
from ..state import current

ORGANIZER = ("2.16.840.1.113883.10.20.22.4.108",)
STATUS_OBS = ("2.16.840.1.113883.10.20.1.37",)   # R1.1 Advance directive status observation


@template_global
def adr_categories(src, parents) -> list[dict]:
    """category: the observation's code, then an enclosing Advance Directive Organizer's code."""
    out = []
    for item in [src] + [p for p in many(parents)[:1] if has_template(p, *ORGANIZER)]:
        cc = codeable_concept((item or {}).get("code"))
        if cc and cc not in out:
            out.append(cc)
    if not out:
        out.append({"coding": [{"system": "http://loinc.org", "code": "75320-2", "display": "Advance directive"}]})
    return out


def _status_value(src) -> dict | None:
    """The value of an R1.1 Advance Directive Status Observation the status map knows."""
    return status_observation_value(src, "AdvanceDirectiveStatusObservation", *STATUS_OBS)


@template_global
def adr_status_source(src) -> dict | None:
    """`_status`: the R1.1 status observation's own coding, when it agrees with the status given
    ('Current and verified' for active), kept in HL7's alternate-codes extension."""
    said = _status_value(src)
    if said and concept(said, "AdvanceDirectiveStatusObservation")["code"] == adr_status(src):
        return alternate_codes(said)
    return None


@template_global
def adr_status(src) -> str:
    """Consent.status: nullified -> entered-in-error; aborted/cancelled -> rejected; a directive
    whose effective time ended before the document was written -> inactive; else active (a recorded directive in force);
    an R1.1 status observation saying inactive (SNOMED 73425007) -> inactive."""
    code = status_code(src)
    if code == "nullified":
        return "entered-in-error"
    if code in ("aborted", "cancelled"):
        return "rejected"
    said = _status_value(src)
    if said and concept(said, "AdvanceDirectiveStatusObservation")["code"] == "inactive":
        return "inactive"
    eff = one((src or {}).get("effectiveTime"))
    high = eff.get("high") if isinstance(eff, dict) else None
    if isinstance(high, dict) and high.get("value") and datetime(high):
        # "Ended" as of the document's own time, never the clock: the same document must give
        # the same output whenever it is converted.
        end = datetime(high)[:10]
        as_of = (datetime(current().header.get("effectiveTime")) or "")[:10]
        if as_of and end < as_of[:len(end)]:
            return "inactive"
    return "active"


@template_global
def adr_actors(src) -> list[dict]:
    """provision.actor: the custodian/agent participants (CST: healthcare agent, who holds the
    directive) as RelatedPersons, role from their role code (else ParticipationType CST)."""
    out = []
    for p in participants(src, "CST"):
        role = p.get("participantRole")
        if not isinstance(role, dict):
            continue
        ref = related_person_ref(role)
        if not ref:
            continue
        role_cc = codeable_concept(role.get("code")) or {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "CST",
            "display": "custodian"}]}
        out.append({"role": role_cc, "reference": ref})
    return out


@template_global
def adr_verification(src) -> list[dict]:
    """verification: a VRF participant means the directive was verified (verifier itself is a
    clinician, which R4 verifiedWith (Patient|RelatedPerson) cannot hold)."""
    out = []
    for p in participants(src, "VRF"):
        out.append({"verified": True, "verificationDate": datetime(p.get("time"))})
    return out


@template_global
def adr_attachment(src) -> dict | None:
    """sourceAttachment: the external document's text reference URL and mediaType."""
    for doc in external_docs(src):
        ed = one(doc.get("text")) or {}
        ref = one(ed.get("reference")) if isinstance(ed, dict) else None
        url = (ref or {}).get("value", "").strip() if isinstance(ref, dict) else ""
        if url and not url.startswith("#"):
            return {"contentType": (ed.get("mediaType") or "").strip() or None, "url": url,
                    "title": text(doc.get("title")) if doc.get("title") else None}
    return None


@template_global
def adr_documents(src) -> list[dict]:
    """References to the DocumentReferences made from the directive's external documents."""
    out = []
    for doc in external_docs(src):
        ref = current().emit("resource/ExternalDocumentReference", src=doc, directive=src)
        if ref:
            out.append(ref)
    return out
