"""Evaluates the rule trees the generator translated from a profile's FHIRPath invariants.

A small evaluator over plain dicts (no parser, no FHIRPath library at conversion time): the
tree comes ready-made from data/fhir/us-core-6.1.0.json (see ccda2fhir/validate/translate.py).
Items are ``(value, type)`` pairs; ``type`` is known where the JSON says it (a choice element's
suffix, a resource's resourceType) and None otherwise. Semantics follow FHIRPath: collections,
empty propagation, three-valued logic.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

Item = tuple  # (value, type name or None)


def holds(tree, resource: dict, focus: Item | None = None, resolve=None) -> bool:
    """True when the invariant evaluates to true on ``focus`` (a ``(value, type)`` item; default:
    the resource); false or empty fails, as FHIR's validators read it."""
    env = {"resource": (resource, resource.get("resourceType")), "resolve": resolve}
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
        return _OPS[tree[1]](tree[2], tree[3], focus, env)
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
        return [] if not items else [(len(items) == 1 and _is(items[0], tree[2]), "boolean")]
    if kind == "as":
        return [i for i in _eval(tree[1], focus, env) if _is(i, tree[2])]
    if kind == "idx":
        items, n = _eval(tree[1], focus, env), _single(_eval(tree[2], focus, env))
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


def _is(item: Item, type_name: str) -> bool:
    value, t = item
    if t is None:
        if isinstance(value, dict):
            t = value.get("resourceType")
        elif isinstance(value, bool):
            t = "boolean"
        elif isinstance(value, int):
            t = "integer"
        elif isinstance(value, float):
            t = "decimal"
        elif isinstance(value, str):
            t = "string"
    return t is not None and t.lower() == type_name.lower()


def _single(items: list):
    if not items:
        return None
    if len(items) > 1:
        raise ValueError("a single value was expected, got a collection")
    return items[0][0]


def _bool(items: list):
    """A collection as a boolean: None for empty, the value of a single boolean, True otherwise."""
    if not items:
        return None
    if len(items) == 1:
        v = items[0][0]
        return v if isinstance(v, bool) else True
    # several items: FHIRPath calls it an error; validators read a filled collection as true
    return True


def _out(value) -> list:
    return [] if value is None else [(value, "boolean" if isinstance(value, bool) else None)]


# ------------------------------------------------------------------------------------ operators
def _and(a, b, focus, env):
    x, y = _bool(_eval(a, focus, env)), _bool(_eval(b, focus, env))
    if x is False or y is False:
        return _out(False)
    return _out(True) if x and y else []


def _or(a, b, focus, env):
    x, y = _bool(_eval(a, focus, env)), _bool(_eval(b, focus, env))
    if x is True or y is True:
        return _out(True)
    return _out(False) if x is False and y is False else []


def _xor(a, b, focus, env):
    x, y = _bool(_eval(a, focus, env)), _bool(_eval(b, focus, env))
    return [] if x is None or y is None else _out(x != y)


def _implies(a, b, focus, env):
    x = _bool(_eval(a, focus, env))
    if x is False:
        return _out(True)
    y = _bool(_eval(b, focus, env))
    if x is True:
        return _out(y) if y is not None else []
    return _out(True) if y is True else []


def _values(a, b, focus, env):
    return [v for v, _ in _eval(a, focus, env)], [v for v, _ in _eval(b, focus, env)]


def _equal(a, b, focus, env):
    x, y = _values(a, b, focus, env)
    if not x or not y:
        return []
    return _out(len(x) == len(y) and all(_same(p, q) for p, q in zip(x, y)))


def _not_equal(a, b, focus, env):
    r = _equal(a, b, focus, env)
    return [(not r[0][0], "boolean")] if r else []


def _same(p, q) -> bool:
    if isinstance(p, (int, float)) and isinstance(q, (int, float)) and not isinstance(p, bool):
        return float(p) == float(q)
    return p == q


