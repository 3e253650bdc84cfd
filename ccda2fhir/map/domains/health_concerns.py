"""Health Concern Acts (4.132) and Risk Concern Acts (4.136) -> Condition (health-concern)."""
from __future__ import annotations

from ...assemble.ids import ii_key
from ..datatypes.codes import codeable_concept
from ..datatypes.navigation import children, many, one, related, template_ids
from ..datatypes.status import negated, status_code
from ..datatypes.terminology import concept
from ..datatypes.text import text
from ..engine.registry import template_global
from ..shared.statements import ENTRY_REFERENCE, logical_ref, refs_to_statements
from ..state import current

_PROBLEM_OBS = ("2.16.840.1.113883.10.20.22.4.4", "2.16.840.1.113883.10.20.1.28")
_HEALTH_CONCERN_CODE = "75310-3"


@template_global
def health_concern_stands_alone(src) -> bool:
    """Whether a Health Concern Act is itself the concern: not negated, no nested Problem
    Observation (those become the Conditions), and something to say (narrative, a specific code,
    or Entry References to the problems it is about)."""
    if not isinstance(src, dict) or related(src, *_PROBLEM_OBS):
        return False
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
    act's ids: WRAPPERS in domains/conditions.py), so the act's Entry References are its evidence,
    as for an act standing alone (resource/HealthConcernAct); targets not in the document as
    logical references.
    An Entry Reference naming the observation itself is left out (no self-evidence)."""
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
