"""References only to resource types their element allows (R4's type.targetProfile).

A template may name a participant whose resource R4 does not allow there (an Organization as
``Condition.recorder``, when the source's author is an organization): such a reference is left out
and reported; the participant stays where R4 allows it (the Provenance of what it authored).
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def targets() -> dict[str, dict[str, tuple]]:
    """Resource type -> JSON path of each Reference element -> the types it may point at."""
    data = json.loads(resources.files("ccda2fhir.data").joinpath("fhir", "reference-targets.json").read_text())
    return {rt: {path: tuple(t) for path, t in paths.items()}
            for rt, paths in data.items() if not rt.startswith("_")}


@lru_cache(maxsize=None)
def _paths(resource_type) -> tuple:
    """(path, its steps, the types allowed) of each Reference element of a resource type."""
    return tuple((path, tuple(path.split(".")), allowed)
                 for path, allowed in targets().get(resource_type, {}).items())


def drop_misdirected(resource: dict) -> list[tuple[str, str]]:
    """Remove each reference to a type its element does not allow; returns (element path, the
    type it pointed at) for each removed."""
    removed = []
    for path, steps, allowed in _paths(resource.get("resourceType")):
        if steps[0] in resource:
            removed += [(path, t) for t in _drop(resource, steps, allowed)]
    return removed


def _drop(node, steps: tuple, allowed: tuple) -> list[str]:
    if isinstance(node, list):
        return [t for item in node for t in _drop(item, steps, allowed)]
    if not isinstance(node, dict) or steps[0] not in node:
        return []
    key = steps[0]
    if len(steps) > 1:
        return _drop(node[key], steps[1:], allowed)
    value = node[key]
    items = value if isinstance(value, list) else [value]
    keep, gone = [], []
    for ref in items:
        t = _type_of(ref)
        (gone if t is not None and t not in allowed else keep).append(ref if t is None or t in allowed else t)
    if gone:
        if isinstance(value, list) and keep:
            node[key] = keep
        else:
            del node[key]
    return gone


def _type_of(ref) -> str | None:
    r = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(r, str) or r.startswith(("#", "urn:")) or "/" not in r:
        return None
    return r.split("/")[-2]
