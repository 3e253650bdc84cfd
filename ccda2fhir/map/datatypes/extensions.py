"""URLs of the extensions ccda2fhir defines (data/extensions.json).

Only for source facts that FHIR R4, US Core and HL7's extension registry have no element for;
each use names why at its call site. README.md 'Extensions this converter defines' lists them.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from ..engine.registry import template_global

@lru_cache(maxsize=1)
def _defined() -> dict:
    return json.loads(resources.files("ccda2fhir.data").joinpath("extensions.json").read_text())


@template_global
def extension_url(name: str) -> str:
    """The URL of a converter-defined extension; a name not in extensions.json is a bug."""
    data = _defined()
    if name not in data["extensions"]:
        raise KeyError(f"extension {name!r} is not defined in data/extensions.json")
    return data["base"] + name