def _compare(test):
    def op(a, b, focus, env):
        x, y = _values(a, b, focus, env)
        if len(x) != 1 or len(y) != 1 or x[0] is None or y[0] is None:
            return []
        p, q = x[0], y[0]
        if isinstance(p, dict) and isinstance(q, dict):  # Quantities: comparable in one unit
            p, q = _comparable(p, q)
            if p is None:
                return []
        if isinstance(p, str) != isinstance(q, str) or isinstance(p, (dict, list)) or isinstance(q, (dict, list)):
            return []
        return _out(test(p, q))
    return op


@lru_cache(maxsize=1)
def _ucum() -> tuple[dict, frozenset]:
    data = json.loads(resources.files("ccda2fhir.data").joinpath("fhir", "ucum.json").read_text())
    return data["prefixes"], frozenset(data["metric"])


def _scale(code: str) -> tuple[str, float] | None:
    """A metric unit as (base unit, factor): mg -> (g, 0.001)."""
    prefixes, metric = _ucum()
    if code in metric:
        return code, 1.0
    for prefix in sorted(prefixes, key=len, reverse=True):
        if prefix and code.startswith(prefix) and code[len(prefix):] in metric:
            return code[len(prefix):], prefixes[prefix]
    return None


def _comparable(p: dict, q: dict):
    """Two Quantities' values in one unit, or (None, None) when they cannot be compared."""
    vp, vq = p.get("value"), q.get("value")
    if not isinstance(vp, (int, float)) or not isinstance(vq, (int, float)):
        return None, None
    up, uq = p.get("code", p.get("unit")), q.get("code", q.get("unit"))
    if up == uq:
        return vp, vq
    sp, sq = _scale(up or ""), _scale(uq or "")
    if sp is None or sq is None or sp[0] != sq[0]:
        return None, None
    return vp * sp[1], vq * sq[1]


def _arith(fn):
    def op(a, b, focus, env):
        x, y = _values(a, b, focus, env)
        if len(x) != 1 or len(y) != 1 or x[0] is None or y[0] is None:
            return []
        try:
            return [(fn(x[0], y[0]), None)]
        except (TypeError, ZeroDivisionError):
            return []
    return op


def _concat(a, b, focus, env):
    x, y = _values(a, b, focus, env)
    return [("".join(str(v) for v in x[:1]) + "".join(str(v) for v in y[:1]), "string")]


def _union(a, b, focus, env):
    out = []
    for item in _eval(a, focus, env) + _eval(b, focus, env):
        if not any(_same(item[0], o[0]) for o in out):
            out.append(item)
    return out


def _in(a, b, focus, env):
    x, y = _values(a, b, focus, env)
    if not x:
        return []
    return _out(any(_same(x[0], v) for v in y))


def _contains(a, b, focus, env):
    return _in(b, a, focus, env)


