"""What every kind of Observation shares (C-CDA on FHIR CF-results, CF-vitals, CF-social):
status, effective[x], issued, performers, reference ranges, categories, nested components, and
the members of an organizer.
"""
from __future__ import annotations

from ...conform import requires
from ..datatypes.codes import codeable_concept, codings
from ..datatypes.dates import datetime as dt_filter, instant, parse_ts, period as period_filter
from ..datatypes.navigation import has_template, many, one, statement_of, template_ids
from ..datatypes.status import data_absent, status_code
from ..datatypes.terminology import concept
from ..datatypes.text import text
from ..engine.registry import template_filter, template_global
from ..state import current, emit
from .nothing import NOTHING_TEMPLATE, note, replaced
from .observation_values import (CODED_TYPES, LOINC, absent_reason, obs_code, obs_value, pq_quantity, tables,
                                 without_comparator)
from .participants import role_ref

OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
US_CORE_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category"


@template_filter
def obs_status(src, map_name: str = "ResultStatus", default: str = "final") -> str:
    """Observation/DiagnosticReport status through a ConceptMap; nullified -> entered-in-error."""
    code = status_code(src)
    if code == "nullified":
        return "entered-in-error"
    own = tables().get(map_name)
    if isinstance(own, dict):
        return own.get(code or "", default)
    c = concept(code, map_name) or concept(code, "ActStatusObservation")
    if c:
        return c["code"]
    return default


@template_filter
def effective(ivl, open_period: bool = False) -> dict:
    """{"dateTime": ...} or {"period": ...} from an effectiveTime (low == high -> dateTime).

    A low without high is a dateTime (CF pages prefer it), or with ``open_period`` a
    period that has only a start (an ongoing state such as tobacco use).
    """
    ivl = one(ivl)
    if not isinstance(ivl, dict):
        return {}
    if ivl.get("value") or isinstance(ivl.get("center"), dict):
        d = dt_filter(ivl)
        if d:
            return {"dateTime": d}
    low, high = one(ivl.get("low")), one(ivl.get("high"))
    lo, hi = dt_filter(low), dt_filter(high)
    if lo and (not hi or hi == lo):
        # Only a start: CF pages prefer effectiveDateTime; an open period says nothing more.
        if hi == lo or (not _high_given(high) and not open_period):
            return {"dateTime": lo}
        return {"period": {"start": lo}}
    p = period_filter(ivl)
    return {"period": p} if p else {}


def _high_given(high) -> bool:
    return isinstance(high, dict) and bool(high.get("value") or high.get("nullFlavor"))


@template_filter
def span_effective(organizer) -> dict:
    """The organizer's effectiveTime, else the span of its components' (CF-results / CF-vitals)."""
    eff = effective((organizer or {}).get("effectiveTime"))
    if eff:
        return eff
    times = []
    for rel in many((organizer or {}).get("component")):
        _, s = statement_of(rel)
        if s is None:
            continue
        e = one(s.get("effectiveTime"))
        if not isinstance(e, dict):
            continue
        for part in (e, one(e.get("low")), one(e.get("high")), one(e.get("center"))):
            ts = parse_ts(part) if isinstance(part, dict) else None
            if ts:
                times.append((ts.date() + (ts.h or "") + (ts.mi or "") + (ts.s or ""), ts.datetime()))
    if not times:
        return {}
    lo, hi = min(times)[1], max(times)[1]
    return {"dateTime": lo} if lo == hi else {"period": {"start": lo, "end": hi}}


@template_filter
def issued(src) -> str | None:
    """Observation.issued (instant) from the latest author time, when it has a full time and zone."""
    best = None
    for a in many((src or {}).get("author")):
        t = instant((a or {}).get("time"))
        if t and (best is None or t > best):
            best = t
    return best


# ------------------------------------------------------------------ participants
_OBS_PERFORMER_TYPES = ("Practitioner/", "PractitionerRole/", "Organization/", "CareTeam/", "Patient/",
                        "RelatedPerson/")


@template_filter
def obs_performers(src, with_authors: bool = True) -> list[dict]:
    """Observation.performer: performers, then authors (CF-vitals maps author -> performer).

    Devices are not allowed as Observation.performer in R4; they are left out.
    """
    # role_ref: the PractitionerRole when the entity names an organization or a role code, so
    # that the role made for the participant is the one referenced (else its Practitioner).
    refs = [role_ref((p or {}).get("assignedEntity")) for p in many((src or {}).get("performer"))]
    if with_authors:
        # An authoring device (EHR software) is no performer: it is left to Provenance.
        refs += [role_ref(a.get("assignedAuthor")) for a in many((src or {}).get("author"))
                 if isinstance(a, dict) and isinstance(a.get("assignedAuthor"), dict)
                 and not isinstance(a["assignedAuthor"].get("assignedAuthoringDevice"), dict)]
    out = []
    for r in refs:
        if r and r["reference"].startswith(_OBS_PERFORMER_TYPES) and r not in out:
            out.append(r)
    return out


