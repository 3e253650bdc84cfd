"""The template compiler, construct by construct: the compiled code gives what Jinja gives.

Each small template is built both ways (compiled, and rendered by Jinja, the reference) over
several variable sets, comparing the ($key, resource) and the order of side effects; templates
using constructs the compiler leaves to Jinja still give Jinja's result.
"""
from __future__ import annotations

import jinja2
import pytest

from ccda2fhir.map.engine import Templates, make_environment
from ccda2fhir.map.engine.compiler import compile_template
from ccda2fhir.map.engine.expressions import Unsupported

TEMPLATES = {
    "dup.json.j2": '{"resourceType": "X", "a": {{ x }}, "b": 1, "a": {{ y }}, "c": [], "c": {{ x }}}',
    "key.json.j2": '{"resourceType": "X", "$key": {{ x }}, "v": {{ y }}, "$key": {{ y }}}',
    "keyconst.json.j2": '{"$key": "", "resourceType": "X", "n": {"$key": {{ x }}}}',
    "branches.json.j2": """{% set z = x %}
{% if x == 1 %}{"resourceType": "One", "z": {{ z }}}
{% elif x %}{% set z = [x, y] %}{"resourceType": "Many", "z": {{ z }}}
{% else %}{}{% endif %}""",
    "value_if.json.j2": """{"resourceType": "X", "v": {% if y %}[{{ y }}, {"url": "u"}]{% else %}{{ x }}{% endif %},
  "extension": [{"url": "a", "valueString": {{ y }}}, {"url": "b"}, {{ x }}],
  "modifierExtension": {{ [{"url": "m"}, {"url": "n", "v": x}] }}}""",
    "loop.json.j2": """{"resourceType": "X",
  "items": [{% for i in xs %}{"i": {{ i }}, "n": {{ loop.index }}}{% if not loop.last %},{% endif %}{% endfor %}],
  "plain": [{% for i in xs %}{{ i }}{% if not loop.last %},{% endif %}{% endfor %}]}""",
    "include.json.j2": """{% set y = "from parent" %}{% if x %}{% include which ~ ".json.j2" %}
{% else %}{% include "dup.json.j2" %}{% endif %}""",
    "exprs.json.j2": """{"resourceType": "X",
  "concat": {{ x ~ "-" ~ y ~ missing }}, "cmp": {{ [x == 1, x != 1, 1 < 2 <= 2, x in [1, 2], x not in [1]] }},
  "math": {{ [1 + 2, 7 // 2, 7 / 2, 7 % 3, 2 ** 3, -x if x is number else 0] }},
  "logic": {{ [x and y, x or y, not x, none if x else "no"] }},
  "noelse": {{ "yes" if x }}, "chain": {{ src.a.b.c }}, "item": {{ src["a"] }}, "slice": {{ xs[1:] }},
  "get": {{ src.get("a") }}, "first": {{ xs | first }}, "sum": {{ xs | sum }},
  "sumattr": {{ [{"n": 1}, {"n": 2}] | sum(attribute="n") }}, "dict": {{ {"k": x, "e": ""} }},
  "test": {{ [x is defined, missing is defined, x is none] }}, "tuple": {{ (x, y) }},
  "kw": {{ kwcall(x, b=y) }}, "stop": {{ stopper() }}}""",
    "order.json.j2": """{% set a = note("set a") %}{"resourceType": "X", "p": {{ note("p") }},
  {% set b = note("set b") %}"q": [{{ note("q1") }}, {"r": {{ note("r") }}}], "s": {{ note("s") }}}""",
    "whole.json.j2": "{{ x }}",
    "shadow.json.j2": '{"resourceType": "X", "v": {{ kwcall(1) }}}',
    "members_if.json.j2": '{"resourceType": "X"{% if x %}, "a": {{ x }}{% endif %}}',
    "macro.json.j2": '{% macro m(v) %}{{ v }}{% endmacro %}{"resourceType": "X", "a": {{ m(x) }}}',
    "hole_key.json.j2": '{ {{ x }}: 1, "resourceType": "X"}',
    "boom.json.j2": '{"resourceType": "X", "a": {{ note("before") }}, "b": {{ boom() }}, "c": {{ note("after") }}}',
}

VARIABLES = [
    {},
    {"x": 1, "y": "b", "xs": [1, 2, 3], "src": {"a": {"b": {"c": "deep"}}}, "which": "dup"},
    {"x": 2, "y": None, "xs": [], "src": {"a": None}, "which": "key"},
    {"x": 0, "y": "  ", "xs": (4,), "src": {}, "which": "branches"},
    {"x": "s", "y": {"k": [None, ""]}, "xs": [{"url": "only"}], "src": {"get": "attr"}, "which": "whole"},
    {"x": {"$key": "K", "resourceType": "W", "e": []}, "y": [1, (2, None)], "xs": [[]], "which": "loop"},
    {"x": None, "y": 2**70, "xs": ["a", "b"], "which": "missing_template"},
    {"x": {"resourceType": "V"}, "y": 1.5},
    {"x": [1], "y": True},
]


def _stop():
    raise StopIteration


@pytest.fixture(scope="module")
def notes() -> list:
    return []


@pytest.fixture(scope="module")
def templates(notes) -> Templates:
    env = make_environment(jinja2.DictLoader(TEMPLATES))

    def note(what):
        notes.append(what)
        return what

    def boom():
        raise ValueError("boom")
    env.globals.update(note=note, boom=boom, stopper=_stop, kwcall=lambda a, b=None: [a, b])
    return Templates(env)


def _outcome(fn, variables):
    try:
        return "ok", fn(dict(variables))
    except Exception as exc:
        return "error", type(exc).__name__, str(exc)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_compiled_gives_what_jinja_gives(templates, notes, name):
    compiled, jinja = templates.builder(name), templates.builder(name, compiled=False)
    for variables in VARIABLES:
        notes.clear()
        a = _outcome(compiled, variables)
        noted = list(notes)
        notes.clear()
        b = _outcome(jinja, variables)
        assert a == b, (name, variables)
        assert noted == notes, (name, variables)


@pytest.mark.parametrize("name", ["dup", "key", "keyconst", "branches", "value_if", "loop", "include",
                                  "exprs", "order", "whole", "shadow", "boom"])
def test_these_are_compiled(templates, name):
    assert templates.builder(f"{name}.json.j2").compiled
    assert f"{name}.json.j2" not in templates.fallbacks


@pytest.mark.parametrize("name", ["members_if", "macro", "hole_key"])
def test_these_are_left_to_jinja(templates, name):
    assert not templates.builder(f"{name}.json.j2").compiled
    with pytest.raises(Unsupported):
        compile_template(templates.env, name, TEMPLATES[f"{name}.json.j2"])


def test_a_variable_shadowing_a_global_is_rendered_by_jinja(templates):
    build = templates.builder("shadow.json.j2")
    assert build({}) == (None, {"resourceType": "X", "v": [1]})
    assert build({"kwcall": lambda a: ["shadowed", a]}) == (None, {"resourceType": "X", "v": ["shadowed", 1]})


def test_order_of_side_effects_is_template_order(templates, notes):
    notes.clear()
    templates.builder("order.json.j2")({})
    assert notes == ["set a", "p", "set b", "q1", "r", "s"]


def test_built_resources_are_fresh_objects(templates):
    shared = {"coding": [{"code": "c"}]}
    build = templates.builder("dup.json.j2")
    _, one = build({"y": shared})
    _, two = build({"y": shared})
    assert one["a"] == shared and one["a"] is not shared and one["a"] is not two["a"]
    assert one["a"]["coding"] is not shared["coding"]
