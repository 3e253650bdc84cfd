"""Goal Observation (4.121) -> US Core Goal: description, targets, dates, addresses, achievement."""
from __future__ import annotations

from ..datatypes.codes import codeable_concept
from ..datatypes.dates import date, parse_ts
from ..datatypes.navigation import children, many, one, related
from ..datatypes.quantities import quantity, range_
from ..datatypes.status import data_absent, status_code
from ..datatypes.terminology import concept
from ..datatypes.text import text
from ..engine.registry import template_filter, template_global
from ..shared.statements import (emit_statement, entry_reference_refs, refs_to_statements,
                                 statements_pointing_at)

# What a goal may address (Goal.addresses: Condition | Observation | MedicationStatement |
# NutritionOrder | ServiceRequest | RiskAssessment): only these are resolved, so a goal never
# renders another goal while being rendered.
_ADDRESSABLE = ("Condition", "Observation", "MedicationStatement", "ServiceRequest")


@template_filter
def goal_lifecycle(src) -> str:
    """lifecycleStatus from statusCode (valuemaps/plans.json GoalLifecycle); C-CDA fixes it to active."""
    c = concept(status_code(src), "GoalLifecycle")
    return c["code"] if c else "active"


@template_global
def goal_achievement(progress) -> dict | None:
    """achievementStatus: the Progress Toward Goal value, with the FHIR goal-achievement coding
    added when the SNOMED code is one the table knows."""
    if not isinstance(progress, dict):
        return None
    value = one(progress.get("value"))
    cc = codeable_concept(value)
    if not cc:
        return None
    fhir = concept(value, "GoalAchievement")
    if fhir:
        cc["coding"] = [fhir] + [c for c in cc.get("coding", []) if c != fhir]
    return cc


@template_global
def goal_description(src) -> dict:
    """Goal.description (required). A coded value is the goal itself (SDOH goals: LOINC observable
    as code, SNOMED goal concept as value), so it describes the goal; else the code (a goal
    concept, or the observable a quantity target is set on). The narrative, when referenced, is
    the text; the narrative alone, else data-absent."""
    src = src or {}
    value = one(src.get("value"))
    cc = None
    if isinstance(value, dict) and value.get("xsi_type") in ("CD", "CE", "CV", "CO"):
        cc = codeable_concept(value)
    cc = dict(cc or codeable_concept(src.get("code")) or {})
    narrative = text(src.get("text"))
    if narrative:
        cc["text"] = narrative
    if cc:
        return cc
    return {"extension": [data_absent((src.get("code") or {}).get("nullFlavor") or "UNK")]}


def _detail(value) -> dict:
    v = one(value)
    if not isinstance(v, dict):
        return {}
    xt = v.get("xsi_type")
    if xt == "PQ":
        q = quantity(v)
        return {"detailQuantity": q} if q else {}
    if xt == "IVL_PQ":
        r = range_(v)
        return {"detailRange": r} if r else {}
    if xt in ("CD", "CE", "CV", "CO", "CS"):
        cc = codeable_concept(v)
        return {"detailCodeableConcept": cc} if cc else {}
    if xt in ("ST", "ED"):
        t = text(v)
        return {"detailString": t} if t else {}
    if xt == "INT" and v.get("value"):
        try:
            return {"detailInteger": int(v["value"])}
        except ValueError:
            return {}
    if xt == "BL" and v.get("value") in ("true", "false"):
        return {"detailBoolean": v["value"] == "true"}
    return {}


def _measure(code) -> dict:
    """target.measure: the goal's code; unknown (data-absent) when the source codes no measure
    for its value: FHIR requires a measure beside a detail (gol-1)."""
    cc = codeable_concept(code)
    if cc:
        return cc
    return {"extension": [data_absent((one(code) or {}).get("nullFlavor") or "UNK")]}