# ------------------------------------------------------------------ reference range
@template_filter
def reference_ranges(src) -> list[dict]:
    """Observation.referenceRange: the normal (N) range when several are given (CF-results)."""
    ranges = []
    for rr in many((src or {}).get("referenceRange")):
        orng = (rr or {}).get("observationRange")
        if isinstance(orng, dict):
            ranges.append(orng)
    if len(ranges) > 1:
        normal = [r for r in ranges if (one(r.get("interpretationCode")) or {}).get("code") in (None, "N")]
        ranges = normal or ranges
    out = []
    for r in ranges:
        item = {}
        v = one(r.get("value"))
        if isinstance(v, dict):
            xtype = (v.get("xsi_type") or "").upper()
            if xtype in ("IVL_PQ", "IVL_REAL", "IVL_INT", "") and (v.get("low") or v.get("high")):
                lo, hi = pq_quantity(one(v.get("low"))), pq_quantity(one(v.get("high")))
                if lo:
                    item["low"] = without_comparator(lo)
                if hi:
                    item["high"] = without_comparator(hi)
            elif xtype in ("PQ", "IVL_PQ", "REAL", "INT") and (v.get("value") or v.get("translation")):
                q = pq_quantity(v)
                if q:
                    # A single-valued range: the limit it states, as low and high alike.
                    item["low"] = item["high"] = without_comparator(q)
                else:
                    item["text"] = str(v.get("value")).strip()
            elif xtype in ("ST", "ED"):
                t = text(v)
                if t:
                    item["text"] = t
            elif xtype in CODED_TYPES:
                cc = codeable_concept(v)
                if cc:
                    item["text"] = cc.get("text") or cc["coding"][0]["code"]
        interp = one(r.get("interpretationCode"))
        if isinstance(interp, dict) and interp.get("code") == "N" and item:
            # The normal range: R4 referenceRange.type 'normal', with the source's own coding beside it.
            item["type"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/referencerange-meaning",
                                        "code": "normal", "display": "Normal Range"}]
                            + codings(interp)}
        t = text(r.get("text"))
        if t and "text" not in item:
            item["text"] = t
        applies = codeable_concept(r.get("precondition", {}).get("criterion", {}).get("code")) \
            if isinstance(r.get("precondition"), dict) else None
        if applies:
            item["appliesTo"] = [applies]
        if item:
            out.append(item)
    return out


def is_specimen_collection(s) -> bool:
    if not isinstance(s, dict):
        return False
    if has_template(s, *tables()["SpecimenCollectionTemplates"]):
        return True
    cd = one(s.get("code"))
    return isinstance(cd, dict) and cd.get("code") == "17636008"


# ------------------------------------------------------------------ categories, profiles
def _coding_of(key: str) -> dict:
    sys_, code, display = tables()["Categories"][key]
    return {"coding": [{"system": sys_, "code": code, "display": display}]}


@template_global
def obs_category(*keys: str) -> list[dict]:
    """Observation.category codings by key (laboratory, vital-signs, social-history, survey, ...)."""
    return [_coding_of(k) for k in keys if k and k in tables()["Categories"]]


@template_global
def section_category(section, src=None) -> list[dict]:
    """Observation.category for a generic observation, from the section it is in."""
    keys = list((section or {}).get("templateIds") or ()) + [((section or {}).get("code") or {}).get("code")]
    by_section = tables()["SectionCategory"]
    for k in keys:
        if k in by_section:
            return obs_category(*by_section[k])
    if isinstance(src, dict):
        return loinc_category(src)
    return []


@template_filter
def loinc_code(src) -> str | None:
    """The LOINC code of a statement's code (or of a translation)."""
    cd = one((src or {}).get("code"))
    for c in codings(cd):
        if c.get("system") == LOINC:
            return c["code"]
    return None


@template_global
def loinc_category(src) -> list[dict]:
    """Category by a few well-known LOINC codes (survey instruments, SDOH) when nothing else says."""
    code = loinc_code(src)
    key = tables()["LoincCategory"].get(code) if code else None
    return obs_category(*key) if key else []


# ------------------------------------------------------------------ nested statements
def _dispatch(element: str, stmt: dict, parents: list) -> None:
    """Map a nested statement this template does not consume by its own route."""
    current().map_nested(element, stmt, parents)


