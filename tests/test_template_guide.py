"""The mapping author's guide (templates/README.md, FILTERS.md) says what the engine has.

FILTERS.md is generated from the registry: when a filter is added, renamed or re-described, this fails
until `python -m ccda2fhir.map.engine.guide --write` is run. The worked examples in the README are the
files under examples/overlays/ (which tests/test_overlays.py converts with), word for word.
"""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import jinja2
import pytest

from ccda2fhir.map.engine import registry
from ccda2fhir.map.engine.guide import reference, reference_path

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "templates" / "README.md"
EXAMPLES = ROOT / "examples" / "overlays"


def test_the_filter_reference_is_the_registry():
    assert reference_path().read_text() == reference(), \
        "templates/FILTERS.md is stale: run python -m ccda2fhir.map.engine.guide --write"


def test_every_filter_and_global_is_in_the_reference():
    text = reference_path().read_text()
    registry.load()
    missing = [n for n in registry.FILTERS if f"`x \\| {n}" not in text]
    missing += [n for n in registry.GLOBALS if f"`{n}(" not in text]
    assert missing == []


def test_every_filter_and_global_says_what_it_gives():
    # FILTERS.md is a mapping author's only description of a filter: one without a docstring
    # would be listed there as "(not described yet)"
    registry.load()
    undescribed = sorted({f"{kind} {name} ({getattr(fn, '__module__', '?')})"
                          for kind, table in (("filter", registry.FILTERS), ("global", registry.GLOBALS))
                          for name, fn in table.items() if not (inspect.getdoc(fn) or "").strip()})
    assert undescribed == [], "no docstring: " + ", ".join(undescribed)


@pytest.mark.parametrize("example", sorted(p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*")
                                           if p.is_file()))
def test_the_guide_shows_each_worked_example_file_as_it_is(example):
    assert (EXAMPLES / example).read_text().strip() in GUIDE.read_text()


def test_every_filter_the_guide_writes_exists():
    blocks = re.findall(r"```[a-z]*\n(.*?)```", GUIDE.read_text(), re.S)
    text = "\n".join(b for b in blocks if "{{" in b)
    registry.load()
    env = jinja2.Environment()
    known = set(registry.FILTERS) | set(env.filters)
    used = set(re.findall(r"\|\s*([a-z_]+)", " ".join(re.findall(r"\{\{(.*?)\}\}", text, re.S))))
    assert used and used <= known
    calls = set(re.findall(r"\b([a-z_]+)\(", " ".join(re.findall(r"\{\{(.*?)\}\}", text, re.S))))
    assert calls <= known | set(registry.GLOBALS) | set(env.globals)
