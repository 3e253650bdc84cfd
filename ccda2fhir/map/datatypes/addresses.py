"""AD -> FHIR Address (C-CDA on FHIR 'Address')."""
from __future__ import annotations

from ..engine.registry import template_filter
from .dates import period as _period
from .navigation import many, one
from .terminology import concept

_PARTS = {"city": "city", "state": "state", "postalCode": "postalCode", "country": "country",
          "county": "district"}


def _txt(v) -> str | None:
    v = one(v)
    t = v.get("_text") if isinstance(v, dict) else v
    if isinstance(t, str):
        t = " ".join(t.split())
        return t or None
    return None


@template_filter
def address(ad) -> dict | None:
    """One Address: use, lines, city, district, state, postal code, country, period."""
    ad = one(ad)
    if not isinstance(ad, dict) or ad.get("nullFlavor") and not ad.get("city") and not ad.get("_text"):
        return None
    out = {}
    use = (ad.get("use") or "").split()
    if use:
        c = concept(use[0], "AddressUse")
        if c:
            out["use"] = c["code"]
        if use[0] in ("PHYS", "PST"):
            out["type"] = "physical" if use[0] == "PHYS" else "postal"
    lines = [t for x in many(ad.get("streetAddressLine")) if (t := _txt(x))]
    if not lines:
        parts = [t for t in (_txt(ad.get(k)) for k in ("houseNumber", "streetName", "unitID")) if t]
        if parts:
            lines = [" ".join(parts)]
    if lines:
        out["line"] = lines
    for cda, fhir in _PARTS.items():
        t = _txt(ad.get(cda))
        if t:
            out[fhir] = t
    if len(out) == ("use" in out) + ("type" in out) and ad.get("_text"):
        out["text"] = ad["_text"]
    p = _period(ad.get("useablePeriod"))
    if p:
        out["period"] = p
    return out if set(out) - {"use", "type", "period"} else None


@template_filter
def addresses(ads) -> list[dict]:
    """An Address for each AD of a list; those giving no line, place or text (a bare nullFlavor) left out."""
    return [a for x in many(ads) if (a := address(x))]


@template_filter
def not_home(items: list) -> list[dict]:
    """Addresses or ContactPoints with a ``home`` use left without a use: FHIR forbids it where
    the holder is no person (org-2, org-3 on an Organization); the address or number is kept."""
    return [{k: v for k, v in x.items() if k != "use"} if x.get("use") == "home" else x
            for x in items or ()]
