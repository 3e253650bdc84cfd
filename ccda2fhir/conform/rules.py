"""Evaluates the rule trees the generator translated from a profile's FHIRPath invariants.

A small evaluator over plain dicts (no parser, no FHIRPath library at conversion time): the
tree comes ready-made from data/fhir/us-core-6.1.0.json (see ccda2fhir/validate/translate.py).
Items are ``(value, type)`` pairs; ``type`` is known where the JSON says it (a choice element's
suffix, a resource's resourceType) and None otherwise. Semantics follow FHIRPath: collections,
empty propagation, three-valued logic.
"""
from __future__ import annotations

from functools import lru_cache

from .functions import FUNCTIONS
from .items import Item, is_type, single
from .operators import OPERATORS



def holds(tree, resource: dict, focus: Item | None = None, resolve=None) -> bool:
    """True when the invariant evaluates to true on ``focus`` (a ``(value, type)`` item; default:
    the resource); false or empty fails, as FHIR's validators read it."""
    env = {"resource": (resource, resource.get("resourceType")), "resolve": resolve, "eval": _eval}
    start = [focus] if focus is not None else [env["resource"]]
    env["context"] = start
    out = _eval(tree, start, env)
    return len(out) == 1 and out[0][0] is True


def _eval(tree, focus: list, env) -> list:
    kind = tree[0]
    if kind == "member":
        return _member(focus, tree[1])
    if kind == "dot":
        return _eval(tree[2], _eval(tree[1], focus, env), env)
    if kind == "fn":
        return FUNCTIONS[tree[1]](focus, tree[2], env)
    if kind == "op":
        return OPERATORS[tree[1]](tree[2], tree[3], focus, env)
    if kind == "lit":
        return [(tree[1], None)]
    if kind == "this":
        return focus
    if kind == "const":
        name = tree[1]
        if name == "ucum":
            return [("http://unitsofmeasure.org", "string")]
        if name in ("resource", "rootResource"):
            return [env["resource"]]
        if name == "context":
            return env["context"]
        raise KeyError(f"FHIRPath constant %{name}")
    if kind == "is":
        items = _eval(tree[1], focus, env)
        return [] if not items else [(len(items) == 1 and is_type(items[0], tree[2]), "boolean")]
    if kind == "as":
        return [i for i in _eval(tree[1], focus, env) if is_type(i, tree[2])]
    if kind == "idx":
        items, n = _eval(tree[1], focus, env), single(_eval(tree[2], focus, env))
        return [items[n]] if isinstance(n, int) and 0 <= n < len(items) else []
    if kind == "neg":
        return [(-v, t) for v, t in _eval(tree[1], focus, env)]
    if kind == "empty":
        return []
    raise ValueError(f"rule node {kind}")


def _member(focus: list, name: str) -> list:
    out = []
    for value, _ in focus:
        if not isinstance(value, dict):
            continue
        if value.get("resourceType") == name:
            out.append((value, name))
            continue
        for key, t in _keys(tuple(value), name):
            v = value[key]
            for x in (v if isinstance(v, list) else (v,)):
                out.append((x, t))
    return out


@lru_cache(maxsize=4096)
def _keys(keys: tuple, name: str) -> tuple:
    """The JSON keys that hold element ``name``: itself, a choice variant (valueQuantity ->
    type Quantity), or only its primitive extension (_family)."""
    if name in keys:
        return ((name, None),)
    n = len(name)
    found = tuple((k, k[n:]) for k in keys if k.startswith(name) and len(k) > n and k[n].isupper())
    if found:
        return found
    if f"_{name}" in keys:
        return ((f"_{name}", "Element"),)
    # a choice present only as its primitive's extension (_performedDateTime: data-absent)
    return tuple((k, k[n + 1:]) for k in keys
                 if k.startswith(f"_{name}") and len(k) > n + 1 and k[n + 1].isupper())


__all__ = ["holds", "FUNCTIONS", "OPERATORS"]
