"""Medication timing and dosage: the effectiveTime list -> FHIR Timing, the dose -> Dosage.

C-CDA on FHIR (CF-medications, 'Medication Timing and Frequency'): the first
effectiveTime (IVL_TS) gives the bounds (``low``/``high`` -> repeat.boundsPeriod,
a lone ``@value`` -> Timing.event); the second (``operator="A"``) the frequency:

* PIVL_TS ``period`` -> repeat.frequency / period / periodUnit. A period below one
  unit that divides it evenly (``0.5 d``, also rounded: ``0.3333 d``) is a frequency
  (2 per 1 d, 3 per 1 d); an
  ``institutionSpecified="true"`` period in hours that divides a day (``8 h``, ``24 h``, the
  C-CDA way to write TID) is a frequency per day (3 per 1 d), as the C-CDA "Common
  Medication Frequencies" table and FHIR's Timing table read them. A period range
  (``low``/``high``) -> period/periodMax. ``phase`` gives timeOfDay (a time in a
  daily cycle), dayOfWeek (a weekly cycle) and its width the duration.
* EIVL_TS ``event/@code`` -> repeat.when; ``offset`` -> repeat.offset in minutes.
* SXPR_TS: its ``comp`` parts are read as more effectiveTimes.
"""
from __future__ import annotations

import datetime as _dt
from decimal import Decimal

from ..datatypes.codes import codeable_concept, codings, original_text
from ..datatypes.dates import datetime as dt_filter, parse_ts, period as period_filter
from ..datatypes.navigation import has_template, many, one, related
from ..datatypes.quantities import number, quantity, range_, ratio
from ..datatypes.terminology import concept
from ..datatypes.text import text
from ..engine.registry import template_filter
from ..state import warn

FREE_TEXT_SIG = "2.16.840.1.113883.10.20.22.4.147"
INSTRUCTION = ("2.16.840.1.113883.10.20.22.4.20", "2.16.840.1.113883.10.20.1.49",
               "1.3.6.1.4.1.19376.1.5.3.1.4.3")
PRECONDITION = "2.16.840.1.113883.10.20.22.4.25"

_MINUTES = {"s": Decimal(1) / 60, "min": Decimal(1), "h": Decimal(60), "d": Decimal(1440),
            "wk": Decimal(10080)}
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# units a period is turned into a daily frequency from, and their length in hours
_HOURS = {"h": Decimal(1), "min": Decimal(1) / 60}


def _num(value) -> Decimal | None:
    n = number(value)
    return Decimal(str(n)) if n is not None else None


def _json_num(d: Decimal):
    """A Decimal as a JSON number: int when integral."""
    if d == d.to_integral_value():
        return int(d)
    return float(d)


def _unit(unit: str | None) -> str | None:
    c = concept((unit or "").strip(), "UnitsOfTime")
    return c["code"] if c else None


def _kind(et: dict) -> str:
    t = (et.get("xsi_type") or "").split(":")[-1].upper()
    if t:
        return t
    if isinstance(et.get("period"), dict):
        return "PIVL_TS"
    if isinstance(et.get("event"), dict):
        return "EIVL_TS"
    return "IVL_TS"


def flatten(effective_times) -> list[dict]:
    """The effectiveTime list with SXPR_TS parts (``comp``) read in place."""
    out = []
    for et in many(effective_times):
        if not isinstance(et, dict):
            continue
        if _kind(et) == "SXPR_TS":
            out.extend(flatten(et.get("comp")))
        else:
            out.append(et)
    return out


def bounds_of(effective_times) -> dict | None:
    """The effectiveTime giving the bounds: the first IVL_TS/TS (not a PIVL/EIVL)."""
    for et in flatten(effective_times):
        if _kind(et) in ("IVL_TS", "TS"):
            return et
    return None


def _whole_reciprocal(value: Decimal) -> int | None:
    """n when ``value`` is 1/n, also as a rounded decimal (".3333333" d is 3 times a day)."""
    n = (1 / value).to_integral_value()
    if n >= 1 and abs(value * n - 1) <= Decimal("0.001"):
        return int(n)
    return None


