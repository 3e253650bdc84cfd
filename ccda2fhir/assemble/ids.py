"""Deterministic resource ids: RFC 4122 version-3 UUIDs from a resource's key.

id = uuid3(NAMESPACE, "<ResourceType>|<key>"), where key is the source's
identifier ("root|extension", UUID roots lowercased) when it has one, else a
canonical serialization of the mapped content. The same key anywhere in the
document gives the same id, so the same thing becomes one resource.
"""
from __future__ import annotations

import re
import uuid

import orjson

# Fixed forever: changing it changes every id ccda2fhir has ever produced.
NAMESPACE = uuid.UUID("8b6f3c2e-2d1a-5c4e-9f7a-0c2da2f1e0a1")

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def resource_id(resource_type: str, key: str) -> str:
    """The id of a resource of this type with this key."""
    return str(uuid.uuid3(NAMESPACE, f"{resource_type}|{key}"))


def canonical(content) -> str:
    """Key for content with no identifier: its JSON with sorted keys."""
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS).decode()


def ii_key(ii) -> str | None:
    """Key of one CDA II (dict with root/extension), or None when it identifies nothing."""
    if not isinstance(ii, dict) or ii.get("nullFlavor") and not ii.get("root"):
        return None
    root = (ii.get("root") or "").strip()
    ext = (ii.get("extension") or "").strip()
    if not root and not ext:
        return None
    if _UUID.match(root):
        root = root.lower()
    return f"{root}|{ext}"