_OPS = {
    "and": _and, "or": _or, "xor": _xor, "implies": _implies,
    "=": _equal, "!=": _not_equal,
    "<": _compare(lambda p, q: p < q), ">": _compare(lambda p, q: p > q),
    "<=": _compare(lambda p, q: p <= q), ">=": _compare(lambda p, q: p >= q),
    "+": _arith(lambda p, q: p + q), "-": _arith(lambda p, q: p - q),
    "*": _arith(lambda p, q: p * q), "mod": _arith(lambda p, q: p % q),
    "div": _arith(lambda p, q: p // q), "/": _arith(lambda p, q: p / q),
    "&": _concat, "|": _union, "in": _in, "contains": _contains,
}


# ------------------------------------------------------------------------------------ functions
def _each(focus, args, env):
    """The criteria argument evaluated on each item of the focus."""
    for item in focus:
        yield item, _bool(_eval(args[0], [item], env))


def _exists(focus, args, env):
    if args:
        return _out(any(ok for _, ok in _each(focus, args, env)))
    return _out(bool(focus))


def _where(focus, args, env):
    return [item for item, ok in _each(focus, args, env) if ok]


def _all(focus, args, env):
    return _out(all(ok for _, ok in _each(focus, args, env)))


def _select(focus, args, env):
    return [x for item in focus for x in _eval(args[0], [item], env)]


def _iif(focus, args, env):
    cond = _bool(_eval(args[0], focus, env))
    if cond:
        return _eval(args[1], focus, env)
    return _eval(args[2], focus, env) if len(args) > 2 else []


def _not(focus, args, env):
    b = _bool(focus)
    return [] if b is None else _out(not b)


def _string_fn(fn, on_empty=None):
    """A string function; ``on_empty`` is its answer for an empty input (the predicates answer
    false there, as HL7's Java validator does)."""
    def call(focus, args, env):
        if not focus and on_empty is not None:
            return [(on_empty, "boolean")]
        s = _single(focus)
        if not isinstance(s, str):
            return []
        values = [_single(_eval(a, focus, env)) for a in args]
        if any(v is None for v in values):
            return []
        return fn(s, *values)
    return call


@lru_cache(maxsize=256)
def _regex(pattern: str):
    return re.compile(pattern, re.DOTALL)


def _substring(s: str, start: int, length: int | None = None) -> list:
    if start < 0 or start >= len(s):
        return []
    return [(s[start:] if length is None else s[start:start + length], "string")]


def _to_integer(focus, args, env):
    v = _single(focus)
    if isinstance(v, bool):
        return [(int(v), "integer")]
    if isinstance(v, int):
        return [(v, "integer")]
    if isinstance(v, str) and re.fullmatch(r"[+-]?\d+", v):
        return [(int(v), "integer")]
    return []


def _to_string(focus, args, env):
    v = _single(focus)
    if v is None or isinstance(v, (dict, list)):
        return []
    if isinstance(v, bool):
        return [("true" if v else "false", "string")]
    return [(str(v), "string")]


def _length(focus, args, env):
    v = _single(focus)
    return [(len(v), "integer")] if isinstance(v, str) else []


def _has_value(focus, args, env):
    return _out(len(focus) == 1 and focus[0][0] is not None and not isinstance(focus[0][0], (dict, list)))


def _resolve(focus, args, env):
    """The resources the references point at: the caller's resolver, or the type the reference
    names (``Practitioner/x`` is a Practitioner), which is all an invariant asks of it."""
    out = []
    for value, _ in focus:
        ref = value.get("reference") if isinstance(value, dict) else value
        if not isinstance(ref, str):
            continue
        found = env["resolve"](ref) if env.get("resolve") else None
        if found is None and "/" in ref and not ref.startswith(("urn:", "#")):
            found = {"resourceType": ref.split("/")[-2]}
        if found is not None:
            out.append((found, found.get("resourceType")))
    return out


def _repeat(focus, args, env):
    out, todo = [], list(focus)
    while todo:
        found = _eval(args[0], [todo.pop(0)], env)
        for item in found:
            if not any(item[0] is o[0] for o in out):
                out.append(item)
                todo.append(item)
    return out


def _is_distinct(focus, args, env):
    values = [v for v, _ in focus]
    return _out(all(not _same(values[i], values[j])
                    for i in range(len(values)) for j in range(i + 1, len(values))))


FUNCTIONS = {
    "exists": _exists, "empty": lambda f, a, e: _out(not f), "not": _not,
    "where": _where, "all": _all, "select": _select, "iif": _iif,
    "count": lambda f, a, e: [(len(f), "integer")],
    "first": lambda f, a, e: f[:1],
    "ofType": lambda f, a, e: [i for i in f if _is(i, a[0][1])],
    "is": lambda f, a, e: [] if not f else _out(len(f) == 1 and _is(f[0], a[0][1])),
    "as": lambda f, a, e: [i for i in f if _is(i, a[0][1])],
    "matches": _string_fn(lambda s, p: _out(bool(_regex(p).search(s))), False),
    "startsWith": _string_fn(lambda s, p: _out(s.startswith(p)), False),
    "endsWith": _string_fn(lambda s, p: _out(s.endswith(p)), False),
    "substring": _string_fn(_substring),
    "toInteger": _to_integer, "toString": _to_string, "length": _length,
    "hasValue": _has_value, "resolve": _resolve,
    "repeat": _repeat, "isDistinct": _is_distinct,
    "allTrue": lambda f, a, e: _out(all(v is True for v, _ in f)),
}
