"""Observations: results, vital signs, social history, functional / mental status.

C-CDA on FHIR pages CF-results, CF-vitals and CF-social. The one value rule
(``obs_value``) serves every Observation template: it turns a CDA ``value`` of
any xsi:type into the right FHIR ``value[x]`` (or ``dataAbsentReason``), so a
quantity is never lost because a template expected another type.

Tables (LOINC -> vital-sign profile, section -> category, member templates) are
data: ``ccda2fhir/data/observations.json`` (not a value map folder file: it holds lists and tuples).
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from .codes import codeable_concept, codings
from .dates import datetime as dt_filter
from .dates import parse_ts
from .dates import period as period_filter
from .identifiers import id_key, identifiers
from .navigation import has_template, many, one, statement_of, template_ids
from .quantities import number, quantity, ratio
from ..engine.registry import template_filter, template_global
from .status import data_absent, status_code
from .terminology import concept
from .text import text

OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
US_CORE_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category"
LOINC = "http://loinc.org"
DAR = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
_CODED = ("CD", "CE", "CV", "CO", "CS", "PQR")


@lru_cache(maxsize=1)
def tables() -> dict:
    raw = resources.files("ccda2fhir.data").joinpath("observations.json").read_text()
    return json.loads(raw)


def _conv():
    from ..state import current
    return current()


def _emit(template: str, **variables):
    return _conv().emit(template, **variables)


def _warn(reason: str, level: str = "partial") -> None:
    try:
        _conv().warn(reason, level=level)
    except LookupError:
        pass


# ------------------------------------------------------------------ value[x]
def pq_quantity(v) -> dict | None:
    """Quantity of a PQ; a PQ whose unit is not UCUM (nullFlavor OTH) gives its translation's
    value with the originalText as the unit (C-CDA 'Results Unit Non-UCUM')."""
    v = one(v)
    if not isinstance(v, dict):
        return None
    raw = (v.get("value") or "").strip() if isinstance(v.get("value"), str) else v.get("value")
    if raw and not (isinstance(raw, str) and raw[:1] in "<>"):
        q = quantity(v)
        if q:
            return ucum(q)
    for tr in many(v.get("translation")):
        if isinstance(tr, dict) and tr.get("value") not in (None, ""):
            n = number(tr.get("value"))
            if n is None:
                continue
            ot = tr.get("originalText")
            unit = text(ot) if isinstance(ot, dict) else None
            q = quantity({"value": tr["value"], "unit": tr.get("code")}) if tr.get("code") else {"value": n}
            if unit and "unit" not in q:
                q["unit"] = unit
            return q
    return None


def ucum(q: dict) -> dict:
    """A Quantity whose unit is a known non-UCUM spelling gets the UCUM code (unit kept as written)."""
    unit = (q.get("unit") or "").strip()
    code = tables()["UcumAliases"].get(unit)
    if code:
        return {**q, "system": "http://unitsofmeasure.org", "code": code}
    return q


def _pq_value(v: dict) -> dict:
    """PQ: a Quantity; a non-numeric PQ (``<5``, ``positive``) keeps its text as valueString."""
    q = pq_quantity(v)
    if q:
        return {"valueQuantity": q}
    raw = (v.get("value") or "").strip()
    if raw:
        # e.g. value="<0.5": keep the comparator the sender wrote, if the rest is a number.
        for comp in ("<=", ">=", "<", ">"):
            rest = raw[len(comp):].strip()
            if raw.startswith(comp) and rest[:1].isdigit():
                q = quantity({**v, "value": rest})
                if q:
                    return {"valueQuantity": {**ucum(q), "comparator": comp}}
        unit = (v.get("unit") or "").strip()
        return {"valueString": f"{raw} {unit}".strip() if unit and unit != "1" else raw}
    return {}


def _ivl_pq_value(v: dict) -> dict:
    """IVL_PQ: Range with low and high; Quantity with a comparator when one bound only."""
    if v.get("value") not in (None, "") and not v.get("low") and not v.get("high"):
        return _pq_value(v)
    low, high = one(v.get("low")), one(v.get("high"))
    ql = pq_quantity(low) if isinstance(low, dict) else None
    qh = pq_quantity(high) if isinstance(high, dict) else None
    if ql and qh and ql.get("value") == 0 and qh.get("value") != 0:
        # 'Ranges of Physical Quantities': a low of 0 is no bound; the high is the measurement.
        ql = None
    if ql and qh:
        if ql.get("value") == qh.get("value") and ql.get("unit") == qh.get("unit"):
            return {"valueQuantity": ql}
        return {"valueRange": {"low": _simple(ql), "high": _simple(qh)}}
    if ql:
        inclusive = str(low.get("inclusive", "true")).lower() != "false"
        return {"valueQuantity": {**ql, "comparator": ">=" if inclusive else ">"}}
    if qh:
        inclusive = str(high.get("inclusive", "true")).lower() != "false"
        return {"valueQuantity": {**qh, "comparator": "<=" if inclusive else "<"}}
    center = one(v.get("center"))
    if isinstance(center, dict):
        return _pq_value(center)
    return {}


def _simple(q: dict) -> dict:
    return {k: x for k, x in q.items() if k != "comparator"}


def _real_value(v: dict) -> dict:
    n = number(v.get("value"))
    return {"valueQuantity": {"value": n}} if n is not None else _text_value(v)


def _int_value(v: dict) -> dict:
    n = number(v.get("value"))
    if isinstance(n, int) and -2**31 <= n < 2**31:
        return {"valueInteger": n}
    if n is not None:
        return {"valueQuantity": {"value": n}}
    return _text_value(v)


def _text_value(v: dict) -> dict:
    t = text(v)
    if not t and v.get("value"):
        t = str(v["value"]).strip()
    return {"valueString": t} if t else {}


def _ed_value(v: dict) -> dict:
    # CF-results: an ED whose narrative is simple text may be valueString (our choice: no R5 extension).
    t = text(v)
    if t:
        return {"valueString": t}
    ref = one(v.get("reference"))
    pointer = (ref.get("value") or "").strip() if isinstance(ref, dict) else ""
    if pointer.startswith("#"):
        # a pointer into the narrative is not the value: with no text behind it, there is none
        # (once, however often the value is read)
        _conv().report_once(v, f"the value points at narrative {pointer}, which holds no text: "
                               "value left out", level="partial")
        return {}
    return {"valueString": pointer} if pointer else {}


def _coded_value(v: dict) -> dict:
    cc = codeable_concept(v)
    return {"valueCodeableConcept": cc} if cc else {}


def _bool_value(v: dict) -> dict:
    raw = str(v.get("value", "")).strip().lower()
    if raw in ("true", "false"):
        return {"valueBoolean": raw == "true"}
    return {}


def _ts_value(v: dict) -> dict:
    d = dt_filter(v)
    return {"valueDateTime": d} if d else {}


def _ivl_ts_value(v: dict) -> dict:
    p = period_filter(v)
    if p:
        return {"valuePeriod": p}
    return _ts_value(v)


def _rto_value(v: dict) -> dict:
    r = ratio(v)
    if r:
        return {"valueRatio": r}
    return {}


def _ivl_real_value(v: dict) -> dict:
    low, high = number(one(v.get("low"))), number(one(v.get("high")))
    out = {}
    if low is not None:
        out["low"] = {"value": low}
    if high is not None:
        out["high"] = {"value": high}
    if out:
        return {"valueRange": out}
    return _real_value(v)


def _ii_value(v: dict) -> dict:
    # Observation.value[x] has no Identifier; the identifier's text is kept as a string.
    ext, root = (v.get("extension") or "").strip(), (v.get("root") or "").strip()
    s = f"{root}^{ext}" if root and ext else (ext or root)
    return {"valueString": s} if s else {}


_BY_TYPE = {
    "PQ": _pq_value, "IVL_PQ": _ivl_pq_value, "PIVL_PQ": _ivl_pq_value,
    "REAL": _real_value, "INT": _int_value, "MO": _pq_value,
    "ST": _text_value, "SC": _text_value, "ED": _ed_value,
    "BL": _bool_value, "TS": _ts_value, "IVL_TS": _ivl_ts_value,
    "RTO": _rto_value, "RTO_PQ_PQ": _rto_value, "RTO_INT_INT": _rto_value, "RTO_MO_PQ": _rto_value,
    "IVL_REAL": _ivl_real_value, "IVL_INT": _ivl_real_value, "II": _ii_value,
    **{t: _coded_value for t in _CODED},
}


def value_of(v) -> dict:
    """{value[x]: ...} for one CDA value element; {} when it holds nothing."""
    if not isinstance(v, dict):
        return {}
    xtype = (v.get("xsi_type") or "").split(":")[-1].upper()
    fn = _BY_TYPE.get(xtype)
    if fn is None:
        # No (or an unknown) xsi:type: judge by what the element carries.
        if v.get("code") or v.get("codeSystem") or v.get("originalText"):
            fn = _coded_value
        elif v.get("numerator") or v.get("denominator"):
            fn = _rto_value
        elif v.get("low") or v.get("high"):
            fn = _ivl_pq_value
        elif v.get("value") is not None:
            fn = _pq_value
        else:
            fn = _text_value
    out = fn(v)
    if not out and v.get("nullFlavor"):
        return {}
    return out


@template_filter
def obs_value(src, unknown_as_value: bool = False, own: bool = False) -> dict:
    """The Observation value[x] of a statement (first value), or its dataAbsentReason.

    ``unknown_as_value``: nullFlavor UNK becomes a valueCodeableConcept from the
    v3 NullFlavor system (CF-social, pregnancy status). ``own``: for the Observation made of
    the statement, which has no value[x] when the statement has several (``extra_values``).
    """
    values = many((src or {}).get("value"))
    if own and _several_values(src):
        return {}
    for v in values:
        out = value_of(v)
        if out:
            return _negated(src, out)
    first = one(values)
    nf = first.get("nullFlavor") if isinstance(first, dict) else None
    if nf and unknown_as_value and nf == "UNK":
        return {"valueCodeableConcept": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "code": "UNK",
            "display": "unknown"}]}}
    if nf:
        return {"dataAbsentReason": _dar(nf)}
    return {}


def _negated(src, out: dict) -> dict:
    return _negate(out) if str((src or {}).get("negationInd", "")).lower() == "true" else out


def _several_values(src) -> bool:
    return len([v for v in many((src or {}).get("value")) if value_of(v)]) > 1


def _negate(out: dict) -> dict:
    """value[x] of a negated observation: the coded opposite when the table knows one, else the
    value stated as 'not ...' without the affirmative codes (FHIR Observation has no negation)."""
    cc = out.get("valueCodeableConcept")
    if cc:
        table = tables()["NegatedValues"]
        for c in cc.get("coding", []):
            opposite = table.get(c.get("code"))
            if opposite and c.get("system") == "http://snomed.info/sct":
                return {"valueCodeableConcept": {"coding": [opposite], "text": opposite["display"]}}
        label = cc.get("text") or next((c.get("display") or c.get("code") for c in cc.get("coding", [])), None)
        _warn("negated observation: its value is stated as 'not ...' without the affirmative codes")
        return {"valueCodeableConcept": {"text": f"not {label}"}} if label else {}
    if "valueString" in out:
        return {"valueString": f"not {out['valueString']}"}
    _warn("negated observation with a non-coded value; the value is kept as stated")
    return out


def _dar(nf) -> dict:
    c = concept(nf, "NullFlavorDataAbsentReason")
    code = c["code"] if c else "unknown"
    return {"coding": [{"system": DAR, "code": code, "display": (c or {}).get("display") or code.title()}]}


@template_filter
def extra_values(src) -> list[dict]:
    """A statement with several values (CDA allows it; value[x] holds one): each value is a
    component with the statement's code, and the Observation has no value[x] (``obs_value(own=
    true)``): FHIR forbids a component coded like the Observation beside its value (obs-7)."""
    if not _several_values(src):
        return []
    code = obs_code(src)
    return [{"code": code, **_negated(src, value_of(v))} for v in many(src.get("value")) if value_of(v)]


# ------------------------------------------------------------------ code, status, dates
@template_filter
def obs_code(src) -> dict:
    """Observation.code (required): the code, else its/the statement's text, else data-absent."""
    cd = one((src or {}).get("code"))
    cc = codeable_concept(cd) if isinstance(cd, dict) else None
    if cc:
        return cc
    t = text((src or {}).get("text"))
    if t:
        return {"text": t[:500]}
    return {"coding": [{"system": DAR, "code": "unknown", "display": "Unknown"}]}


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
    from .dates import instant
    best = None
    for a in many((src or {}).get("author")):
        t = instant((a or {}).get("time"))
        if t and (best is None or t > best):
            best = t
    return best


