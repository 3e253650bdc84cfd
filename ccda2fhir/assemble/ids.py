"""Deterministic resource ids: RFC 4122 version-3 UUIDs from a resource's key.

id = uuid3(namespace, "<ResourceType>|<key>"), where key is the source's
identifier ("root|extension", UUID roots lowercased) when it has one, else a
canonical serialization of the mapped content. The same key anywhere in the
document gives the same id, so the same thing becomes one resource.

The namespace is NAMESPACE for shared things (practitioners, organizations,
locations, drugs) and the patient's own namespace, uuid3(NAMESPACE,
"Patient|<patient_id>"), for everything in the patient's compartment: vendors
reuse statement ids across patients, and one patient's Condition must never
overwrite another's on a FHIR server.
"""
from __future__ import annotations

import json
import re
import uuid
from functools import lru_cache
from hashlib import md5
from importlib import resources

import orjson

# Fixed forever: changing it changes every id ccda2fhir has ever produced.
NAMESPACE = uuid.UUID("8b6f3c2e-2d1a-5c4e-9f7a-0c2da2f1e0a1")

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


_NAMESPACE_BYTES = NAMESPACE.bytes
# uuid3 sets the RFC 4122 variant: the top two bits of byte 8 are 10 (its first hex digit 8-b)
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def resource_id(resource_type: str, key: str, namespace: uuid.UUID = NAMESPACE) -> str:
    """The id of a resource of this type with this key: str(uuid.uuid3(namespace, "<type>|<key>")),
    made from the MD5 digest directly (the uuid module's objects cost more than the hash)."""
    ns = _NAMESPACE_BYTES if namespace is NAMESPACE else namespace.bytes
    h = md5(ns + f"{resource_type}|{key}".encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"{h[:8]}-{h[8:12]}-3{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def patient_namespace(patient_id: str) -> uuid.UUID:
    """The namespace of the ids of one patient's resources."""
    return uuid.uuid3(NAMESPACE, f"Patient|{patient_id}")


def canonical(content) -> str:
    """Key for content with no identifier: its JSON with sorted keys."""
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS).decode()


@lru_cache(maxsize=1)
def _known_systems() -> frozenset:
    """Identifier roots that name a system (NPI, SSN, ...): without an extension they identify nothing."""
    data = json.loads(resources.files("ccda2fhir.data").joinpath("identifier_systems.json").read_text())
    return frozenset(k for k in data if not k.startswith("_"))


def ii_key(ii) -> str | None:
    """Key of one CDA II (dict with root/extension), or None when it identifies nothing.

    Nothing is identified by an II with neither root nor extension, by a nullFlavor
    II without an extension (the root alone is then only a namespace), or by the root
    of a known identifier system alone (``<id root="2.16.840.1.113883.4.6"/>``, an
    NPI whose value is unknown): keying on those would merge different things.
    """
    if not isinstance(ii, dict):
        return None
    root, ext = ii.get("root"), ii.get("extension")
    if (root is None or type(root) is str) and (ext is None or type(ext) is str):
        memo = (root, ext, bool(ii.get("nullFlavor")))
        key = _II_KEYS.get(memo, _II_KEYS)      # the dict itself marks a miss (None is a key)
        if key is _II_KEYS:
            if len(_II_KEYS) >= 8192:
                _II_KEYS.clear()
            key = _II_KEYS[memo] = _ii_key(ii)
        return key
    return _ii_key(ii)


# (root, extension, has a nullFlavor) -> ii_key: the same ids recur on every mention of a participant
_II_KEYS: dict = {}


def _ii_key(ii: dict) -> str | None:
    root = " ".join((ii.get("root") or "").split())
    ext = " ".join((ii.get("extension") or "").split())
    if not ext and (not root or ii.get("nullFlavor") or root in _known_systems()):
        return None
    if _UUID.match(root):
        root = root.lower()
    return f"{root}|{ext}"
