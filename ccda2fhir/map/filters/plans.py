"""Plans, requests and references between statements (Plan of Treatment, Care Plan, Referrals).

Planned statements (moodCode INT/RQO/PRP/ARQ/PRMS/APT) become request resources:
ServiceRequest, CommunicationRequest, SupplyRequest, or the medication engineer's
MedicationRequest/ImmunizationRecommendation. This module also resolves a statement's
pointer to another statement (Entry Reference 4.122, an Indication whose id is a
problem's id) to the resource that other statement becomes, and makes the one
CarePlan of a Care Plan document.

Resolving emits the target through its own route, with its own section and parents,
so the rendering is the one the dispatcher makes when it reaches it: the engine
keeps one resource (identical content dedups).
"""
from __future__ import annotations

import weakref
from html import escape

from ...assemble.ids import ii_key
from .codes import codeable_concept
from .navigation import STATEMENTS, children, many, one, statement_of, template_ids
from ..engine.registry import template_filter, template_global
from .status import status_code
from .terminology import concept

ENTRY_REFERENCE = "2.16.840.1.113883.10.20.22.4.122"
INDICATION = "2.16.840.1.113883.10.20.22.4.19"
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

_STATE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_MAX_DEPTH = 4


def _conv():
    from ..state import current
    return current()


def _state(conv) -> dict:
    st = _STATE.get(conv)
    if st is None:
        st = _STATE[conv] = {"index": None, "depth": 0, "careplan": None}
    return st


# ---- statuses, intents, priorities -------------------------------------------------------

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
    c = concept(one((src or {}).get("priorityCode")) if isinstance(src, dict) else None, "RequestPriority")
    return c["code"] if c else None


# ---- statement index and resolution -------------------------------------------------------

def _section_keys(section: dict) -> set:
    keys = set(section.get("templateIds") or ())
    code = section.get("code") or {}
    if isinstance(code, dict) and code.get("code"):
        keys.add(code["code"])
    return keys


def _index(conv) -> dict:
    """id key -> [(section, element, stmt, parents)] over every statement of the document."""
    st = _state(conv)
    if st["index"] is not None:
        return st["index"]
    idx: dict = {}

    def visit(section, element, stmt, parents, depth):
        for ii in many(stmt.get("id")):
            k = ii_key(ii)
            if k:
                idx.setdefault(k, []).append((section, element, stmt, parents))
        if depth > 12:
            return
        for rel in many(stmt.get("entryRelationship")) + many(stmt.get("component")):
            el, child = statement_of(rel)
            if child is not None:
                visit(section, el, child, [stmt] + parents, depth + 1)

    for section in conv.doc.get("sections") or ():
        for entry in many(section.get("entries")):
            el, stmt = statement_of(entry)
            if stmt is not None:
                visit(section, el, stmt, [], 0)
    st["index"] = idx
    return idx


def _route_for(element, stmt, section):
    from ..engine.routes import table
    routes = table()
    route = routes.match(element, template_ids(stmt), _section_keys(section))
    return route if route is not None else routes.fallback.get(element)


def emit_statement(section, element, stmt, parents, types=None) -> list[dict]:
    """The References of what the dispatcher makes of one statement (its own route), made now.

    A route without a template (a concern act that descends) gives the references of its
    nested statements. ``types`` limits the result (and what is rendered) to these resource
    templates. Depth-limited: statements pointing at statements pointing back stop here.
    """
    conv = _conv()
    st = _state(conv)
    if st["depth"] >= _MAX_DEPTH:
        return []
    route = _route_for(element, stmt, section)
    if route is None:
        return []
    template = route.template_for(stmt)
    out = []
    st["depth"] += 1
    # Render as the dispatcher would in that section: templates that dispatch their own nested
    # statements read conv.section; what they add to the section's entry list is dropped here
    # (the dispatcher adds it when it reaches that section).
    saved_where, saved_section, saved_refs = conv.where, conv.section, conv.entry_refs
    conv.section, conv.entry_refs = section, []
    try:
        if template:
            if types is None or template.split("/")[-1] in types:
                ref = conv.emit(template, src=stmt, parents=parents, element=element, section=section)
                if ref:
                    out.append(ref)
        if not template or route.descend:
            for rel in many(stmt.get("entryRelationship")) + many(stmt.get("component")):
                el, child = statement_of(rel)
                if child is None or route.absorbs.intersection(template_ids(child)):
                    continue
                for ref in emit_statement(section, el, child, [stmt] + parents, types):
                    if ref not in out:
                        out.append(ref)
    except Exception as exc:  # the target's own mapping reports its problems when it is reached
        conv.warn(f"could not resolve a reference to another entry: {type(exc).__name__}: {exc}")
    finally:
        st["depth"] -= 1
        conv.where, conv.section, conv.entry_refs = saved_where, saved_section, saved_refs
    return out


