"""One place for every limit: the library's defaults, the CLI's --help and README agree with it."""
from __future__ import annotations

import inspect
import re

import ccda2fhir
from ccda2fhir.pipeline import convert_in_process as _convert
from ccda2fhir.limits import LIMITS, Limits, described
from tests.conftest import HERE

README = (HERE.parent / "README.md").read_text()


def _security_table() -> dict[str, str]:
    section = README[README.index("## Limits and security"):]
    section = section[:section.index("\n## ", 5)] if "\n## " in section[5:] else section
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \| ([^|]+?) \|", section, re.M)}


def test_readme_lists_every_limit_with_its_default():
    table = _security_table()
    assert set(table) == {name for name, _, _ in described()}
    for name, default, _ in described():
        assert table[name] == f"{default:g}" if isinstance(default, float) else table[name] == str(default), name


def test_convert_defaults_are_the_limits():
    params = inspect.signature(_convert).parameters
    for name, default, _ in described():
        if name != "timeout":
            assert params[name].default == default, name
    assert inspect.signature(ccda2fhir.convert_with_report).parameters["timeout"].default is None


def test_limits_are_one_frozen_value():
    assert isinstance(LIMITS, Limits) and ccda2fhir.LIMITS is LIMITS
    assert [name for name, _, _ in described()] == ["max_bytes", "max_depth", "max_attributes", "max_text",
                                                    "timeout"]
    assert all(what for _, _, what in described())
