"""II -> FHIR Identifier (C-CDA on FHIR 'CDA id -> FHIR identifier')."""
from __future__ import annotations

import re

from ...assemble.ids import ii_key
from ..engine.registry import template_filter, template_global
from ..state import warn
from .navigation import many, one
from .terminology import OID_PATTERN, UUID_PATTERN, identifier_systems

URI_OID = "2.16.840.1.113883.4.873"
RFC3986 = "urn:ietf:rfc:3986"


def _root_uri(root: str) -> str | None:
    """urn:uuid:/urn:oid: for a UID root; a root that already is a URI as is; else None."""
    if UUID_PATTERN.match(root):
        return f"urn:uuid:{root.lower()}"
    if OID_PATTERN.match(root):
        return f"urn:oid:{root}"
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", root):
        return root
    return None


@template_filter
def identifier(ii) -> dict | None:
    """One Identifier from one II (IG 'CDA id -> FHIR Identifier'); None when it identifies nothing.

    A nullFlavor id without an extension, and a known system's root alone (an NPI
    with no value), identify nothing: no Identifier is made for them (the IG's
    data-absent-reason Identifier is optional, and one without a value helps no one).
    """
    ii = one(ii)
    if not isinstance(ii, dict):
        return None
    root = " ".join((ii.get("root") or "").split())
    ext = " ".join((ii.get("extension") or "").split())
    if not root and not ext:
        return None
    if ext and root == URI_OID:
        sep = "/" if ext.startswith(("http:", "https:")) else ":"
        system, _, value = ext.rpartition(sep)
        if system and value and _root_uri(system):
            return {"system": system, "value": value}
        return {"value": ext}
    if ext:
        out = {"value": ext}
        if root:
            system = identifier_systems().get(root) or _root_uri(root)
            if system:
                out["system"] = system
            else:
                warn(f"identifier root {root!r} is neither an OID nor a UUID; system left out")
        if ii.get("assigningAuthorityName"):
            name = " ".join(ii["assigningAuthorityName"].split())
            if name:
                out["assigner"] = {"display": name}
        return out
    if ii.get("nullFlavor") or root in identifier_systems():
        return None
    uri = _root_uri(root)
    if uri is None:
        warn(f"identifier root {root!r} is neither an OID nor a UUID; kept as a bare value")
        return {"value": root}
    return {"system": RFC3986, "value": uri}


@template_filter
def identifiers(ids) -> list[dict]:
    """All Identifiers from a list of II, each once."""
    out, seen = [], set()
    for ii in many(ids):
        ident = identifier(ii)
        if ident:
            k = (ident.get("system"), ident["value"])
            if k not in seen:
                seen.add(k)
                out.append(ident)
    return out


@template_global
def identifiers_of(*statements) -> list[dict]:
    """The Identifiers of several statements, in order, each once (a resource made from a
    statement and the act that holds it, e.g. a Planned Coverage and its policy act)."""
    return identifiers([ii for s in statements if isinstance(s, dict) for ii in many(s.get("id"))])


@template_filter
def id_key(ids) -> str | None:
    """The key that makes a resource's id: its identifiers, in document order."""
    keys = [k for ii in many(ids) if (k := ii_key(ii))]
    return " ".join(keys) if keys else None
