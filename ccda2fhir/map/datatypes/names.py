"""PN / EN / ON -> FHIR HumanName and organization names (C-CDA on FHIR 'Name')."""
from __future__ import annotations

from ..engine.registry import template_filter
from .dates import period as _period
from .navigation import many, one
from .terminology import concept

def _part_texts(parts) -> list[str]:
    out = []
    for p in many(parts):
        t = p.get("_text") if isinstance(p, dict) else p
        if isinstance(t, str):
            t = " ".join(t.split())
            if t:
                out.append(t)
    return out


@template_filter
def human_name(pn) -> dict | None:
    """One HumanName: use, family, given, prefix, suffix, period; text for unstructured names."""
    pn = one(pn)
    if not isinstance(pn, dict):
        return None  # a nullFlavor name with parts keeps them; one with none gives None below
    out = {}
    use = (pn.get("use") or "").split()
    if use:
        c = concept(use[0], "NameUse")
        if c:
            out["use"] = c["code"]
    family = _part_texts(pn.get("family"))
    given = _part_texts(pn.get("given"))
    prefix = _part_texts(pn.get("prefix"))
    suffix = _part_texts(pn.get("suffix"))
    if family:
        out["family"] = " ".join(family)
    if given:
        out["given"] = given
    if prefix:
        out["prefix"] = prefix
    if suffix:
        out["suffix"] = suffix
    if not (family or given or prefix or suffix) and pn.get("_text"):
        out["text"] = pn["_text"]
    valid = _period(pn.get("validTime"))
    if valid:
        out["period"] = valid
    return out if any(k in out for k in ("family", "given", "text", "prefix", "suffix")) else None


@template_filter
def human_names(names) -> list[dict]:
    """A HumanName for each PN of a list; those that give no name part or text left out."""
    return [n for x in many(names) if (n := human_name(x))]


@template_filter
def name_text(names) -> str | None:
    """A display string for a person or organization name."""
    n = one(names)
    if isinstance(n, str):
        return " ".join(n.split()) or None
    if not isinstance(n, dict):
        return None
    parts = _part_texts(n.get("prefix")) + _part_texts(n.get("given")) + _part_texts(n.get("family")) \
        + _part_texts(n.get("suffix"))
    if parts:
        return " ".join(parts)
    t = n.get("_text")
    return " ".join(t.split()) if isinstance(t, str) and t.strip() else None


@template_filter
def org_name(names) -> str | None:
    """An organization's name (ON is text, sometimes with parts)."""
    return name_text(names)


@template_filter
def org_aliases(names) -> list[str]:
    """Every name of an organization after the first."""
    return [t for t in (name_text(n) for n in many(names)[1:]) if t]
