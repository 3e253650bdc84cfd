"""TEL -> FHIR ContactPoint (C-CDA on FHIR 'Telecom')."""
from __future__ import annotations

import re

from ..engine.registry import template_filter
from .dates import period as _period
from .navigation import many, one
from .terminology import concept

_SCHEME = re.compile(r"^\s*(tel|fax|mailto|http|https|ftp|mllp|file|modem|x-text-fax|x-text-tel)\s*:\s*",
                     re.I)


@template_filter
def contact_point(tel) -> dict | None:
    """One ContactPoint: system from the URL scheme, value without it, use, period."""
    tel = one(tel)
    if not isinstance(tel, dict):
        return None
    raw = (tel.get("value") or "").strip()
    if not raw:
        return None
    system, value = None, raw
    m = _SCHEME.match(raw)
    if m:
        scheme = m.group(1).lower()
        value = raw[m.end():]
        # senders sometimes repeat the scheme ("tel:tel:555...")
        while _SCHEME.match(value):
            value = value[_SCHEME.match(value).end():]
        if scheme in ("http", "https", "ftp", "file"):
            value = raw.strip()
            system = "url"
        else:
            c = concept(scheme, "TelecomType")
            system = c["code"] if c else "other"
    elif "@" in raw:
        system = "email"
    elif re.match(r"^[+()\d][\d\s().\-+x]*$", raw):
        system = "phone"
    value = " ".join(value.split())
    if not value:
        return None
    use = (tel.get("use") or "").split()
    if "PG" in use and system in (None, "phone", "other"):
        system = "pager"  # IG: CDA @use='PG' is FHIR system 'pager'
    # FHIR cpt-2: a ContactPoint with a value must say its system
    out = {"system": system or "other", "value": value}
    for u in use:
        c = concept(u, "TelecomUse")
        if c:
            out["use"] = c["code"]
            break
    p = _period(tel.get("useablePeriod"))
    if p:
        out["period"] = p
    return out


@template_filter
def contact_points(tels) -> list[dict]:
    """A ContactPoint for each TEL of a list, each once (same system, value and use); empty values
    left out."""
    out, seen = [], set()
    for t in many(tels):
        cp = contact_point(t)
        if cp and (cp.get("system"), cp["value"], cp.get("use")) not in seen:
            seen.add((cp.get("system"), cp["value"], cp.get("use")))
            out.append(cp)
    return out
