"""Social history (CF-social) and the generic Observation: pregnancy, caregivers, travel history."""
from __future__ import annotations

from ..datatypes.addresses import address
from ..datatypes.codes import codeable_concept
from ..datatypes.dates import datetime as dt_filter, latest
from ..datatypes.navigation import many, one, related, template_ids
from ..engine.registry import template_filter, template_global
from ..shared.observation_values import DAR, LOINC, obs_code, obs_value, tables
from ..shared.observations import effective, loinc_code
from ..shared.participants import participants, related_person_ref
from ..state import warn

@template_filter
def pregnancy_code(src) -> dict:
    """Pregnancy Observation: code 82810-3 Pregnancy status (CF-social); the source code kept beside."""
    cc = obs_code(src)
    if any(c.get("code") == "82810-3" for c in cc.get("coding", [])):
        return cc
    coding = [{"system": LOINC, "code": "82810-3", "display": "Pregnancy status"}]
    coding += [c for c in cc.get("coding", []) if c.get("system") != DAR]
    return {"coding": coding, **({"text": cc["text"]} if cc.get("text") else {})}


def _is_pregnancy(src) -> bool:
    return bool(set(tables()["PregnancyTemplates"]).intersection(template_ids(src)))


@template_filter
def generic_code(src) -> dict:
    """Observation.code; a Pregnancy Observation gets 82810-3 (CF-social)."""
    return pregnancy_code(src) if _is_pregnancy(src) else obs_code(src)


@template_filter
def generic_value(src) -> dict:
    """value[x]; a pregnancy status of nullFlavor UNK is the value 'unknown' (CF-social)."""
    return obs_value(src, unknown_as_value=_is_pregnancy(src), own=True)


@template_global
def obs_profile(src) -> str | None:
    """US Core profile for the observation templates that have one (social history, assessments)."""
    t = tables()
    for tid in template_ids(src):
        if tid in t["SocialProfilesByTemplate"]:
            return t["SocialProfilesByTemplate"][tid]
    code = loinc_code(src)
    return t["SocialProfilesByCode"].get(code) if code else None


@template_filter
def caregivers(src) -> list[dict]:
    """Observation.focus: the caregiver a Caregiver Characteristics observation describes
    (participant IND / participantRole CAREGIVER -> RelatedPerson)."""
    out = []
    for part in many((src or {}).get("participant")):
        role = (part or {}).get("participantRole")
        if (part or {}).get("typeCode") == "IND" and isinstance(role, dict) \
                and role.get("classCode") in (None, "CAREGIVER", "PRS"):
            ref = related_person_ref(role)
            if ref and ref not in out:
                out.append(ref)
    return out


@template_filter
def participant_effective(src) -> dict:
    """effective[x] from a participant's time, for observations without an effectiveTime
    (Caregiver Characteristics give the caregiving period there)."""
    for part in many((src or {}).get("participant")):
        eff = effective((part or {}).get("time"), True)
        if eff:
            return eff
    return {}


@template_filter
def generic_effective(src) -> dict:
    """effective[x] of a generic / social observation.

    Pregnancy status allows one timestamp only (CF-social): effectiveTime/@value, low, high,
    else author/time. Smoking status: a low alone is its dateTime, low and high a period
    (US Core 7 allows it; CF-social's first option). Others: the effectiveTime (a low alone is an ongoing period), else a
    participant's time, else the latest author time.
    """
    eff_el = one((src or {}).get("effectiveTime"))
    if set(tables()["SingleTimestampTemplates"]).intersection(template_ids(src)):
        for part in (eff_el, one((eff_el or {}).get("low")), one((eff_el or {}).get("high"))):
            d = dt_filter(part) if isinstance(part, dict) else None
            if d:
                return {"dateTime": d}
    else:
        ongoing = not set(tables()["ClosedTimeTemplates"]).intersection(template_ids(src))
        eff = effective(eff_el, ongoing) or participant_effective(src)
        if eff:
            return eff
    t = latest([a.get("time") for a in many((src or {}).get("author")) if isinstance(a, dict)])
    return {"dateTime": t} if t else {}


# ------------------------------------------------------------------ travel history (eICR)
PH_ADDRESS = "http://hl7.org/fhir/us/ph-library/StructureDefinition/us-ph-address-extension"
LOCATION = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                        "code": "LOC", "display": "location"}]}
PURPOSE_OF_TRAVEL = ("2.16.840.1.113883.10.20.15.2.3.51",)


@template_filter
def travel_components(src) -> list[dict]:
    """Observation.component of an eICR Travel History act, in the shape of HL7's US Public Health
    Travel History profile (ph-library): each LOC participant a 'location' component (code
    v3-ParticipationType LOC) with its coded place as the value and its address in the
    us-ph-address-extension; each Purpose of Travel Observation a component of its own code
    (280147009 Type of activity) and value."""
    out = []
    for part in participants(src, "LOC"):
        role = part.get("participantRole")
        if not isinstance(role, dict):
            continue
        comp = {"code": LOCATION}
        place = codeable_concept(role.get("code"))
        if place:
            comp["valueCodeableConcept"] = place
        where = address(role.get("addr"))
        if where:
            comp["extension"] = [{"url": PH_ADDRESS, "valueAddress": where}]
        if len(comp) > 1:
            out.append(comp)
    for obs in related(src, *PURPOSE_OF_TRAVEL):
        value = obs_value(obs)
        if value:
            out.append({"code": obs_code(obs), **value})
    return out


@template_filter
def travel_effective(src) -> dict:
    """effective[x] of a Travel History: the period travelled (low/high; a single time as a
    dateTime). eICR also allows 'the last 3 weeks' (width and high): FHIR's Period has no width,
    so the end is kept and the width reported, never turned into a computed start."""
    eff = one((src or {}).get("effectiveTime"))
    if isinstance(eff, dict) and isinstance(eff.get("width"), dict) and eff["width"].get("value"):
        w = eff["width"]
        warn(f"travel history: effectiveTime width {w.get('value')} {w.get('unit') or ''} left out "
              "(FHIR Period has no duration)".replace("  ", " "))
    return effective(eff, True)