@template_global
def refs_to_statements(ids, types=None, exclude=None) -> list[dict]:
    """References to the resources made from the statements these ids identify elsewhere in
    the document (not Entry References, Indications or ``exclude`` itself)."""
    conv = _conv()
    idx = _index(conv)
    out = []
    for ii in many(ids):
        k = ii_key(ii)
        for section, element, stmt, parents in idx.get(k, ()) if k else ():
            if stmt is exclude or set(template_ids(stmt)) & {ENTRY_REFERENCE, INDICATION}:
                continue
            for ref in emit_statement(section, element, stmt, parents, types):
                if ref not in out:
                    out.append(ref)
            break
    return out


def statements_pointing_at(ids, templates) -> list[tuple]:
    """(section, element, stmt, parents) of the statements with one of ``templates`` that hold an
    Entry Reference to one of ``ids`` (e.g. the Outcome Observations evaluating a Goal)."""
    from .navigation import related
    conv = _conv()
    keys = {k for k in (ii_key(ii) for ii in many(ids)) if k}
    if not keys:
        return []
    out, seen = [], set()
    for entries in _index(conv).values():
        for section, element, stmt, parents in entries:
            if id(stmt) in seen or not set(template_ids(stmt)) & set(templates):
                continue
            for ref in related(stmt, ENTRY_REFERENCE):
                if keys & {ii_key(ii) for ii in many(ref.get("id"))}:
                    seen.add(id(stmt))
                    out.append((section, element, stmt, parents))
                    break
    return out


def _names_a_statement(ids, exclude=None) -> bool:
    """Whether one of these ids is the id of a statement of this document (other than pointers:
    Entry References, Indications, and ``exclude``)."""
    idx = _index(_conv())
    for ii in many(ids):
        k = ii_key(ii)
        for _s, _e, stmt, _p in idx.get(k, ()) if k else ():
            if stmt is not exclude and not set(template_ids(stmt)) & {ENTRY_REFERENCE, INDICATION}:
                return True
    return False


def _nests_statements(stmt) -> bool:
    """Whether a statement holds statements of its own (an Encounter Diagnosis act misusing the
    Indication templateId is such a wrapper, not a pointer)."""
    return any(statement_of(rel)[1] is not None
               for rel in many(stmt.get("entryRelationship")) + many(stmt.get("component")))


def logical_ref(ids, exclude=None) -> dict | None:
    """A FHIR logical reference ({"identifier": ...}, no "reference") to the entry these ids name,
    when that entry is NOT in this document: the FHIR-native way to keep a pointer to something
    recorded elsewhere (R4 Reference.identifier). None when the entry is in the document (its own
    resource carries the ids; a reference to it is made by resolution, or deliberately not made)
    or when no id identifies anything. No Reference.type: the pointer (code nullFlavor NP) does
    not say what kind of entry it names."""
    from .identifiers import identifier
    if _names_a_statement(ids, exclude):
        return None
    for ii in many(ids):
        ident = identifier(ii)
        if ident:
            return {"identifier": ident}
    return None


@template_global
def entry_reference_refs(src, types=None, logical=False) -> list[dict]:
    """References for the Entry Reference acts (4.122) nested in a statement. With ``logical``, an
    Entry Reference to an entry that is not in this document becomes a logical reference (its id
    as Reference.identifier) instead of being lost; use it only where the holder's element is a
    Reference that may name any such entry (Goal.addresses, Condition.evidence.detail)."""
    from .navigation import related
    out = []
    for act in related(src, ENTRY_REFERENCE):
        for ref in refs_to_statements(act.get("id"), types, exclude=act):
            if ref not in out:
                out.append(ref)
        if logical:
            ref = logical_ref(act.get("id"), exclude=act)
            if ref and ref not in out:
                out.append(ref)
    return out