@template_filter
def report_issued(organizer) -> str | None:
    """DiagnosticReport.issued: the organizer's latest author time, else its results' latest (the
    report is released when its last result is); None when no author gives a full time."""
    own = issued(organizer)
    if own:
        return own
    times = [t for t in (issued(s) for _, s in _members(organizer or {})) if t]
    return max(times) if times else None


# ------------------------------------------------------------------ participants
_OBS_PERFORMER_TYPES = ("Practitioner/", "PractitionerRole/", "Organization/", "CareTeam/", "Patient/",
                        "RelatedPerson/")


@template_filter
def obs_performers(src, with_authors: bool = True) -> list[dict]:
    """Observation.performer: performers, then authors (CF-vitals maps author -> performer).

    Devices are not allowed as Observation.performer in R4; they are left out.
    """
    from .participants import role_ref
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


@template_filter
def report_performers(src) -> list[dict]:
    """DiagnosticReport.performer: Practitioner, PractitionerRole, Organization or CareTeam."""
    return [r for r in obs_performers(src) if not r["reference"].startswith(("Patient/", "RelatedPerson/"))]


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
                    item["low"] = _simple(lo)
                if hi:
                    item["high"] = _simple(hi)
            elif xtype in ("PQ", "IVL_PQ", "REAL", "INT") and (v.get("value") or v.get("translation")):
                q = pq_quantity(v)
                if q:
                    # A single-valued range: the limit it states, as low and high alike.
                    item["low"] = item["high"] = _simple(q)
                else:
                    item["text"] = str(v.get("value")).strip()
            elif xtype in ("ST", "ED"):
                t = text(v)
                if t:
                    item["text"] = t
            elif xtype in _CODED:
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


