"""Plans and requests (Plan of Treatment, Referrals): planned statements (moodCode
INT/RQO/PRP/ARQ/PRMS/APT) become request resources: ServiceRequest, CommunicationRequest,
SupplyRequest, or the medication engineer's MedicationRequest/ImmunizationRecommendation.
"""
from __future__ import annotations

from ..datatypes.codes import codeable_concept
from ..datatypes.navigation import many, one, template_ids
from ..datatypes.status import status_code
from ..datatypes.terminology import concept
from ..datatypes.text import text
from ..engine.registry import template_filter, template_global
from ..engine.routes import section_keys
from ..shared.comments import comments
from ..shared.participants import device_ref, performer_refs, practitioner_ref

@template_filter
def request_intent(src) -> str:
    """Request intent from the moodCode (valuemaps/plans.json RequestIntent); 'plan' by default."""
    c = concept((src or {}).get("moodCode") if isinstance(src, dict) else None, "RequestIntent")
    return c["code"] if c else "plan"


@template_filter
def request_status(src, map_name: str = "RequestStatus") -> str:
    """Request status from the statusCode; 'active' for a planned entry with none, 'unknown'
    (or the map's nearest) when the statusCode is a nullFlavor."""
    sc = status_code(src)
    c = concept(sc, map_name)
    if c:
        return c["code"]
    stc = one((src or {}).get("statusCode")) if isinstance(src, dict) else None
    if isinstance(stc, dict) and stc.get("nullFlavor"):
        return "unknown" if map_name == "RequestStatus" else "active"
    return "active"


@template_filter
def request_priority(src) -> str | None:
    """Request priority (routine | urgent | asap | stat) from the v3 priorityCode (valuemaps/plans.json
    RequestPriority); none when the code is absent or not in the map."""
    c = concept(one((src or {}).get("priorityCode")) if isinstance(src, dict) else None, "RequestPriority")
    return c["code"] if c else None


@template_filter
def narrative_link(stmt) -> str | None:
    """The narrative text a statement's <text><reference> points to (for descriptions)."""
    return text((stmt or {}).get("text")) if isinstance(stmt, dict) else None


_REFERRAL = "2.16.840.1.113883.10.20.22.4.140"


@template_global
def service_request_category(src, section=None) -> list[dict]:
    """ServiceRequest.category: 'Patient referral' for Patient Referral Acts and entries of the
    Reason for Referral section; otherwise none (the IG does not say; US Core's category is
    must-support, not required)."""
    keys = section_keys(section) if isinstance(section, dict) else set()
    if _REFERRAL in template_ids(src) or keys & {"1.3.6.1.4.1.19376.1.5.3.1.3.1", "42349-1"}:
        return [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005",
                             "display": "Patient referral"}]}]
    return []


@template_global
def service_request_fallback_text(src) -> str:
    """A last-resort code text from the statement's element and mood (code is required)."""
    tids = template_ids(src)
    if _REFERRAL in tids:
        return "Referral"
    return "Planned activity"


@template_global
def plan_performers(src) -> list[dict]:
    """ServiceRequest.performer from performers and PRF participants (REFT: the referred-to provider)."""
    out = performer_refs((src or {}).get("performer"))
    for p in many((src or {}).get("participant")):
        if isinstance(p, dict) and p.get("typeCode") in ("PRF", "PPRF", "SPRF", "REFT"):
            role = p.get("participantRole")
            if isinstance(role, dict):
                ref = practitioner_ref({**role, "assignedPerson": role.get("playingEntity")}) \
                    if role.get("playingEntity") or many(role.get("id")) else None
                if ref and ref not in out:
                    out.append(ref)
    return out


@template_global
def plan_notes(src) -> list[dict]:
    """Annotations: Comment Activities, plus the text of nested Instructions when the request
    is not itself an instruction."""
    return comments(src)


@template_global
def communication_recipients(src) -> list[dict]:
    """CommunicationRequest.recipient from IRCP participants (Handoff Communication)."""
    out = []
    for p in many((src or {}).get("participant")):
        if isinstance(p, dict) and p.get("typeCode") == "IRCP":
            role = p.get("participantRole")
            if isinstance(role, dict):
                ref = practitioner_ref({**role, "assignedPerson": role.get("playingEntity")})
                if ref and ref not in out:
                    out.append(ref)
    return out


@template_global
def supply_item(src) -> dict:
    """A planned supply's item: a device (Product Instance participant) as a Device reference,
    else the product's medication code."""
    out = {"ref": None, "code": None}
    for p in many((src or {}).get("participant")):
        if isinstance(p, dict) and p.get("typeCode") == "DEV" and isinstance(p.get("participantRole"), dict):
            out["ref"] = device_ref(p["participantRole"], src)
            if out["ref"]:
                return out
    prod = (src or {}).get("product") or {}
    mp = prod.get("manufacturedProduct") if isinstance(prod, dict) else None
    if isinstance(mp, dict):
        mat = mp.get("manufacturedMaterial") or mp.get("manufacturedLabeledDrug") or {}
        out["code"] = codeable_concept(mat.get("code")) if isinstance(mat, dict) else None
    return out
