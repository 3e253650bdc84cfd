"""TS / IVL_TS -> FHIR date, dateTime, instant and Period (C-CDA on FHIR 'Time/Dates').

Precision is kept as written. A time of day is only kept when the source gives
its UTC offset: FHIR dateTime requires one, and inventing a zone would move the
moment, so a time without offset drops to date precision, as the IG says.
"""
from __future__ import annotations

import calendar
import re
from datetime import datetime as _dt

from ..engine.registry import template_filter
from ..state import warn
from .navigation import many, one

_TS = re.compile(
    r"^(?P<y>\d{4})(?P<mo>\d{2})?(?P<d>\d{2})?(?P<h>\d{2})?(?P<mi>\d{2})?(?P<s>\d{2})?"
    r"(?P<f>\.\d+)?(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?$")
# A full day (and maybe a time) followed by a sign and something that is no offset.
_BAD_OFFSET = re.compile(r"^(\d{8}(?:\d{2}){0,3}(?:\.\d+)?)[+-](?!\d{2}(?:\d{2})?$).*$")
# Some senders write ISO 8601 into TS values; read those too.
# The date part must end the value or be followed by the time, so that "2000-0500"
# (year 2000, offset -05:00) is not read as ISO "2000-05".
_ISO_SEPARATORS = re.compile(
    r"^(\d{4})-(\d{2})(?:-(\d{2}))?(?=$|[T ])(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?")


class TS:
    """A parsed CDA timestamp."""

    __slots__ = ("y", "mo", "d", "h", "mi", "s", "f", "tz")

    def __init__(self, y, mo, d, h, mi, s, f, tz):
        self.y, self.mo, self.d, self.h, self.mi, self.s, self.f, self.tz = y, mo, d, h, mi, s, f, tz

    def date(self) -> str:
        out = self.y
        if self.mo:
            out += f"-{self.mo}"
            if self.d:
                out += f"-{self.d}"
        return out

    def datetime(self) -> str:
        if self.h is None or self.tz is None or self.d is None:
            return self.date()
        return f"{self.date()}T{self.h}:{self.mi or '00'}:{self.s or '00'}{self.f or ''}{self.tz}"


# TS @value -> its parse, for the values read without a warning (a TS is never changed once made;
# the same few times recur on every entry: authors, the document's effectiveTime)
_PARSED: dict[str, TS] = {}


def parse_ts(value) -> TS | None:
    """Parse a TS @value (or a dict carrying one); None when absent or not a valid date."""
    if isinstance(value, dict):
        if value.get("nullFlavor") and not value.get("value"):
            return None
        value = value.get("value")
    if not isinstance(value, str):
        return None
    ts = _PARSED.get(value)
    if ts is None:
        ts, warned = _read_ts(value)
        if ts is not None and not warned:
            if len(_PARSED) >= 4096:
                _PARSED.clear()
            _PARSED[value] = ts
    return ts


def _read_ts(value: str) -> tuple[TS | None, bool]:
    """parse_ts of a string, and whether it warned."""
    warned = False
    raw = value.strip()
    if not raw:
        return None, False
    digits, tz, frac = raw, None, None
    if len(raw) > 5 and raw[-5] in "+-":
        digits, tz = raw[:-5], raw[-5:]
    if (digits.isascii() and digits.isdigit() and len(digits) in (4, 6, 8, 10, 12, 14)
            and (tz is None or (tz[1:].isascii() and tz[1:].isdigit()))):
        # the common form (digits, maybe a +hhmm offset), read as _TS reads it, without the regexes
        y, mo, d, h, mi, s = (digits[:4], digits[4:6] or None, digits[6:8] or None,
                              digits[8:10] or None, digits[10:12] or None, digits[12:14] or None)
    else:
        iso = _ISO_SEPARATORS.match(raw)
        compact = raw
        if iso:
            compact = "".join(g or "" for g in iso.groups()) + raw[iso.end():].replace(":", "")
        m = _TS.match(compact)
        if not m:
            bad_offset = _BAD_OFFSET.match(compact)
            if not bad_offset:
                warn(f"date {raw!r} is not a valid TS; left out")
                return None, True
            # "198506221100-05AB": the offset is unreadable, so the time cannot be placed;
            # the day is not in doubt and is kept
            warn(f"date {raw!r} has an unreadable UTC offset; kept to the day")
            warned = True
            m = _TS.match(bad_offset.group(1)[:8])
        g = m.groupdict()
        y, mo, d, h, mi, s = g["y"], g["mo"], g["d"], g["h"], g["mi"], g["s"]
        tz, frac = g["tz"], g["f"]
    try:
        if mo and not 1 <= int(mo) <= 12:
            raise ValueError("month")
        # the days of the month as calendar.monthrange counts them, without its weekday
        if d and not 1 <= int(d) <= calendar.mdays[int(mo)] + (int(mo) == 2 and calendar.isleap(int(y))):
            raise ValueError("day")
        if h and not 0 <= int(h) <= 23:
            raise ValueError("hour")
        if mi and not 0 <= int(mi) <= 59:
            raise ValueError("minute")
        if s and not 0 <= int(s) <= 60:
            raise ValueError("second")
        if int(y) == 0:
            raise ValueError("year")
    except ValueError as exc:
        warn(f"date {raw!r} has an impossible {exc}; left out")
        return None, True
    if tz and tz != "Z":
        sign, digits = tz[0], tz[1:].replace(":", "")
        hh, mm = digits[:2], digits[2:4] or "00"
        # FHIR allows -14:00 .. +14:00 (a +14:30 would fail its dateTime pattern)
        if int(hh) > 14 or int(mm) > 59 or (int(hh) == 14 and int(mm) != 0):
            warn(f"date {raw!r} has an impossible UTC offset; kept to the day")
            warned = True
            tz = None
        else:
            tz = f"{sign}{hh}:{mm}"
    if frac and len(frac) > 10:
        frac = frac[:10]
    return TS(y, mo, d, h, mi, s, frac if s else None, tz), warned