def _pivl_repeat(pivl: dict) -> dict:
    rep: dict = {}
    per = pivl.get("period")
    if isinstance(per, dict):
        low_q, high_q = per.get("low"), per.get("high")
        if isinstance(low_q, dict) or isinstance(high_q, dict):
            low_q = low_q if isinstance(low_q, dict) else high_q
            value, unit = _num(low_q), _unit(low_q.get("unit"))
            vmax = _num(high_q) if isinstance(high_q, dict) and high_q is not low_q else None
        else:
            value, unit, vmax = _num(per), _unit(per.get("unit")), None
        if value is None or value <= 0 or unit is None:
            if per.get("value") or per.get("low"):
                warn(f"PIVL_TS period {per.get('value')!r} {per.get('unit')!r} is not a time period; left out")
        else:
            institution = str(pivl.get("institutionSpecified", "")).lower() == "true"
            frequency_per_day = None
            if institution and unit in _HOURS and vmax is None:
                hours = value * _HOURS[unit]
                if hours <= 24 and (Decimal(24) / hours) == (Decimal(24) / hours).to_integral_value():
                    frequency_per_day = Decimal(24) / hours
            per_unit = _whole_reciprocal(value) if value < 1 and vmax is None else None
            if frequency_per_day is not None:
                rep.update(frequency=_json_num(frequency_per_day), period=1, periodUnit="d")
            elif per_unit is not None:
                rep.update(frequency=per_unit, period=1, periodUnit=unit)
            else:
                rep.update(frequency=1, period=_json_num(value), periodUnit=unit)
                if vmax is not None and vmax > value:
                    rep["periodMax"] = _json_num(vmax)
    frequency = pivl.get("frequency")  # R2.1 datatypes-base allow it in the wild
    if isinstance(frequency, dict) and "frequency" not in rep:
        num = _num(frequency.get("numerator"))
        den = frequency.get("denominator") if isinstance(frequency.get("denominator"), dict) else {}
        dval, dunit = _num(den), _unit(den.get("unit"))
        if num and dval and dunit:
            rep.update(frequency=_json_num(num), period=_json_num(dval), periodUnit=dunit)
    phase = pivl.get("phase")
    if isinstance(phase, dict):
        rep.update(_phase(phase, rep.get("periodUnit"), rep.get("period")))
    return rep


def _phase(phase: dict, unit: str | None, period) -> dict:
    out: dict = {}
    low = phase.get("low") if isinstance(phase.get("low"), dict) else phase
    ts = parse_ts(low)
    if ts is not None:
        daily = unit in ("h", "min") or (unit == "d" and period == 1)
        if ts.h is not None and daily:
            out["timeOfDay"] = [f"{ts.h}:{ts.mi or '00'}:{ts.s or '00'}"]
        if unit == "wk" and ts.d and ts.mo:
            day = _dt.date(int(ts.y), int(ts.mo), int(ts.d)).weekday()
            out["dayOfWeek"] = [_DAY_NAMES[day]]
    width = phase.get("width")
    if isinstance(width, dict):
        w, wu = _num(width), _unit(width.get("unit"))
        if w is not None and wu:
            out.update(duration=_json_num(w), durationUnit=wu)
    return out


def _offset_minutes(offset) -> int | None:
    offset = one(offset)
    if not isinstance(offset, dict):
        return None
    for q in (offset.get("low"), offset.get("width"), offset, offset.get("center"), offset.get("high")):
        if isinstance(q, dict) and q.get("value") is not None:
            v = _num(q)
            unit = _unit(q.get("unit") or "min")
            if v is None or unit not in _MINUTES:
                if v is not None:
                    warn(f"EIVL_TS offset unit {q.get('unit')!r} cannot be read as minutes; left out")
                return None
            return int(abs(v * _MINUTES[unit]).to_integral_value())
    return None


def _eivl(eivl: dict) -> tuple[dict, dict | None]:
    """(repeat part, Timing.code) of an EIVL_TS."""
    rep: dict = {}
    code = None
    ev = eivl.get("event")
    ev_code = (ev.get("code") or "").strip() if isinstance(ev, dict) else ""
    if ev_code:
        c = concept(ev_code, "TimingEvent")
        if c:
            rep["when"] = [c["code"]]
        else:
            code = {"text": ev.get("displayName") or ev_code}
            warn(f"EIVL_TS event {ev_code!r} is not a FHIR event-timing code; kept as Timing.code text")
    off = _offset_minutes(eivl.get("offset"))
    if off is not None and rep.get("when"):
        rep["offset"] = off
    return rep, code


@template_filter
def timing(effective_times, bounds: bool = True) -> dict | None:
    """FHIR Timing from a substanceAdministration's effectiveTime list (see module doc).

    ``bounds=False`` leaves the first IVL_TS out (a MedicationStatement carries it
    as effective[x]).
    """
    ets = flatten(effective_times)
    repeat: dict = {}
    out: dict = {}
    first = bounds_of(ets)
    for et in ets:
        kind = _kind(et)
        if kind == "PIVL_TS":
            for k, v in _pivl_repeat(et).items():
                if k in ("timeOfDay", "dayOfWeek", "when") and k in repeat:
                    repeat[k] = repeat[k] + [x for x in v if x not in repeat[k]]
                else:
                    repeat.setdefault(k, v)
        elif kind == "EIVL_TS":
            rep, code = _eivl(et)
            if "when" in rep:
                repeat["when"] = repeat.get("when", []) + [w for w in rep["when"] if w not in repeat.get("when", [])]
            if "offset" in rep:
                repeat.setdefault("offset", rep["offset"])
            if code:
                out.setdefault("code", code)
        elif et is not first and kind in ("IVL_TS", "TS"):
            when = dt_filter(et) if et.get("value") else None
            if when:
                out.setdefault("event", []).append(when)
    if bounds and first is not None:
        per = period_filter(first)
        if per:
            repeat["boundsPeriod"] = per
        else:
            when = dt_filter(first)  # @value, or center
            if when:
                out["event"] = [when] + [e for e in out.get("event", []) if e != when]
    if repeat:
        out["repeat"] = repeat
    return out or None


