"""Cleaning a rendered resource: no empty values, one value per choice element."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

_EXTENSIONS = frozenset({"extension", "modifierExtension"})


@lru_cache(maxsize=1)
def _choices() -> dict[str, list[list[str]]]:
    """Resource type -> its choice elements, each the list of its variants' JSON names.

    Read from data/choices.json (made from the official FHIR R4 JSON schema), so that
    elements that only look like choices (reasonCode and reasonReference, both allowed
    at once) are never taken for one.
    """
    data = json.loads(resources.files("ccda2fhir.data").joinpath("choices.json").read_text())
    return {rt: list(groups.values()) for rt, groups in data.items() if not rt.startswith("_")}


def prune(value):
    """Drop nulls, blank strings, empty lists and objects, at every depth."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = prune(v)
            if v is not None:
                if k in _EXTENSIONS and isinstance(v, list):
                    # an extension left with only its url says nothing: FHIR forbids it
                    v = [x for x in v if not (isinstance(x, dict) and x.keys() <= {"url"})] or None
                    if v is None:
                        continue
                out[k] = v
        return out or None
    if isinstance(value, list):
        out = [x for x in (prune(v) for v in value) if x is not None]
        return out or None
    if isinstance(value, str):
        return value if value.strip() else None
    return value


def one_per_choice(resource: dict) -> dict:
    """Keep the first filled variant of each top-level choice element ([x]), in template order.

    When a template fills two types of one choice (say onsetDateTime and onsetAge) the
    first one written wins; FHIR allows only one.
    """
    for variants in _choices().get(resource.get("resourceType"), ()):
        present = [k for k in resource if k in variants]
        for k in present[1:]:
            del resource[k]
    return resource