# ------------------------------------------------------------------ specimen
def _collection_procedures(stmt: dict) -> list[dict]:
    """Specimen Collection Procedures of an organizer (template 4.415 or code 17636008, CF-results)."""
    out = []
    for rel in many((stmt or {}).get("component")) + many((stmt or {}).get("entryRelationship")):
        el, s = statement_of(rel)
        if el == "procedure" and is_specimen_collection(s):
            out.append(s)
    return out


def is_specimen_collection(s) -> bool:
    if not isinstance(s, dict):
        return False
    if has_template(s, *tables()["SpecimenCollectionTemplates"]):
        return True
    cd = one(s.get("code"))
    return isinstance(cd, dict) and cd.get("code") == "17636008"


@template_filter
def specimen_refs(stmts) -> list[dict]:
    """Specimen resources of statements: their <specimen>/specimenRole and the specimens
    (participant PRD) of their Specimen Collection Procedures, with the collection details."""
    out = []
    for stmt in many(stmts):
        if not isinstance(stmt, dict):
            continue
        collections = _collection_procedures(stmt)
        for sp in many(stmt.get("specimen")):
            role = (sp or {}).get("specimenRole")
            if isinstance(role, dict):
                ref = _emit("resource/Specimen", src=role, entity=role.get("specimenPlayingEntity"),
                            collection=one(collections))
                if ref and ref not in out:
                    out.append(ref)
        for proc in collections:
            for part in many(proc.get("participant")):
                role = (part or {}).get("participantRole")
                if (part or {}).get("typeCode") not in (None, "PRD") or not isinstance(role, dict):
                    continue
                ref = _emit("resource/Specimen", src=role, entity=role.get("playingEntity"), collection=proc)
                if ref and ref not in out:
                    out.append(ref)
    return out


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


