"""What a template may write: JSON values only, and no empty ones.

Two ways to the same result. ``as_json`` is the Jinja finalize hook of the reference engine: every
``{{ expression }}`` becomes one JSON text, parsed back with the rest of the template and then
pruned. ``clean`` gives the compiled templates that result directly, without the text:
``clean(v) == prune(orjson.loads(as_json(v)))`` for every value, exceptions included. Whatever the
fast path does not know for sure (a non-str key, an int past 64 bits, NaN, a type orjson
serialises its own way, nesting orjson refuses) takes the text way, so the rule is written once.

Both give fresh containers: a value a filter returns is never shared by two resources (they are
merged and amended in place later).
"""
from __future__ import annotations

import math

import jinja2
import orjson

from .prune import prune

_EXTENSIONS = ("extension", "modifierExtension")
_URL_ONLY = frozenset({"url"})
_MAX_DEPTH = 200          # orjson refuses nesting past 255: deeper values take the text way
_INT_MIN, _INT_MAX = -2**63, 2**63


def as_json(value) -> str:
    """One JSON value as text (the finalize hook): Undefined is null; a non-JSON value is an error."""
    if isinstance(value, jinja2.Undefined):
        return "null"
    try:
        return orjson.dumps(value, default=_unknown).decode()
    except orjson.JSONEncodeError:
        # integers past 64 bits are no FHIR number: left out rather than failing the document
        return orjson.dumps(_without_huge_ints(value), default=_unknown).decode()


def _without_huge_ints(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -2**63 <= value < 2**63 else None
    if isinstance(value, dict):
        return {k: _without_huge_ints(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_huge_ints(v) for v in value]
    return value


def _unknown(value):
    if isinstance(value, jinja2.Undefined):
        return None
    raise TypeError(f"a template emitted a {type(value).__name__}, which is not JSON")


class _TextWay(Exception):
    """Raised inside the fast path when only the JSON text gives the exact answer."""


def clean(value):
    """The pruned, JSON-only, freshly built copy of a value a template writes (None when empty)."""
    try:
        return _clean(value, 0)
    except _TextWay:
        return prune(orjson.loads(as_json(value)))


def plain(value):
    """A value as the JSON text round trip gives it, not pruned (the resource's ``$key``)."""
    if value is None or (type(value) is str and value.isascii()):
        return value
    return orjson.loads(as_json(value))


def whole(value) -> tuple:
    """``($key, resource)`` from a value that is a whole template's output (``{{ x }}`` alone)."""
    if type(value) is dict and "$key" not in value:
        return None, clean(value)
    res = orjson.loads(as_json(value))
    key = res.pop("$key", None)
    return key, prune(res)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:      # lone surrogates: orjson refuses them
        raise _TextWay from None
    return True


def _clean(v, depth: int):
    t = type(v)
    if t is str:
        if not v.isascii():
            _utf8(v)
        return v if v.strip() else None
    if t is dict:
        if depth > _MAX_DEPTH:
            raise _TextWay
        out = {}
        for k, x in v.items():
            if type(k) is not str or not (k.isascii() or _utf8(k)):
                raise _TextWay
            if type(x) is str:          # most leaves: no call
                if not x.isascii():
                    _utf8(x)
                if x.strip():
                    out[k] = x
                continue
            x = _clean(x, depth + 1)
            if x is None:
                continue
            if type(x) is list and k in _EXTENSIONS:
                # an extension left with only its url says nothing: FHIR forbids it
                x = [e for e in x if not (type(e) is dict and e.keys() <= _URL_ONLY)]
                if not x:
                    continue
            out[k] = x
        return out or None
    if t is list or t is tuple:
        if depth > _MAX_DEPTH:
            raise _TextWay
        out = []
        for x in v:
            x = _clean(x, depth + 1)
            if x is not None:
                out.append(x)
        return out or None
    if v is None or t is bool:
        return v
    if t is int:
        if _INT_MIN <= v < _INT_MAX:
            return v
        raise _TextWay
    if t is float:
        if math.isfinite(v):
            return v
        raise _TextWay
    if isinstance(v, jinja2.Undefined):
        return None
    raise _TextWay


def extension_list(value):
    """An ``extension``/``modifierExtension`` member of a template's own JSON, pruned as prune does."""
    if type(value) is list:
        value = [e for e in value if not (type(e) is dict and e.keys() <= _URL_ONLY)]
        return value or None
    return value
