"""Compiled templates and their reference, Jinja rendering, agree exactly.

Every full document of ../shared/corpus (the fixtures when it is absent) is converted with each
engine in turn and the Bundles and reports compared byte for byte; the JSON-only rule the compiled
code applies while it builds (values.clean) is compared with Jinja's text round trip on generated
values; and small templates exercise each construct the compiler handles, and some it leaves to Jinja.
"""
from __future__ import annotations

import math

import jinja2
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ccda2fhir
from ccda2fhir import ConversionError
from ccda2fhir.map import engine
from ccda2fhir.map.engine.prune import prune
from ccda2fhir.map.engine.values import as_json, clean, plain
from tests.conftest import CORPUS, twin_documents



DOCUMENTS = twin_documents()


def _by_jinja(template: str, variables: dict) -> tuple:
    return engine.templates().builder(f"{template}{engine.SUFFIX}", compiled=False)(variables)


def _convert(data: bytes) -> bytes:
    try:
        bundle, report = ccda2fhir.convert(data, "p1", report=True)
    except ConversionError as exc:
        return f"{type(exc).__name__}: {exc}".encode()
    return orjson.dumps(bundle) + b"\n" + orjson.dumps([str(i) for i in report.issues])


def test_every_built_in_template_is_compiled():
    """A template the compiler cannot read still works (Jinja renders it) but is slow: say which."""
    templates = engine.templates()
    root = engine.templates_dir()
    names = sorted(str(p.relative_to(root)) for p in root.glob(f"*/*{engine.SUFFIX}"))
    assert len(names) > 50
    for name in names:
        templates.builder(name)
    assert templates.fallbacks == {}, "templates left to Jinja (rewrite the construct, or teach " \
                                      "ccda2fhir/map/engine/compiler.py): " + repr(templates.fallbacks)


def test_there_are_documents_to_compare():
    assert DOCUMENTS
    if CORPUS.is_dir():
        assert len(DOCUMENTS) > 100


@pytest.mark.parametrize("path", DOCUMENTS,
                         ids=lambda p: str(p.relative_to(p.parents[2])) if len(p.parents) > 2 else p.name)
def test_compiled_and_jinja_convert_identically(path, monkeypatch):
    data = path.read_bytes()
    compiled = _convert(data)
    monkeypatch.setattr(engine, "build", _by_jinja)
    assert _convert(data) == compiled


# -- the JSON-only rule ------------------------------------------------------------------------

def _reference(value):
    """What Jinja's rendering makes of a value a hole gives: its JSON text, parsed, pruned."""
    return prune(orjson.loads(as_json(value)))


def _outcome(fn, value):
    try:
        return "ok", fn(value)
    except Exception as exc:  # both ways must fail alike too
        return "error", type(exc).__name__, str(exc)


def _same(a, b) -> bool:
    """Equal, with floats compared by their bits (NaN never reaches here) and types kept."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return math.copysign(1, a) == math.copysign(1, b) and a == b
    return a == b


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**62, max_value=2**66),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(codec=None, categories=None), max_size=4),
    st.sampled_from(["", " ", "\u00a0", "x", "url", "extension", "\ud800", "é"]),
    # built by a map: hypothesis cannot print an Undefined
    st.sampled_from([0, 1, 2, 3]).map(
        lambda i: (jinja2.ChainableUndefined(name="u"), jinja2.Undefined(), set(), b"x")[i]))
_keys = st.one_of(st.sampled_from(["url", "extension", "modifierExtension", "value", "", "\ud800"]),
                  st.text(max_size=3), st.integers(0, 2), st.none())
_extensions = st.dictionaries(  # FHIR extensions: those left with only a url are dropped
    st.sampled_from(["extension", "modifierExtension", "x"]),
    st.lists(st.dictionaries(st.sampled_from(["url", "valueString", "extension"]), _scalars, max_size=2),
             max_size=3), max_size=2)
_values = st.recursive(
    st.one_of(_scalars, _extensions),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=12)


@settings(max_examples=3000, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_values)
def test_clean_is_the_text_round_trip_pruned(value):
    fast, slow = _outcome(clean, value), _outcome(_reference, value)
    assert fast[0] == slow[0]
    if fast[0] == "ok":
        assert _same(fast[1], slow[1])
    else:
        assert fast == slow
    fast, slow = _outcome(plain, value), _outcome(lambda v: orjson.loads(as_json(v)), value)
    assert fast[0] == slow[0] and (fast[0] != "ok" or _same(fast[1], slow[1]))


def test_clean_builds_fresh_containers():
    inner = {"coding": [{"code": "x"}]}
    value = [inner, (inner,)]
    out = clean(value)
    assert out == [inner, [inner]]
    assert out[0] is not inner and out[0]["coding"] is not inner["coding"]
    assert out[1][0] is not out[0]


def test_clean_past_what_orjson_nests_fails_as_jinja_does():
    deep = []
    for _ in range(300):
        deep = [deep, 1]
    assert _outcome(clean, deep) == _outcome(_reference, deep)
