"""Family History Organizer / Observation -> FamilyMemberHistory.

The C-CDA on FHIR IG has no family history page; this follows FHIR R4
FamilyMemberHistory and what peers do: one FamilyMemberHistory per organizer
(per relative), one condition per Family History Observation.
"""
from __future__ import annotations

from ..datatypes.codes import codeable_concept, coding, original_text
from ..datatypes.dates import date, datetime, latest, period
from ..datatypes.extensions import extension_url
from ..datatypes.identifiers import identifiers
from ..datatypes.navigation import children, has_template, many, one, related
from ..datatypes.quantities import age
from ..datatypes.status import data_absent, negated
from ..datatypes.terminology import concept
from ..datatypes.text import text
from ..engine.registry import template_global
from ..shared.comments import COMMENT_ACTIVITY, comments

FH_OBSERVATION = ("2.16.840.1.113883.10.20.22.4.46", "2.16.840.1.113883.10.20.1.22",
                  "2.16.840.1.113883.10.20.1.42", "1.3.6.1.4.1.19376.1.5.3.1.4.13.3")
DEATH_OBSERVATION = ("2.16.840.1.113883.10.20.22.4.47",)
AGE_OBSERVATION = ("2.16.840.1.113883.10.20.22.4.31", "2.16.840.1.113883.10.20.1.38")
DEAD = "419099009"


def _observations(src) -> list[dict]:
    """The Family History Observations of an organizer, or the observation itself."""
    if not isinstance(src, dict):
        return []
    if has_template(src, *FH_OBSERVATION) and not src.get("component"):
        return [src]
    return [c for c in children(src) if not has_template(c, *COMMENT_ACTIVITY)]


def _death_obs(obs) -> list[dict]:
    """Family History Death Observations under an observation (CAUS), or an R1.1 'Dead' CAUS child."""
    out = []
    for c in children(obs):
        value = one(c.get("value")) or {}
        if has_template(c, *DEATH_OBSERVATION) or (value.get("code") == DEAD and not has_template(c, *AGE_OBSERVATION)):
            out.append(c)
    return out


@template_global
def fh_related_subject(src, parents) -> dict:
    """The relatedSubject: of the organizer, else of the observation, else of an enclosing organizer."""
    for s in [src] + list(many(parents)):
        subj = (s or {}).get("subject") if isinstance(s, dict) else None
        rs = (subj or {}).get("relatedSubject") if isinstance(subj, dict) else None
        if isinstance(rs, dict):
            return rs
    return {}


@template_global
def fh_relationship(rs) -> dict:
    """FamilyMemberHistory.relationship (1..1): the relatedSubject code (v3 RoleCode), else data-absent."""
    cc = codeable_concept((rs or {}).get("code"))
    if cc:
        return cc
    code = one((rs or {}).get("code")) or {}
    return {"extension": [data_absent(code.get("nullFlavor") or "UNK")]}


@template_global
def fh_sex(person) -> dict | None:
    """sex: FHIR administrative-gender (IG ConceptMap) plus the source v3 coding."""
    cd = one((person or {}).get("administrativeGenderCode"))
    if not isinstance(cd, dict):
        return None
    mapped = concept(cd.get("code"), "AdministrativeGender")
    if cd.get("code") == "UN" or mapped is None and cd.get("nullFlavor"):
        mapped = {"system": "http://hl7.org/fhir/administrative-gender", "code": "unknown", "display": "Unknown"}
    own = coding(cd)
    cods = [c for c in (mapped, own) if c]
    return {"coding": cods} if cods else None


@template_global
def fh_deceased(person, src) -> dict:
    """deceased[x]: sdtc:deceasedTime (date) or sdtc:deceasedInd, else true when a Death Observation says so."""
    person = person or {}
    when = date(person.get("sdtc_deceasedTime"))
    if when:
        return {"date": when}
    ind = one(person.get("sdtc_deceasedInd"))
    if isinstance(ind, dict) and ind.get("value") in ("true", "false"):
        return {"boolean": ind["value"] == "true"}
    for obs in _observations(src):
        if _death_obs(obs) or has_template(obs, *DEATH_OBSERVATION):
            return {"boolean": True}
    return {}


def _condition(obs) -> dict | None:
    value = one(obs.get("value")) or {}
    code = codeable_concept(value)
    if not code:
        t = text(obs.get("text"))
        code = {"text": t} if t else None
    if not code:
        return None
    cond = {"code": code}
    deaths = _death_obs(obs)
    if deaths:
        cond["outcome"] = codeable_concept(one(deaths[0].get("value"))) or \
            {"coding": [{"system": "http://snomed.info/sct", "code": DEAD, "display": "Dead"}]}
        cond["contributedToDeath"] = True
    age_obs = related(obs, *AGE_OBSERVATION)
    onset_age = age(one(age_obs[0].get("value"))) if age_obs else None
    eff = one(obs.get("effectiveTime"))
    ivl = period(eff)
    p = ivl or ({"start": datetime(eff)} if datetime(eff) else None)
    if onset_age:
        cond["onsetAge"] = onset_age
        if p:
            # condition.onset[x] holds one value and the Age Observation's age takes it (it is the
            # onset the template is for); FHIR R4, US Core and HL7's extension registry have no
            # other element for the observation's own effectiveTime, so it is kept, as written
            # (precision and offset), in the extension data/extensions.json defines for it:
            # valueDateTime for a single time, valuePeriod for low/high.
            when = {"valuePeriod": p} if ivl else {"valueDateTime": p["start"]}
            cond["extension"] = [{"url": extension_url("familymemberhistory-condition-effective-time"),
                                  **when}]
    elif p:
        cond["onsetPeriod"] = p
    notes = comments(obs)
    if notes:
        cond["note"] = notes
    return cond


@template_global
def fh_conditions(src) -> list[dict]:
    """condition[]: one per (not negated) Family History Observation; the death observation of
    an R2 document is the outcome of the condition that caused it, not a condition itself."""
    out = []
    for obs in _observations(src):
        if has_template(obs, *DEATH_OBSERVATION) or negated(obs):
            continue
        cond = _condition(obs)
        if cond and cond not in out:
            out.append(cond)
    return out


@template_global
def fh_notes(src) -> list[dict]:
    """note: negated observations ('no known ...': R4 has no negated condition) and comments."""
    out = list(comments(src))
    for obs in _observations(src):
        if negated(obs):
            value = one(obs.get("value")) or {}
            what = original_text(value) or text(obs.get("text")) or value.get("displayName") \
                or value.get("code")
            if what:
                out.append({"text": f"No {what} (negated in the source: negationInd=true)"})
    return out


@template_global
def fh_identifiers(src) -> list[dict]:
    """identifier: the organizer's ids, then the ids of the observations it holds (FHIR's
    condition has no identifier; they identify parts of this one family history record), and
    the ids of their death observations."""
    ids = list(many((src or {}).get("id")))
    for obs in _observations(src):
        if obs is not src:
            ids += many(obs.get("id"))
        for death in _death_obs(obs):
            ids += many(death.get("id"))
    return identifiers(ids)


@template_global
def fh_date(src) -> str | None:
    """date: the organizer's (or observation's) author time, else its effectiveTime."""
    return latest(attr_time((src or {}).get("author"))) or datetime(one((src or {}).get("effectiveTime")))


def attr_time(authors) -> list:
    return [a.get("time") for a in many(authors) if isinstance(a, dict) and a.get("time")]
