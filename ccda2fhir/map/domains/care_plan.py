"""The one CarePlan of a Care Plan document: it references the resources of the Health Concerns,
Goals, Interventions, Outcomes and Plan of Treatment sections.
"""
from __future__ import annotations

import weakref
from html import escape

from ..datatypes.navigation import many, statement_of, template_ids
from ..engine.registry import template_global
from ..engine.routes import section_keys
from ..shared.statements import emit_statement
from ..state import current

CARE_PLAN_DOC = "2.16.840.1.113883.10.20.22.1.15"
CARE_PLAN_CODE = "52521-2"
# Sections a Care Plan's parts come from (template id roots and LOINC codes).
HEALTH_CONCERNS = ("2.16.840.1.113883.10.20.22.2.58", "75310-3")
GOALS = ("2.16.840.1.113883.10.20.22.2.60", "61146-7")
INTERVENTIONS = ("2.16.840.1.113883.10.20.21.2.3", "62387-6")
OUTCOMES = ("2.16.840.1.113883.10.20.22.2.61", "11383-7")
PLAN = ("2.16.840.1.113883.10.20.22.2.10", "18776-5")
# CarePlan.activity.reference may only name these types (R4); others go to outcomeReference.
_ACTIVITY_TYPES = ("Appointment", "CommunicationRequest", "DeviceRequest", "MedicationRequest",
                   "NutritionOrder", "Task", "ServiceRequest", "VisionPrescription", "RequestGroup")
# conversion -> its CarePlan: None not yet asked, False not a care plan, "building", or the Reference
_CARE_PLAN: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _is_care_plan(header: dict) -> bool:
    code = header.get("code") if isinstance(header.get("code"), dict) else {}
    return code.get("code") == CARE_PLAN_CODE or CARE_PLAN_DOC in template_ids(header)


def _sections_of(conv, keys) -> list[dict]:
    return [s for s in conv.doc.get("sections") or () if section_keys(s) & set(keys)]


def _entry_refs(conv, sections, types=None) -> list[dict]:
    out = []
    for section in sections:
        for entry in many(section.get("entries")):
            el, stmt = statement_of(entry)
            if stmt is None:
                continue
            for ref in emit_statement(section, el, stmt, [], types):
                if ref not in out:
                    out.append(ref)
    return out


def _narrative_div(header: dict, sections: list[dict]) -> dict:
    title = (header.get("title") or {}).get("_text") if isinstance(header.get("title"), dict) else None
    parts = [f"<p>{escape(title or 'Care Plan')}</p>"]
    for s in sections:
        if s.get("title"):
            parts.append(f"<p>{escape(str(s['title']))}</p>")
    return {"status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">' + "".join(parts) + "</div>"}


@template_global
def care_plan_hook() -> None:
    """Make the document's one CarePlan (Care Plan documents only), once, whichever plan entry
    asks first. It references the resources of the Health Concerns, Goals, Interventions,
    Outcomes and Plan of Treatment sections, rendered as the dispatcher renders them."""
    try:
        conv = current()
    except LookupError:
        return None
    if _CARE_PLAN.get(conv) is not None:
        return None
    if not _is_care_plan(conv.header):
        _CARE_PLAN[conv] = False
        return None
    _CARE_PLAN[conv] = "building"
    header = conv.header
    addresses = [r for r in _entry_refs(conv, _sections_of(conv, HEALTH_CONCERNS))
                 if r["reference"].startswith("Condition/")]
    goals = [r for r in _entry_refs(conv, _sections_of(conv, GOALS)) if r["reference"].startswith("Goal/")]
    activity = []
    for ref in _entry_refs(conv, _sections_of(conv, PLAN + INTERVENTIONS + OUTCOMES)):
        rt = ref["reference"].split("/")[0]
        if rt in ("Goal", "CarePlan"):
            continue
        act = {"reference": ref} if rt in _ACTIVITY_TYPES else {"outcomeReference": [ref]}
        if act not in activity:
            activity.append(act)
    sections = [s for s in conv.doc.get("sections") or ()]
    saved = conv.section
    conv.section = None
    try:
        _CARE_PLAN[conv] = conv.emit("resource/CarePlan", src=header, section=None, addresses=addresses,
                                   goals=goals, activities=activity, narrative=_narrative_div(header, sections))
    finally:
        conv.section = saved
    return None