@template_filter
def effective_period(effective_times) -> dict | None:
    """The bounds effectiveTime's low/high as a Period."""
    return period_filter(bounds_of(effective_times))


@template_filter
def effective_datetime(effective_times) -> str | None:
    """The bounds effectiveTime's @value (or center) as a dateTime, when it has no low/high."""
    first = bounds_of(effective_times)
    if not first or period_filter(first):
        return None
    return dt_filter(first)


def _amount(pq, single: str, ranged: str) -> dict:
    """{single: Quantity} for a PQ (or an IVL_PQ whose low equals its high), {ranged: Range} for
    an IVL_PQ; {} for nothing."""
    if not isinstance(pq, dict):
        return {}
    if isinstance(pq.get("low"), dict) or isinstance(pq.get("high"), dict):
        rng = range_(pq)
        if rng and rng.get("low") == rng.get("high"):
            return {single: rng["low"]}
        return {ranged: rng} if rng else {}
    q = quantity(pq)
    return {single: q} if q else {}


@template_filter
def dose_and_rate(src) -> list[dict]:
    """Dosage.doseAndRate: doseQuantity (PQ -> doseQuantity, IVL_PQ -> doseRange) and rateQuantity."""
    if not isinstance(src, dict):
        return []
    out = {**_amount(one(src.get("doseQuantity")), "doseQuantity", "doseRange"),
           **_amount(one(src.get("rateQuantity")), "rateQuantity", "rateRange")}
    return [out] if out else []


@template_filter
def as_needed(src) -> dict:
    """{'asNeededCodeableConcept': ...} from a Precondition for Substance Administration (4.25)
    criterion value; {'asNeededBoolean': True} when a precondition carries no code."""
    pres = many(src.get("precondition")) if isinstance(src, dict) else []
    if not pres:
        return {}
    for pre in pres:
        crit = pre.get("criterion") if isinstance(pre, dict) else None
        if isinstance(crit, dict):
            cc = codeable_concept(one(crit.get("value"))) or (
                {"text": text(crit.get("text"))} if text(crit.get("text")) else None)
            if cc:
                return {"asNeededCodeableConcept": cc}
    return {"asNeededBoolean": True}


@template_filter
def sig_text(src) -> str | None:
    """Dosage.text from a Medication Free Text Sig (4.147, code 76662-6)."""
    for s in many(src.get("entryRelationship")) if isinstance(src, dict) else []:
        sa = s.get("substanceAdministration") if isinstance(s, dict) else None
        if not isinstance(sa, dict):
            continue
        code = sa.get("code") if isinstance(sa.get("code"), dict) else {}
        if has_template(sa, FREE_TEXT_SIG) or code.get("code") == "76662-6":
            t = text(sa.get("text"))
            if t:
                return t
    return None


def _instructions(src) -> list[dict]:
    return related(src, *INSTRUCTION)


@template_filter
def patient_instruction(src) -> str | None:
    """Dosage.patientInstruction from Instruction acts (4.20): their text, else code originalText."""
    parts = []
    for act in _instructions(src):
        t = text(act.get("text"))
        if not t and isinstance(act.get("code"), dict):
            t = original_text(act["code"])
        if t and t not in parts:
            parts.append(t)
    return "; ".join(parts) or None


@template_filter
def additional_instructions(src) -> list[dict]:
    """Dosage.additionalInstruction from coded Instruction acts (4.20)."""
    out = []
    for act in _instructions(src):
        cods = codings(act.get("code"))
        if cods:
            out.append({"coding": cods})
    return out


@template_filter
def dosage(src, bounds: bool = True) -> list[dict]:
    """The one Dosage of a Medication Activity (or Planned Medication Activity)."""
    if not isinstance(src, dict):
        return []
    d: dict = {}
    t = sig_text(src)
    if t:
        d["text"] = t
    cc = additional_instructions(src)
    if cc:
        d["additionalInstruction"] = cc
    pi = patient_instruction(src)
    if pi:
        d["patientInstruction"] = pi
    tm = timing(src.get("effectiveTime"), bounds=bounds)
    if tm:
        d["timing"] = tm
    d.update(as_needed(src))
    site = codeable_concept(one(src.get("approachSiteCode")))
    if site:
        d["site"] = site
    route = codeable_concept(src.get("routeCode"))
    if route:
        d["route"] = route
    dr = dose_and_rate(src)
    if dr:
        d["doseAndRate"] = dr
    mdp = ratio(src.get("maxDoseQuantity"))
    if mdp and mdp.get("numerator") and mdp.get("denominator"):
        d["maxDosePerPeriod"] = mdp
    return [d] if d else []
