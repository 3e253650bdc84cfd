"""Code systems and concept maps, read from ccda2fhir/data once per process (and, in a conversion with
a terminology overlay, merged with its entries once per overlay)."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from ..engine import active
from ..engine.registry import template_filter
from ..state import current
from .navigation import one

def data_file(name: str) -> dict:
    """A JSON data file of ccda2fhir/data, without its _comment."""
    raw = json.loads(resources.files("ccda2fhir.data").joinpath(name).read_text())
    raw.pop("_comment", None)
    return raw


@lru_cache(maxsize=1)
def builtin_code_systems() -> dict:
    return data_file("codesystems.json")


@lru_cache(maxsize=1)
def builtin_identifier_systems() -> dict:
    return data_file("identifier_systems.json")


@lru_cache(maxsize=1)
def builtin_concept_maps() -> dict:
    maps = data_file("conceptmaps.json")
    folder = resources.files("ccda2fhir.data").joinpath("valuemaps")
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.endswith(".json"):
            for name, table in json.loads(path.read_text()).items():
                if not name.startswith("_"):
                    maps.setdefault(name, {}).update(
                        {k: v for k, v in table.items() if not k.startswith("_")})
    return maps


def _with_overlay(overlay, name: str, builtin):
    """The built-in table merged with a terminology overlay's entries, once per overlay: the
    overlay's win; concept maps merge code by code."""
    if not overlay.terminology.get(name):
        return builtin()

    def merged() -> dict:
        own = overlay.terminology[name]
        if name != "conceptmaps":
            return {**builtin(), **own}
        out = {k: dict(v) for k, v in builtin().items()}
        for map_name, table in own.items():
            out.setdefault(map_name, {}).update(table)
        return out
    return overlay.derived(f"terminology:{name}", merged)


def code_systems() -> dict:
    """CDA codeSystem OID -> FHIR system URI (data/codesystems.json, and the overlay's)."""
    overlay = active()
    return builtin_code_systems() if overlay is None else _with_overlay(overlay, "codesystems", builtin_code_systems)


def identifier_systems() -> dict:
    """II root OID -> Identifier.system URI (data/identifier_systems.json, and the overlay's)."""
    overlay = active()
    return builtin_identifier_systems() if overlay is None else \
        _with_overlay(overlay, "identifier_systems", builtin_identifier_systems)


def concept_maps() -> dict:
    """Map name -> code -> Coding or value (data/conceptmaps.json, data/valuemaps/, the overlay's)."""
    overlay = active()
    return builtin_concept_maps() if overlay is None else _with_overlay(overlay, "conceptmaps", builtin_concept_maps)


OID_PATTERN = re.compile(r"^\d+(\.\d+)+$")
UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@lru_cache(maxsize=1)
def code_system_names() -> dict:
    return data_file("codesystem_names.json")


def system_by_name(name) -> str | None:
    """FHIR URI for a code system written by name ("SNOMED CT", "CPT-4"); None when unknown."""
    if not isinstance(name, str):
        return None
    key = re.sub(r"[\s_-]+", "", name).upper()
    return code_system_names().get(key) if key else None


@template_filter
def system_uri(oid: str | None) -> str | None:
    """FHIR system URI for a CDA codeSystem OID (urn:oid: when not known).

    A codeSystem that is not a UID but a well-known name ("CPT", "SNOMED CT", seen in
    the wild) is read by name; any other cannot be a system URI: it is reported and
    left out, the code kept.
    """
    if not isinstance(oid, str):
        return None
    oid = "".join(oid.split())
    if not oid:
        return None
    known = code_systems()
    if oid.lower().startswith("urn:oid:"):
        return known.get(oid[8:]) or f"urn:oid:{oid[8:]}"
    if oid.startswith(("http:", "https:", "urn:")):
        return oid
    if oid in known:
        return known[oid]
    if OID_PATTERN.match(oid):
        return f"urn:oid:{oid}"
    if UUID_PATTERN.match(oid):
        return f"urn:uuid:{oid.lower()}"
    named = system_by_name(oid)
    if named:
        return named
    try:
        current().warn(f"codeSystem {oid!r} is not an OID; the coding has no system", level="partial")
    except LookupError:
        pass
    return None


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
