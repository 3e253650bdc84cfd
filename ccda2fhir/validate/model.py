"""The FHIR R4 type model (data/fhir/r4-model.json) and a typed walk over a resource.

The walk knows, for every node of a resource, which StructureDefinition and element path
describe it, so that each invariant runs where it is defined: gol-1 on each Goal.target,
per-1 on every Period wherever it appears, ext-1 on every Extension.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterator

from ..conform.structure import KEY_TYPE


@lru_cache(maxsize=1)
def model() -> dict:
    """The generated R4 model: ``{"primitives": [...], "types": {name: definition}}``."""
    text = resources.files("ccda2fhir.data").joinpath("fhir", "r4-model.json").read_text()
    return json.loads(text)


@lru_cache(maxsize=1)
def primitives() -> frozenset:
    return frozenset(model()["primitives"])


@dataclass(frozen=True)
class Child:
    """What a JSON key of a node is: its element path, its type, its element definition."""

    path: str
    type: str
    info: dict


@lru_cache(maxsize=None)
def children(sd: str, path: str) -> dict[str, Child]:
    """JSON key -> Child for the element ``path`` of StructureDefinition ``sd``."""
    elements = model()["types"][sd]["elements"]
    out = {}
    prefix = path + "."
    for p, info in elements.items():
        if not p.startswith(prefix) or "." in p[len(prefix):]:
            continue
        name = p[len(prefix):]
        types = info.get("t") or ["BackboneElement"]
        if name.endswith("[x]"):
            stem = name[:-3]
            for t in types:
                key_type = KEY_TYPE.get(t, t)
                out[stem + key_type[0].upper() + key_type[1:]] = Child(p, t, info)
        else:
            out[name] = Child(p, types[0], info)
    return out


@lru_cache(maxsize=None)
def has_own_children(sd: str, path: str) -> bool:
    """A backbone element: its children are defined inline in the same StructureDefinition."""
    prefix = path + "."
    return any(p.startswith(prefix) for p in model()["types"][sd]["elements"])


@lru_cache(maxsize=None)
def root_constraints(type_name: str) -> tuple:
    """Invariants on a type's root, its own and its bases' (Observation: obs-*, dom-*)."""
    out = []
    t = type_name
    types = model()["types"]
    while t and t in types:
        d = types[t]
        out += [(t, d["root"], c) for c in d.get("constraints", {}).get(d["root"], ())]
        t = d.get("base")
    return tuple(out)


def element_constraints(sd: str, path: str) -> list:
    return model()["types"][sd].get("constraints", {}).get(path, ())


@dataclass
class Node:
    """One complex value in a resource: where it is (``where``, a JSON pointer-like path), what
    describes it (``sd`` and ``path``) and its datatype (``type``; None inside a backbone)."""

    value: dict
    where: str
    sd: str
    path: str
    type: str | None
    via: tuple | None = None   # (sd, element path) of the element holding a datatype node


def walk(resource: dict, where: str = "") -> Iterator[Node]:
    """Every complex node of ``resource`` (the resource itself first), typed. Nested resources
    (contained, Bundle.entry.resource) are not entered: they are walked as resources of their own."""
    rt = resource.get("resourceType")
    if rt not in model()["types"]:
        return
    yield Node(resource, where or rt, rt, rt, rt)
    yield from _walk(resource, where or rt, rt, rt)


def _walk(node: dict, where: str, sd: str, path: str) -> Iterator[Node]:
    kids = children(sd, path)
    for key, value in node.items():
        if key.startswith("_") or key == "resourceType":
            continue
        child = kids.get(key)
        if child is None:
            continue
        for i, v in enumerate(value) if isinstance(value, list) else ((None, value),):
            if not isinstance(v, dict):
                continue
            at = f"{where}.{key}" + (f"[{i}]" if i is not None else "")
            if child.type == "Resource" or (child.type not in model()["types"] and "resourceType" in v):
                continue
            if child.info.get("ref"):
                yield Node(v, at, sd, child.info["ref"], None)
                yield from _walk(v, at, sd, child.info["ref"])
            elif has_own_children(sd, child.path):
                yield Node(v, at, sd, child.path, None)
                yield from _walk(v, at, sd, child.path)
            elif child.type in model()["types"]:
                t = child.type
                root = model()["types"][t]["root"]
                yield Node(v, at, t, root, t, (sd, child.path))
                yield from _walk(v, at, t, root)
    # the extensions of primitives (_birthDate: {"extension": [...]})
    for key, value in node.items():
        if not key.startswith("_") or key[1:] not in kids:
            continue
        for i, v in enumerate(value) if isinstance(value, list) else ((None, value),):
            if isinstance(v, dict):
                at = f"{where}.{key}" + (f"[{i}]" if i is not None else "")
                yield Node(v, at, "Element", "Element", "Element")
                yield from _walk(v, at, "Element", "Element")


def nested_resources(resource: dict, where: str = "") -> Iterator[tuple[str, dict]]:
    """The resources inside a resource (contained, Bundle entries, Parameters), with where."""
    for node in walk(resource, where):
        kids = children(node.sd, node.path)
        for key, value in node.value.items():
            child = kids.get(key)
            if child is None or child.type != "Resource":
                continue
            for i, v in enumerate(value) if isinstance(value, list) else ((None, value),):
                if isinstance(v, dict) and "resourceType" in v:
                    yield f"{node.where}.{key}" + (f"[{i}]" if i is not None else ""), v
