"""The official FHIR R4 JSON schema (data/fhir/fhir.schema.json, HL7, CC0) via jsonschema."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from .problem import Problem


@lru_cache(maxsize=1)
def schema() -> dict:
    """The R4 JSON schema as a dict, each complex type said to be a JSON object: the published
    schema leaves that out, so a string where a CodeableConcept belongs would pass."""
    raw = json.loads(resources.files("ccda2fhir.data").joinpath("fhir", "fhir.schema.json").read_text())
    for definition in raw["definitions"].values():
        if "properties" in definition and "type" not in definition:
            definition["type"] = "object"
    return raw


@lru_cache(maxsize=None)
def _validator(resource_type: str):
    try:
        import jsonschema
    except ImportError as exc:  # pragma: no cover - the [check] extra is missing
        raise ImportError("ccda2fhir.validate needs jsonschema: pip install 'ccda2fhir[check]'") from exc
    return jsonschema.Draft6Validator({"$ref": f"#/definitions/{resource_type}",
                                       "definitions": schema()["definitions"]})


def schema_problems(resource: dict, ref: str) -> list[Problem]:
    """Each way ``resource`` breaks the R4 JSON schema."""
    rt = resource.get("resourceType")
    if rt not in schema()["definitions"]:
        return [Problem(ref, "resourceType", "schema", f"{rt!r} is not an R4 resource type")]
    return [Problem(ref, "/".join(map(str, e.path)) or rt, "schema", e.message[:300])
            for e in _validator(rt).iter_errors(resource)]