@template_global
def goal_targets(src) -> list[dict]:
    """Goal.target: measure = the goal's code when it carries a value (the value is the target),
    plus component goals' code/value; dueDate from effectiveTime/high."""
    src = src or {}
    eff = one(src.get("effectiveTime"))
    due = date(eff.get("high")) if isinstance(eff, dict) else None
    out = []
    goals = [src] + [c for c in children(src, "COMP") if c.get("moodCode") == "GOL"]
    for goal in goals:
        detail = _detail(goal.get("value"))
        if detail:
            t = {"measure": _measure(goal.get("code")), **detail, "dueDate": due}
            out.append({k: v for k, v in t.items() if v})
    if not out and due:
        out.append({"dueDate": due})
    return out


@template_global
def goal_start(src) -> str | None:
    """Goal.startDate: effectiveTime/low, else effectiveTime/@value (date precision)."""
    eff = one((src or {}).get("effectiveTime"))
    if not isinstance(eff, dict):
        return None
    return date(eff.get("low")) or (date(eff) if eff.get("value") else None)


@template_global
def goal_status_date(progress) -> str | None:
    """statusDate: the date of the Progress Toward Goal (see goal_progress): its effectiveTime
    @value, else low, else high, at date precision."""
    if not isinstance(progress, dict):
        return None
    eff = one(progress.get("effectiveTime"))
    if isinstance(eff, dict) and not eff.get("value"):
        eff = eff.get("low") or eff.get("high")
    ts = parse_ts(eff)
    return ts.date() if ts else None


@template_global
def goal_addresses(src) -> list[dict]:
    """Goal.addresses: what its Entry References (4.122) and RSON-nested concerns point at,
    when the target is mapped to an addressable resource in this document."""
    # Entry References to entries not in this document stay as logical references (identifier
    # only): Goal.addresses is the goal's link to what it addresses, whatever document holds it.
    out = [r for r in entry_reference_refs(src, ("Condition", "Observation", "MedicationStatement",
                                                 "ServiceRequest"), logical=True)
           if "reference" not in r or r["reference"].split("/")[0] in _ADDRESSABLE]
    for child in children(src, "RSON"):
        if "2.16.840.1.113883.10.20.22.4.122" in [t.get("root") for t in many(child.get("templateId"))]:
            continue
        for r in refs_to_statements(child.get("id"), ("Condition", "Observation"), exclude=None):
            if r["reference"].split("/")[0] in _ADDRESSABLE and r not in out:
                out.append(r)
    return out


OUTCOME_OBSERVATION = "2.16.840.1.113883.10.20.22.4.144"
PROGRESS_TOWARD_GOAL = "2.16.840.1.113883.10.20.22.4.110"


@template_global
def goal_outcomes(src) -> list[dict]:
    """Goal.outcomeReference: the Outcome Observations (4.144) whose Entry Reference points at
    this goal (C-CDA Care Plan: outcome GEVL goal), as the Observations they become."""
    out = []
    for section, element, stmt, parents in statements_pointing_at((src or {}).get("id"), (OUTCOME_OBSERVATION,)):
        for ref in emit_statement(section, element, stmt, parents, ("Observation",)):
            if ref["reference"].startswith("Observation/") and ref not in out:
                out.append(ref)
    return out


@template_global
def goal_progress(src):
    """The Progress Toward Goal (4.110) for a goal: nested in it, else nested in an Outcome
    Observation evaluating it (the latest such)."""
    own = related(src, PROGRESS_TOWARD_GOAL)
    if own:
        return own[0]
    found = []
    for _s, _e, stmt, _p in statements_pointing_at((src or {}).get("id"), (OUTCOME_OBSERVATION,)):
        for prog in related(stmt, PROGRESS_TOWARD_GOAL):
            eff = one(prog.get("effectiveTime")) or one(stmt.get("effectiveTime"))
            ts = parse_ts(eff if isinstance(eff, dict) and eff.get("value") else (eff or {}).get("low")
                          if isinstance(eff, dict) else None)
            found.append(((ts.date() + (ts.h or "") + (ts.mi or "")) if ts else "", prog, stmt))
    if not found:
        return None
    found.sort(key=lambda x: x[0])
    _, prog, stmt = found[-1]
    if not prog.get("effectiveTime") and stmt.get("effectiveTime"):
        prog = {**prog, "effectiveTime": stmt["effectiveTime"]}
    return prog
