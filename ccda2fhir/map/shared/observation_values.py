"""Observation value[x] and code: the one value rule (``obs_value``) every Observation template
uses turns a CDA ``value`` of any xsi:type into the right FHIR ``value[x]`` (or
``dataAbsentReason``), so a quantity is never lost because a template expected another type.

Tables (LOINC -> vital-sign profile, section -> category, member templates, UCUM aliases) are
data: ``ccda2fhir/data/observations.json``.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from ..datatypes.codes import codeable_concept
from ..datatypes.dates import datetime as dt_filter, period as period_filter
from ..datatypes.navigation import many, one
from ..datatypes.quantities import number, quantity, ratio
from ..datatypes.terminology import concept
from ..datatypes.text import text
from ..engine.registry import template_filter
from ..state import current, warn

LOINC = "http://loinc.org"
DAR = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
CODED_TYPES = ("CD", "CE", "CV", "CO", "CS", "PQR")


@lru_cache(maxsize=1)
def tables() -> dict:
    raw = resources.files("ccda2fhir.data").joinpath("observations.json").read_text()
    return json.loads(raw)


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
        return {"valueRange": {"low": without_comparator(ql), "high": without_comparator(qh)}}
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


def without_comparator(q: dict) -> dict:
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
        current().report_once(v, f"the value points at narrative {pointer}, which holds no text: "
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
    **{t: _coded_value for t in CODED_TYPES},
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
        return {"dataAbsentReason": absent_reason(nf)}
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
        warn("negated observation: its value is stated as 'not ...' without the affirmative codes")
        return {"valueCodeableConcept": {"text": f"not {label}"}} if label else {}
    if "valueString" in out:
        return {"valueString": f"not {out['valueString']}"}
    warn("negated observation with a non-coded value; the value is kept as stated")
    return out


def absent_reason(nf) -> dict:
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
