"""The FHIRPath functions of the rule evaluator (exists, where, matches, resolve ...): each
``fn(focus, args, env)`` evaluates its argument trees with ``env["eval"]``."""
from __future__ import annotations

import re
from functools import lru_cache

from .items import as_bool, boolean, is_type, same, single

def _each(focus, args, env):
    """The criteria argument evaluated on each item of the focus."""
    for item in focus:
        yield item, as_bool(env["eval"](args[0], [item], env))


def _exists(focus, args, env):
    if args:
        return boolean(any(ok for _, ok in _each(focus, args, env)))
    return boolean(bool(focus))


def _where(focus, args, env):
    return [item for item, ok in _each(focus, args, env) if ok]


def _all(focus, args, env):
    return boolean(all(ok for _, ok in _each(focus, args, env)))


def _select(focus, args, env):
    return [x for item in focus for x in env["eval"](args[0], [item], env)]


def _iif(focus, args, env):
    cond = as_bool(env["eval"](args[0], focus, env))
    if cond:
        return env["eval"](args[1], focus, env)
    return env["eval"](args[2], focus, env) if len(args) > 2 else []


def _not(focus, args, env):
    b = as_bool(focus)
    return [] if b is None else boolean(not b)


def _string_fn(fn, on_empty=None):
    """A string function; ``on_empty`` is its answer for an empty input (the predicates answer
    false there, as HL7's Java validator does)."""
    def call(focus, args, env):
        if not focus and on_empty is not None:
            return [(on_empty, "boolean")]
        s = single(focus)
        if not isinstance(s, str):
            return []
        values = [single(env["eval"](a, focus, env)) for a in args]
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
    v = single(focus)
    if isinstance(v, bool):
        return [(int(v), "integer")]
    if isinstance(v, int):
        return [(v, "integer")]
    if isinstance(v, str) and re.fullmatch(r"[+-]?\d+", v):
        return [(int(v), "integer")]
    return []


def _to_string(focus, args, env):
    v = single(focus)
    if v is None or isinstance(v, (dict, list)):
        return []
    if isinstance(v, bool):
        return [("true" if v else "false", "string")]
    return [(str(v), "string")]


def _length(focus, args, env):
    v = single(focus)
    return [(len(v), "integer")] if isinstance(v, str) else []


def _has_value(focus, args, env):
    return boolean(len(focus) == 1 and focus[0][0] is not None and not isinstance(focus[0][0], (dict, list)))


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
        found = env["eval"](args[0], [todo.pop(0)], env)
        for item in found:
            if not any(item[0] is o[0] for o in out):
                out.append(item)
                todo.append(item)
    return out


def _is_distinct(focus, args, env):
    values = [v for v, _ in focus]
    return boolean(all(not same(values[i], values[j])
                    for i in range(len(values)) for j in range(i + 1, len(values))))


FUNCTIONS = {
    "exists": _exists, "empty": lambda f, a, e: boolean(not f), "not": _not,
    "where": _where, "all": _all, "select": _select, "iif": _iif,
    "count": lambda f, a, e: [(len(f), "integer")],
    "first": lambda f, a, e: f[:1],
    "ofType": lambda f, a, e: [i for i in f if is_type(i, a[0][1])],
    "is": lambda f, a, e: [] if not f else boolean(len(f) == 1 and is_type(f[0], a[0][1])),
    "as": lambda f, a, e: [i for i in f if is_type(i, a[0][1])],
    "matches": _string_fn(lambda s, p: boolean(bool(_regex(p).search(s))), False),
    "startsWith": _string_fn(lambda s, p: boolean(s.startswith(p)), False),
    "endsWith": _string_fn(lambda s, p: boolean(s.endswith(p)), False),
    "substring": _string_fn(_substring),
    "toInteger": _to_integer, "toString": _to_string, "length": _length,
    "hasValue": _has_value, "resolve": _resolve,
    "repeat": _repeat, "isDistinct": _is_distinct,
    "allTrue": lambda f, a, e: boolean(all(v is True for v, _ in f)),
}