_REASON_TYPES = ("Condition", "Observation", "Procedure", "AllergyIntolerance", "DiagnosticReport",
                 "DocumentReference")


@template_global
def indication_reasons(src) -> dict:
    """{'codes': reasonCode, 'refs': reasonReference} from Indications (4.19, and R1.1's forms).

    IG: when the indication's id is a statement converted elsewhere, reference it; else its value
    is a reasonCode. Our addition: an indication with an id of its own and a coded problem also
    becomes a Condition (resource/Indication) that reasonReference points at, so the source
    statement keeps its identity and dates; its value stays in reasonCode too.
    """
    from ..state import current
    from .encounters import reasons
    from .medications import indications, reason_observations
    refs = []
    resolved_codes = []
    for obs in reason_observations(src):
        found = [r for r in refs_to_statements(obs.get("id"), _REASON_TYPES, exclude=obs)
                 if r["reference"].split("/")[0] in _REASON_TYPES]
        cc = codeable_concept(one(obs.get("value")))
        if found:
            refs.extend(r for r in found if r not in refs)
            if cc:
                resolved_codes.append(cc)
        elif many(obs.get("id")) and cc and cc.get("coding"):
            made = current().emit("resource/Indication", src=obs, parents=[src])
            if made and made not in refs:
                refs.append(made)
        elif not (cc and cc.get("coding")) and not _nests_statements(obs):
            # Choice: an indication with no coded problem (value absent or nullFlavor) is only a
            # pointer by id to the problem that is the reason (C-CDA 4.19: its id may equal the
            # problem's id). When that problem is not in this document, keep the pointer as a
            # logical reference (Reference.identifier); its text/code, if any, stays in reasonCode.
            ref = logical_ref(obs.get("id"), exclude=obs)
            if ref and ref not in refs:
                refs.append(ref)
    codes = []
    for c in reasons(src) + indications(src):
        if c not in resolved_codes and c not in codes:
            codes.append(c)
    return {"codes": codes, "refs": refs}


# ---- Care Plan ------------------------------------------------------------------------------

def _is_care_plan(header: dict) -> bool:
    code = header.get("code") if isinstance(header.get("code"), dict) else {}
    return code.get("code") == CARE_PLAN_CODE or CARE_PLAN_DOC in template_ids(header)


def _sections_of(conv, keys) -> list[dict]:
    return [s for s in conv.doc.get("sections") or () if _section_keys(s) & set(keys)]


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
        conv = _conv()
    except LookupError:
        return None
    st = _state(conv)
    if st["careplan"] is not None:
        return None
    if not _is_care_plan(conv.header):
        st["careplan"] = False
        return None
    st["careplan"] = "building"
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
        st["careplan"] = conv.emit("resource/CarePlan", src=header, section=None, addresses=addresses,
                                   goals=goals, activities=activity, narrative=_narrative_div(header, sections))
    finally:
        conv.section = saved
    return None


@template_filter
def narrative_link(stmt) -> str | None:
    """The narrative text a statement's <text><reference> points to (for descriptions)."""
    from .text import text
    return text((stmt or {}).get("text")) if isinstance(stmt, dict) else None


__all__ = ["STATEMENTS", "emit_statement"]


# ---- request fields -------------------------------------------------------------------------

_REFERRAL = "2.16.840.1.113883.10.20.22.4.140"


@template_global
def service_request_category(src, section=None) -> list[dict]:
    """ServiceRequest.category: 'Patient referral' for Patient Referral Acts and entries of the
    Reason for Referral section; otherwise none (the IG does not say; US Core's category is
    must-support, not required)."""
    keys = _section_keys(section) if isinstance(section, dict) else set()
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
    from .participants import performer_refs, practitioner_ref
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
    from .conditions import comments
    return comments(src)


@template_global
def plan_instructions(src) -> str | None:
    """patientInstruction: the text of nested Instruction acts (4.20)."""
    from .navigation import related
    from .text import text
    parts = []
    for act in related(src, "2.16.840.1.113883.10.20.22.4.20", "2.16.840.1.113883.10.20.1.49"):
        t = text(act.get("text")) or (codeable_concept(act.get("code")) or {}).get("text")
        if t and t not in parts:
            parts.append(t)
    return "\n".join(parts) or None