@template_global
def vital_profile(src) -> str:
    """The FHIR / US Core vital-signs profile for a vital sign's LOINC code."""
    code = loinc_code(src)
    return tables()["VitalSignProfiles"].get(code or "", tables()["VitalSignProfiles"]["_default"])


# ------------------------------------------------------------------ nested statements
def _dispatch(element: str, stmt: dict, parents: list) -> None:
    """Map a nested statement this template does not consume by its own route."""
    _conv().map_nested(element, stmt, parents)


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
                comp["dataAbsentReason"] = _dar("UNK")
            rr = reference_ranges(s)
            if rr:
                comp["referenceRange"] = rr
            interp = [c for c in (codeable_concept(x) for x in many(s.get("interpretationCode"))) if c]
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


def _members(organizer: dict) -> list[tuple[str, dict]]:
    out = []
    for rel in many((organizer or {}).get("component")):
        el, s = statement_of(rel)
        if s is not None:
            out.append((el, s))
    return out


def _dispatch_others(organizer: dict, parents: list, members_key: str) -> None:
    """Components of an organizer that are neither members nor specimen collection procedures
    are mapped by their own routes (the organizer routes absorb everything)."""
    for el, s in _members(organizer):
        if el == "observation" and _member_of(s, members_key):
            continue
        if el == "procedure" and is_specimen_collection(s):
            continue
        _dispatch(el, s, parents)