@template_filter
def nested_components(src, parents=None, members: bool = False) -> list[dict]:
    """Observation.component from nested observations that are parts of this one.

    Untemplated observations (e.g. unit translations), Assessment Scale Supporting
    Observations and the Estimated Date of Delivery become components. Comment
    Activities are notes (``comments``); with ``members`` nested assessment scales
    are hasMember (``survey_members``). Any other nested statement is mapped by its
    own route: nothing nested is dropped.
    """
    out = []
    t = tables()
    comment_ids = set(t["CommentTemplates"])
    supporting = set(t["SupportingTemplates"])
    assessments = set(t["AssessmentTemplates"])
    for rel in many((src or {}).get("entryRelationship")):
        el, s = statement_of(rel)
        if s is None:
            continue
        tids = template_ids(s)
        if comment_ids.intersection(tids):
            continue
        if members and assessments.intersection(tids):
            continue
        if el == "observation" and (not tids or supporting.intersection(tids)) \
                and not restates(src, s):
            comp = {"code": obs_code(s), **obs_value(s)}
            if len(comp) == 1:
                comp["dataAbsentReason"] = absent_reason("UNK")
            rr = reference_ranges(s)
            if rr:
                comp["referenceRange"] = rr
            interp = [c for x in many(s.get("interpretationCode")) if (c := codeable_concept(x))]
            if interp:
                comp["interpretation"] = interp
            out.append(comp)
            continue
        _dispatch(el, s, [src] + list(many(parents)))
    return out


def restates(holder: dict, nested: dict) -> bool:
    """A nested observation coded like its holder, which has a value of its own: FHIR forbids
    it as a component (obs-7), so it is an Observation of its own."""
    if not any(k.startswith("value") for k in obs_value(holder)):
        return False
    mine = obs_code(holder).get("coding") or []
    return any(c in mine for c in obs_code(nested).get("coding") or [])


def organizer_components(organizer: dict) -> list[tuple[str, dict]]:
    out = []
    for rel in many((organizer or {}).get("component")):
        el, s = statement_of(rel)
        if s is not None:
            out.append((el, s))
    return out


def map_other_members(organizer: dict, parents: list, members_key: str) -> None:
    """Components of an organizer that are neither members nor specimen collection procedures
    are mapped by their own routes (the organizer routes absorb everything)."""
    for el, s in organizer_components(organizer):
        if el == "observation" and member_of(s, members_key):
            continue
        if el == "procedure" and is_specimen_collection(s):
            continue
        _dispatch(el, s, parents)


def member_of(s: dict, templates_key: str) -> bool:
    return bool(set(tables()[templates_key]).intersection(template_ids(s)))


def organizer_members(organizer, parents, templates_key: str, template: str) -> list[dict]:
    """An organizer's member observations, each emitted with ``template``; its other components
    mapped by their own routes."""
    parents = [organizer] + list(many(parents))
    observations = [s for el, s in organizer_components(organizer) if el == "observation"]
    refs = emit_members(observations, templates_key, template, parents, organizer=organizer)
    map_other_members(organizer, parents, templates_key)
    return refs


def says_nothing_in_panel(member: dict, template: str, parents: list) -> bool:
    """A member saying there is nothing to report ('Result excluded/not available') in a panel
    that has real members too: its own empty List (shared/nothing.py), no member of the panel."""
    nothing = replaced(member, template)
    if nothing and emit(NOTHING_TEMPLATE, src=member, parents=parents, element="observation"):
        current().warn(note(nothing, template), level="info", line=member.get("_line"))
    return bool(nothing)


def emit_members(candidates: list[dict], templates_key: str, template: str, parents: list,
                  **variables) -> list[dict]:
    """References to the resources made from the candidates carrying a member template, each once."""
    refs = []
    for s in candidates:
        if member_of(s, templates_key) and not says_nothing_in_panel(s, template, parents):
            ref = emit(template, src=s, parents=parents, **variables)
            if ref and ref not in refs:
                refs.append(ref)
    return refs


def nested_of(src, element: str) -> list[dict]:
    out = []
    for rel in many((src or {}).get("entryRelationship")) + many((src or {}).get("component")):
        el, s = statement_of(rel)
        if el == element and s is not None:
            out.append(s)
    return out


@template_global
def obs_categories(src, section) -> list[dict]:
    """Observation.category: by the statement's template, else its section, else its LOINC code."""
    by_template = tables()["TemplateCategory"]
    keys = []
    for tid in template_ids(src):
        for k in by_template.get(tid, ()):
            if k not in keys:
                keys.append(k)
    cats = obs_category(*keys)
    for c in section_category(section, src):
        if c not in cats:
            cats.append(c)
    return cats


@template_global
def effective_absent(eff, profile=None) -> dict | None:
    """_effectiveDateTime data-absent when the source gives no time and the profile claimed
    requires one (smoking status: US Core allows data-absent then); ``profile`` None: always.
    Vital signs do not use it: their vs-1 fails on a time without a value, so a vital sign the
    source gives no time claims no profile."""
    if eff or (profile is not None and not requires(profile, "effective[x]")):
        return None
    return {"extension": [data_absent("UNK")]}
