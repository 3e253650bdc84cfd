"""Code systems and concept maps, read from ccda2fhir/data once per process."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from .navigation import one
from .registry import template_filter


def _data(name: str) -> dict:
    raw = json.loads(resources.files("ccda2fhir.data").joinpath(name).read_text())
    raw.pop("_comment", None)
    return raw


@lru_cache(maxsize=1)
def code_systems() -> dict:
    return _data("codesystems.json")


@lru_cache(maxsize=1)
def identifier_systems() -> dict:
    return _data("identifier_systems.json")


@lru_cache(maxsize=1)
def concept_maps() -> dict:
    maps = _data("conceptmaps.json")
    folder = resources.files("ccda2fhir.data").joinpath("valuemaps")
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.endswith(".json"):
            for name, table in json.loads(path.read_text()).items():
                if not name.startswith("_"):
                    maps.setdefault(name, {}).update(
                        {k: v for k, v in table.items() if not k.startswith("_")})
    return maps


@template_filter
def system_uri(oid: str | None) -> str | None:
    """FHIR system URI for a CDA codeSystem OID (urn:oid: when not known)."""
    if not oid:
        return None
    oid = oid.strip()
    if oid.startswith(("http:", "https:", "urn:")):
        return oid
    return code_systems().get(oid) or f"urn:oid:{oid}"


@template_filter
def concept(code, map_name: str, default=None):
    """The Coding a ConceptMap gives for a code (a str, or a CD dict's @code); else ``default``."""
    if isinstance(code, (dict, list)):
        cd = one(code)
        code = cd.get("code") if isinstance(cd, dict) else None
    if not code:
        return default
    table = concept_maps().get(map_name, {})
    hit = table.get(code.strip()) or table.get(code.strip().lower()) or table.get(code.strip().upper())
    return dict(hit) if hit else default


@template_filter
def concept_code(code, map_name: str, default=None):
    """Only the code of ``concept`` (for FHIR elements of type code)."""
    c = concept(code, map_name)
    return c["code"] if c else default


@template_filter
def codeable(coding) -> dict | None:
    """Wrap one Coding as a CodeableConcept."""
    return {"coding": [coding]} if coding else None