def _member_of(s: dict, templates_key: str) -> bool:
    return bool(set(tables()[templates_key]).intersection(template_ids(s)))


@template_filter
def result_members(organizer, parents=None) -> list[dict]:
    """DiagnosticReport.result: each Result Observation of the organizer, emitted here.

    The route absorbs the result templates, so the dispatcher does not map them a second time.
    """
    return _organizer_members(organizer, parents, "ResultMemberTemplates", "resource/ResultObservation")


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
    members = [s for el, s in _members(organizer) if el == "observation"
               and _member_of(s, "VitalMemberTemplates") and not _says_nothing(s, "resource/VitalSign", parents)]
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
            ref = _emit("resource/VitalSign", src=s, parents=parents, organizer=organizer, parts=oxygen)
        elif id(s) in paired:
            pair = next(p for p in pairs if s in p)
            if s is not pair[0]:
                continue
            ref = _emit("resource/BloodPressure", systolic=pair[0], diastolic=pair[1], parents=parents,
                        organizer=organizer)
        else:
            ref = _emit("resource/VitalSign", src=s, parents=parents, organizer=organizer)
        if ref and ref not in refs:
            refs.append(ref)
    _dispatch_others(organizer, parents, "VitalMemberTemplates")
    return refs


@template_filter
def status_members(organizer, parents=None) -> list[dict]:
    """Observation.hasMember of a functional / mental status organizer: each member, emitted here."""
    return _organizer_members(organizer, parents, "StatusMemberTemplates", "resource/Observation")


@template_filter
def survey_members(src, parents=None) -> list[dict]:
    """hasMember for an assessment scale's nested observations with a template of their own."""
    return _emit_members(_nested(src, "observation"), "AssessmentTemplates", "resource/Observation",
                         [src] + list(many(parents)))


def _organizer_members(organizer, parents, templates_key: str, template: str) -> list[dict]:
    """An organizer's member observations, each emitted with ``template``; its other components
    mapped by their own routes."""
    parents = [organizer] + list(many(parents))
    observations = [s for el, s in _members(organizer) if el == "observation"]
    refs = _emit_members(observations, templates_key, template, parents, organizer=organizer)
    _dispatch_others(organizer, parents, templates_key)
    return refs


