"""II -> FHIR Identifier (C-CDA on FHIR 'CDA id -> FHIR identifier')."""
from __future__ import annotations

import re

from ...assemble.ids import ii_key
from .navigation import many, one
from .registry import template_filter
from .terminology import identifier_systems

URI_OID = "2.16.840.1.113883.4.873"
RFC3986 = "urn:ietf:rfc:3986"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")


def _root_uri(root: str) -> str:
    if _UUID.match(root):
        return f"urn:uuid:{root.lower()}"
    if _OID.match(root):
        return f"urn:oid:{root}"
    return root


@template_filter
def identifier(ii) -> dict | None:
    """One Identifier from one II; None for a bare nullFlavor."""
    ii = one(ii)
    if not isinstance(ii, dict):
        return None
    root = (ii.get("root") or "").strip()
    ext = (ii.get("extension") or "").strip()
    if not root and not ext:
        return None
    if ext and root == URI_OID:
        sep = "/" if ext.startswith("http") else ":"
        system, _, value = ext.rpartition(sep)
        return {"system": system, "value": value} if system and value else {"value": ext}
    if ext:
        out = {"value": ext}
        if root:
            out["system"] = identifier_systems().get(root) or _root_uri(root)
        if ii.get("assigningAuthorityName"):
            out["assigner"] = {"display": " ".join(ii["assigningAuthorityName"].split())}
        return out
    if root in identifier_systems():
        # A known system with no value (an NPI root alone) identifies nothing.
        return None
    return {"system": RFC3986, "value": _root_uri(root)}


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


@template_filter
def id_key(ids) -> str | None:
    """The key that makes a resource's id: its identifiers, in document order."""
    keys = [k for k in (ii_key(ii) for ii in many(ids)) if k]
    return " ".join(keys) if keys else None