@template_global
def communication_recipients(src) -> list[dict]:
    """CommunicationRequest.recipient from IRCP participants (Handoff Communication)."""
    from .participants import practitioner_ref
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
    from .procedures import _device_ref
    out = {"ref": None, "code": None}
    for p in many((src or {}).get("participant")):
        if isinstance(p, dict) and p.get("typeCode") == "DEV" and isinstance(p.get("participantRole"), dict):
            out["ref"] = _device_ref(p["participantRole"], src)
            if out["ref"]:
                return out
    prod = (src or {}).get("product") or {}
    mp = prod.get("manufacturedProduct") if isinstance(prod, dict) else None
    if isinstance(mp, dict):
        mat = mp.get("manufacturedMaterial") or mp.get("manufacturedLabeledDrug") or {}
        out["code"] = codeable_concept(mat.get("code")) if isinstance(mat, dict) else None
    return out


# ---- Health Concern Act standing alone -------------------------------------------------------

_PROBLEM_OBS = ("2.16.840.1.113883.10.20.22.4.4", "2.16.840.1.113883.10.20.1.28")
_HEALTH_CONCERN_CODE = "75310-3"


@template_global
def health_concern_stands_alone(src) -> bool:
    """Whether a Health Concern Act is itself the concern: not negated, no nested Problem
    Observation (those become the Conditions), and something to say (narrative, a specific code,
    or Entry References to the problems it is about)."""
    from .navigation import related
    from .status import negated
    from .text import text
    if not isinstance(src, dict) or related(src, *_PROBLEM_OBS):
        return False
    from ..state import current
    if negated(src):
        current().report_once(src, "negated Health Concern Act ('no known health concerns'): R4 has "
                                   "no negated Condition; not mapped")
        return False
    if text(src.get("text")) or _specific_code(src) or related(src, ENTRY_REFERENCE):
        return True
    if not children(src):
        current().report_once(src, "Health Concern Act with no narrative, no specific code and nothing "
                                   "nested: it names no concern; not mapped")
    return False


def _specific_code(src):
    code = one(src.get("code"))
    if isinstance(code, dict) and code.get("code") and code.get("code") != _HEALTH_CONCERN_CODE:
        return codeable_concept(code)
    return None


@template_global
def health_concern_code(src) -> dict | None:
    """The concern's code: a specific act code when given (not the generic 75310-3), with the
    narrative as text; with neither (a concern that only points at problems) the act's own code
    (LOINC 75310-3 'Health Concern'), the evidence saying which."""
    from .text import text
    cc = dict(_specific_code(src) or {})
    t = text(src.get("text"))
    if t:
        cc["text"] = t
    return cc or codeable_concept(src.get("code")) or {"text": "Health Concern"}


@template_global
def health_concern_clinical_status(src) -> dict:
    """clinicalStatus from the act's statusCode (IG ConditionClinicalStatus); active when none."""
    c = concept(status_code(src), "ConditionClinicalStatus")
    code = c["code"] if c else "active"
    return {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": code}]}


_CONCERN_ACTS = ("2.16.840.1.113883.10.20.22.4.132", "2.16.840.1.113883.10.20.22.4.136")


@template_global
def concern_evidence(src, parents) -> list[dict]:
    """Condition.evidence.detail for the Problem Observation a Health / Risk Concern Act holds:
    when it is the act's only Problem Observation, the Condition is that concern (it carries the
    act's ids, conditions.WRAPPERS), so the act's Entry References are its evidence, as for an act
    standing alone (resource/HealthConcernAct); targets not in the document as logical references.
    An Entry Reference naming the observation itself is left out (no self-evidence)."""
    from .navigation import related
    concern = one(parents)
    if not isinstance(concern, dict) or not set(template_ids(concern)) & set(_CONCERN_ACTS):
        return []
    if len(related(concern, *_PROBLEM_OBS)) != 1:
        return []
    own = {ii_key(ii) for ii in many((src or {}).get("id"))} - {None}
    out = []
    for act in related(concern, ENTRY_REFERENCE):
        if own & {ii_key(ii) for ii in many(act.get("id"))}:
            continue
        for ref in refs_to_statements(act.get("id"), exclude=act):
            if ref not in out:
                out.append(ref)
        ref = logical_ref(act.get("id"), exclude=act)
        if ref and ref not in out:
            out.append(ref)
    return out