def _says_nothing(member: dict, template: str, parents: list) -> bool:
    """A member saying there is nothing to report ('Result excluded/not available') in a panel
    that has real members too: its own empty List (filters/nothing.py), no member of the panel."""
    from .nothing import NOTHING_TEMPLATE, note, replaced
    nothing = replaced(member, template)
    if nothing and _emit(NOTHING_TEMPLATE, src=member, parents=parents, element="observation"):
        _conv().warn(note(nothing, template), level="info", line=member.get("_line"))
    return bool(nothing)


def _emit_members(candidates: list[dict], templates_key: str, template: str, parents: list,
                  **variables) -> list[dict]:
    """References to the resources made from the candidates carrying a member template, each once."""
    refs = []
    for s in candidates:
        if _member_of(s, templates_key) and not _says_nothing(s, template, parents):
            ref = _emit(template, src=s, parents=parents, **variables)
            if ref and ref not in refs:
                refs.append(ref)
    return refs


def _nested(src, element: str) -> list[dict]:
    out = []
    for rel in many((src or {}).get("entryRelationship")) + many((src or {}).get("component")):
        el, s = statement_of(rel)
        if el == element and s is not None:
            out.append(s)
    return out


# ------------------------------------------------------------------ blood pressure
@template_filter
def bp_component(s) -> dict:
    """One blood pressure component from a systolic/diastolic observation (code, value, ranges)."""
    comp = {"code": obs_code(s), **obs_value(s)}
    if len(comp) == 1:
        comp["dataAbsentReason"] = _dar("UNK")
    interp = [c for c in (codeable_concept(x) for x in many(s.get("interpretationCode"))) if c]
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
    a, b = id_key((systolic or {}).get("id")), id_key((diastolic or {}).get("id"))
    if a or b:
        return f"bp|{a}|{b}"
    return None


@template_global
def all_identifiers(*stmts) -> list[dict]:
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


@template_filter
def pregnancy_code(src) -> dict:
    """Pregnancy Observation: code 82810-3 Pregnancy status (CF-social); the source code kept beside."""
    cc = obs_code(src)
    if any(c.get("code") == "82810-3" for c in cc.get("coding", [])):
        return cc
    coding = [{"system": LOINC, "code": "82810-3", "display": "Pregnancy status"}]
    coding += [c for c in cc.get("coding", []) if c.get("system") != DAR]
    return {"coding": coding, **({"text": cc["text"]} if cc.get("text") else {})}


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


@template_global
def report_category(src, section) -> list[dict]:
    """DiagnosticReport.category: LAB, or RAD in an imaging section (v2-0074, US Core)."""
    cats = section_category(section)
    if any(c["coding"][0]["code"] == "imaging" for c in cats):
        return obs_category("RAD")
    return obs_category("LAB")


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
    from .participants import related_person_ref
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
    from .dates import latest
    t = latest([a.get("time") for a in many((src or {}).get("author")) if isinstance(a, dict)])
    return {"dateTime": t} if t else {}


@template_global
def effective_absent(eff, profile=None) -> dict | None:
    """_effectiveDateTime data-absent when the source gives no time and the profile claimed
    requires one (smoking status: US Core allows data-absent then); ``profile`` None: always.
    Vital signs do not use it: their vs-1 fails on a time without a value, so a vital sign the
    source gives no time claims no profile."""
    from ...conform import requires
    if eff or (profile is not None and not requires(profile, "effective[x]")):
        return None
    return {"extension": [data_absent("UNK")]}


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
    from .addresses import address
    from .codes import codeable_concept
    from .navigation import related
    from .participants import participants
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
        _warn(f"travel history: effectiveTime width {w.get('value')} {w.get('unit') or ''} left out "
              "(FHIR Period has no duration)".replace("  ", " "))
    return effective(eff, True)
