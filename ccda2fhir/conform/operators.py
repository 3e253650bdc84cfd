"""The FHIRPath operators of the rule evaluator (and, or, =, <, +, |, in ...): each ``op(a, b, focus,
env)`` evaluates its operand trees with ``env["eval"]`` and gives a collection of items."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from .items import as_bool, boolean, same

def _and(a, b, focus, env):
    x, y = as_bool(env["eval"](a, focus, env)), as_bool(env["eval"](b, focus, env))
    if x is False or y is False:
        return boolean(False)
    return boolean(True) if x and y else []


def _or(a, b, focus, env):
    x, y = as_bool(env["eval"](a, focus, env)), as_bool(env["eval"](b, focus, env))
    if x is True or y is True:
        return boolean(True)
    return boolean(False) if x is False and y is False else []


def _xor(a, b, focus, env):
    x, y = as_bool(env["eval"](a, focus, env)), as_bool(env["eval"](b, focus, env))
    return [] if x is None or y is None else boolean(x != y)


def _implies(a, b, focus, env):
    x = as_bool(env["eval"](a, focus, env))
    if x is False:
        return boolean(True)
    y = as_bool(env["eval"](b, focus, env))
    if x is True:
        return boolean(y) if y is not None else []
    return boolean(True) if y is True else []


def _values(a, b, focus, env):
    return [v for v, _ in env["eval"](a, focus, env)], [v for v, _ in env["eval"](b, focus, env)]


def _equal(a, b, focus, env):
    x, y = _values(a, b, focus, env)
    if not x or not y:
        return []
    return boolean(len(x) == len(y) and all(same(p, q) for p, q in zip(x, y)))


def _not_equal(a, b, focus, env):
    r = _equal(a, b, focus, env)
    return [(not r[0][0], "boolean")] if r else []


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
        return boolean(test(p, q))
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
    for item in env["eval"](a, focus, env) + env["eval"](b, focus, env):
        if not any(same(item[0], o[0]) for o in out):
            out.append(item)
    return out


def _in(a, b, focus, env):
    x, y = _values(a, b, focus, env)
    if not x:
        return []
    return boolean(any(same(x[0], v) for v in y))


def _contains(a, b, focus, env):
    return _in(b, a, focus, env)


OPERATORS = {
    "and": _and, "or": _or, "xor": _xor, "implies": _implies,
    "=": _equal, "!=": _not_equal,
    "<": _compare(lambda p, q: p < q), ">": _compare(lambda p, q: p > q),
    "<=": _compare(lambda p, q: p <= q), ">=": _compare(lambda p, q: p >= q),
    "+": _arith(lambda p, q: p + q), "-": _arith(lambda p, q: p - q),
    "*": _arith(lambda p, q: p * q), "mod": _arith(lambda p, q: p % q),
    "div": _arith(lambda p, q: p // q), "/": _arith(lambda p, q: p / q),
    "&": _concat, "|": _union, "in": _in, "contains": _contains,
}
