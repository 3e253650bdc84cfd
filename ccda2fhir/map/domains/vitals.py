"""Vital signs (CF-vitals): the panel, each vital sign, blood pressure and pulse oximetry."""
from __future__ import annotations

from ..datatypes.codes import codeable_concept, codings
from ..datatypes.identifiers import id_key, identifiers
from ..datatypes.navigation import many, one
from ..engine.registry import template_filter, template_global
from ..shared.observation_values import LOINC, absent_reason, obs_code, obs_value, tables
from ..shared.observations import (loinc_code, map_other_members, member_of, organizer_components,
                                   reference_ranges, says_nothing_in_panel)
from ..state import emit

@template_global
def vital_profile(src) -> str:
    """The FHIR / US Core vital-signs profile for a vital sign's LOINC code."""
    code = loinc_code(src)
    return tables()["VitalSignProfiles"].get(code or "", tables()["VitalSignProfiles"]["_default"])


def _is_code(s: dict, code: str) -> bool:
    return any(c.get("code") == code and c.get("system") == LOINC for c in codings(one(s.get("code"))))


@template_filter
def vital_members(organizer, parents=None) -> list[dict]:
    """Observation.hasMember of a vital signs panel: each vital sign, emitted here.

    A systolic (8480-6) and diastolic (8462-4) pair becomes one blood pressure
    Observation (85354-9) with two components (CF-vitals); each other vital sign
    its own Observation.
    """
    parents = [organizer] + list(many(parents))
    members = [s for el, s in organizer_components(organizer) if el == "observation"
               and member_of(s, "VitalMemberTemplates") and not says_nothing_in_panel(s, "resource/VitalSign", parents)]
    systolic = [s for s in members if _is_code(s, "8480-6")]
    diastolic = [s for s in members if _is_code(s, "8462-4")]
    pairs = list(zip(systolic, diastolic))
    paired = {id(x) for p in pairs for x in p}
    # Pulse oximetry: inhaled O2 concentration / flow rate become its components (CF-vitals).
    pulse_ox = [s for s in members if _is_code(s, "59408-5") or _is_code(s, "2708-6")]
    oxygen = [s for s in members if _is_code(s, "3150-0") or _is_code(s, "3151-8")] if pulse_ox else []
    paired |= {id(x) for x in oxygen}
    refs = []
    for s in members:
        if id(s) in paired and s in oxygen:
            continue
        if pulse_ox and s is pulse_ox[0]:
            ref = emit("resource/VitalSign", src=s, parents=parents, organizer=organizer, parts=oxygen)
        elif id(s) in paired:
            pair = next(p for p in pairs if s in p)
            if s is not pair[0]:
                continue
            ref = emit("resource/BloodPressure", systolic=pair[0], diastolic=pair[1], parents=parents,
                        organizer=organizer)
        else:
            ref = emit("resource/VitalSign", src=s, parents=parents, organizer=organizer)
        if ref and ref not in refs:
            refs.append(ref)
    map_other_members(organizer, parents, "VitalMemberTemplates")
    return refs


# ------------------------------------------------------------------ blood pressure
@template_filter
def bp_component(s) -> dict:
    """One blood pressure component from a systolic/diastolic observation (code, value, ranges)."""
    comp = {"code": obs_code(s), **obs_value(s)}
    if len(comp) == 1:
        comp["dataAbsentReason"] = absent_reason("UNK")
    interp = [c for x in many(s.get("interpretationCode")) if (c := codeable_concept(x))]
    if interp:
        comp["interpretation"] = interp
    rr = reference_ranges(s)
    if rr:
        comp["referenceRange"] = rr
    return comp


@template_filter
def part_components(parts) -> list[dict]:
    """Components made of whole member observations (code, value, ranges), e.g. O2 flow rate."""
    return [bp_component(s) for s in many(parts) if isinstance(s, dict)]


@template_global
def bp_key(systolic, diastolic) -> str | None:
    """$key of the blood pressure Observation made from a systolic and a diastolic observation:
    the ids of both (either may have none); None (content key) when neither has one."""
    a, b = id_key((systolic or {}).get("id")), id_key((diastolic or {}).get("id"))
    if a or b:
        return f"bp|{a}|{b}"
    return None


@template_global
def all_identifiers(*stmts) -> list[dict]:
    """The Identifiers of several statements (or lists of them), in order, each once: a blood
    pressure's systolic and diastolic observations, a vital sign and its parts."""
    out = []
    for s in [x for st in stmts for x in (st if isinstance(st, list) else [st])]:
        for i in identifiers((s or {}).get("id")):
            if i not in out:
                out.append(i)
    return out


@template_filter
def pulse_ox_code(src) -> dict:
    """Pulse oximetry: code carries both 59408-5 and 2708-6 (US Core pulse oximetry)."""
    cc = obs_code(src)
    codes = {c.get("code") for c in cc.get("coding", [])}
    if codes & {"59408-5", "2708-6"}:
        extra = [{"system": LOINC, "code": c, "display": d} for c, d in
                 (("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
                  ("2708-6", "Oxygen saturation in Arterial blood"))
                 if c not in codes]
        cc = {**cc, "coding": cc.get("coding", []) + extra}
    return cc


@template_global
def obs_key(src, *extra) -> str | None:
    """$key of an observation: its ids, else nothing (content key)."""
    k = id_key((src or {}).get("id"))
    return "|".join([k] + [str(e) for e in extra if e]) if k else None


@template_global
def panel_code(code: str, display: str, cd=None) -> dict:
    """A fixed LOINC panel code first, then the source organizer's own codes (kept, not lost)."""
    cc = codeable_concept(cd) or {}
    coding = [{"system": LOINC, "code": code, "display": display}]
    coding += [c for c in cc.get("coding", []) if not (c.get("system") == LOINC and c.get("code") == code)]
    out = {"coding": coding}
    if cc.get("text"):
        out["text"] = cc["text"]
    return out
