"""PQ, IVL_PQ, RTO, INT, REAL -> FHIR Quantity, Range, Ratio and numbers.

Numbers stay JSON numbers: integers as integers, decimals as decimals. A comma
decimal separator ("98,6") is read as a point; anything else not a number is
reported and left out. The unit goes to Quantity.code with the UCUM system when
it is a plausible UCUM code, and always to Quantity.unit; unit "1" (UCUM's unity)
is kept as code only.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from ..engine.registry import FILTERS, template_filter
from ..state import warn
from .navigation import many, one

UCUM = "http://unitsofmeasure.org"
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
# "1,000,000" or "1,000.5": commas grouping thousands (a single ",ddd" alone is read as a decimal comma)
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_INT64 = 2 ** 63
# UCUM codes have no spaces and use a small alphabet; free-text units ("tablets") are not UCUM.
_UCUM_LIKE = re.compile(r"^[A-Za-z0-9%\[\]{}/.*^'\-_()]+$")
_NOT_UCUM = frozenset({"tablet", "tablets", "tab", "puff", "puffs", "capsule", "capsules", "cap",
                       "drop", "drops", "unit", "units", "each", "patch", "spray", "sprays"})


@template_filter
def number(value):
    """A JSON number from a CDA numeric string (int when integral as written).

    Never returns NaN, an infinity, a magnitude of 2**63 or more, or a float that
    lost the value entirely (an underflow to 0): such values are reported and left out.
    """
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else None
    if isinstance(value, float):
        return value if math.isfinite(value) and abs(value) < _INT64 else None
    if not isinstance(value, str):
        return None
    raw = "".join(value.split())
    if not raw:
        return None
    if _THOUSANDS.match(raw) and (raw.count(",") > 1 or "." in raw):
        raw = raw.replace(",", "")
    if not _NUMBER.match(raw):
        warn(f"{value!r} is not a number; left out")
        return None
    if "," in raw:
        raw = raw.replace(",", ".")
    try:
        d = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern guards this
        return None
    if abs(d) >= _INT64:
        # no clinical quantity is this large (cell counts are written 10*12/L): such a
        # value is garbage, and callers turning it into an int would overflow JSON
        warn(f"{value!r} is too large to be a quantity; left out")
        return None
    if "." not in raw and "e" not in raw.lower():
        return int(d)
    f = float(d)
    if f == 0.0 and not d.is_zero():
        warn(f"{value!r} is too small for a decimal number; left out")
        return None
    return f


def _unit_coding(unit: str | None) -> dict:
    if not unit:
        return {}
    unit = unit.strip()
    if not unit:
        return {}
    if unit == "1":
        return {"system": UCUM, "code": "1"}
    if _UCUM_LIKE.match(unit) and unit.lower() not in _NOT_UCUM:
        return {"unit": unit, "system": UCUM, "code": unit}
    return {"unit": unit}


@template_filter
def quantity(pq) -> dict | None:
    """FHIR Quantity from a PQ (value + UCUM unit); None without a numeric value."""
    pq = one(pq)
    if not isinstance(pq, dict) or pq.get("nullFlavor") and not pq.get("value"):
        return None
    v = number(pq.get("value"))
    if v is None:
        return None
    return {"value": v, **_unit_coding(pq.get("unit"))}


@template_filter
def simple_quantity(pq) -> dict | None:
    """Quantity without a comparator (SimpleQuantity)."""
    return quantity(pq)


@template_filter
def range_(ivl) -> dict | None:
    """FHIR Range from an IVL_PQ's low/high (or @value as both)."""
    ivl = one(ivl)
    if not isinstance(ivl, dict):
        return None
    low, high = quantity(ivl.get("low")), quantity(ivl.get("high"))
    if not low and not high and ivl.get("value") is not None:
        q = quantity(ivl)
        low = high = q
    if low and high and _has_unit(low) != _has_unit(high):
        # "300 mg to 355.25": the bounds cannot be compared (rng-2), and reading the bare number
        # in mg would be our guess: the bound without a unit is left out
        bare = "high" if _has_unit(low) else "low"
        warn(f"range {bare} {(high if bare == 'high' else low)['value']} has no unit while the other "
              f"bound has one; {bare} left out")
        low, high = (low, None) if bare == "high" else (None, high)
    out = {}
    if low:
        out["low"] = low
    if high:
        out["high"] = high
    return out or None


def _has_unit(q: dict) -> bool:
    return bool(q.get("code") or q.get("unit"))


@template_filter
def ratio(rto) -> dict | None:
    """FHIR Ratio from an RTO (numerator/denominator as Quantities)."""
    rto = one(rto)
    if not isinstance(rto, dict):
        return None
    num = quantity(rto.get("numerator"))
    den = quantity(rto.get("denominator"))
    if not num and not den:
        return None
    out = {}
    if num:
        out["numerator"] = num
    if den:
        out["denominator"] = den
    return out


@template_filter
def quantities(items) -> list[dict]:
    """A FHIR Quantity for each PQ of a list; those without a numeric value left out."""
    return [q for x in many(items) if (q := quantity(x))]


FILTERS["range_pq"] = FILTERS.pop("range_")

_AGE_UNITS = {"a": "year", "mo": "month", "wk": "week", "d": "day", "h": "hour", "min": "minute"}


@template_filter
def age(pq) -> dict | None:
    """FHIR Age from a PQ in UCUM time units."""
    pq = one(pq)
    if not isinstance(pq, dict):
        return None
    v = number(pq.get("value"))
    unit = (pq.get("unit") or "a").strip()
    if v is None or unit not in _AGE_UNITS:
        return None
    return {"value": v, "unit": _AGE_UNITS[unit], "system": "http://unitsofmeasure.org", "code": unit}