@template_filter
def date(value) -> str | None:
    """FHIR date (YYYY, YYYY-MM or YYYY-MM-DD) from a TS."""
    ts = parse_ts(one(value))
    return ts.date() if ts else None


@template_filter
def datetime(value) -> str | None:
    """FHIR dateTime from a TS, or from an IVL_TS's @value/center."""
    value = one(value)
    if isinstance(value, dict) and not value.get("value") and isinstance(value.get("center"), dict):
        value = value["center"]
    ts = parse_ts(value)
    return ts.datetime() if ts else None


@template_filter
def instant(value) -> str | None:
    """FHIR instant: only when the TS has a full time of day and a UTC offset."""
    ts = parse_ts(one(value))
    if ts and ts.h is not None and ts.tz and ts.d:
        return ts.datetime()
    return None


def _instant_utc(value: str):
    """A FHIR dateTime with a time (and so an offset) as an aware datetime; else None."""
    if "T" not in value:
        return None
    try:
        return _dt.fromisoformat(re.sub(r"\.\d+", "", value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _after(start: str, end: str) -> bool:
    """start is certainly later than end (compared at the precision both have)."""
    a, b = _instant_utc(start), _instant_utc(end)
    if a is not None and b is not None:
        return a > b
    n = min(len(start), len(end), 10)
    return start[:n] > end[:n]


@template_filter
def period(ivl) -> dict | None:
    """FHIR Period from an IVL_TS's low/high (None when it has only @value)."""
    ivl = one(ivl)
    if not isinstance(ivl, dict):
        return None
    start = datetime(ivl.get("low"))
    end = datetime(ivl.get("high"))
    if not start and not end:
        return None
    if start and end and _after(start, end):
        # FHIR per-1: a Period cannot end before it starts; the start is kept (it is the
        # onset templates care about) and the impossible end reported
        warn(f"period ends ({end}) before it starts ({start}); end left out")
        end = None
    elif start and end and start[:10] == end[:10] and (len(start) > 10) != (len(end) > 10):
        # one bound a date, the other a time that day: FHIR cannot order them (per-1 is then
        # undecided, which validators reject); both stay that day, as dates
        start, end = start[:10], end[:10]
    out = {}
    if start:
        out["start"] = start
    if end:
        out["end"] = end
    return out


@template_filter
def start(ivl) -> str | None:
    """The dateTime an IVL_TS starts: low, else @value, else center."""
    ivl = one(ivl)
    if not isinstance(ivl, dict):
        return None
    return datetime(ivl.get("low")) or datetime(ivl)


@template_filter
def end(ivl) -> str | None:
    """The dateTime an IVL_TS ends (high)."""
    ivl = one(ivl)
    return datetime(ivl.get("high")) if isinstance(ivl, dict) else None


@template_filter
def earliest(values) -> str | None:
    """The earliest dateTime among TS values (author times, say)."""
    found = [(t.date() + (t.h or "") + (t.mi or ""), t.datetime()) for t in
             (parse_ts(v) for v in many(values)) if t]
    return min(found)[1] if found else None


@template_filter
def latest(values) -> str | None:
    """The latest dateTime among TS values (the newest author time, say)."""
    found = [(t.date() + (t.h or "") + (t.mi or ""), t.datetime()) for t in
             (parse_ts(v) for v in many(values)) if t]
    return max(found)[1] if found else None
