"""A second, independent validator: every resource of the sample documents parses as a
fhir.resources model (its R4B models, the closest to R4 it ships: R4B kept R4's resources)."""
from __future__ import annotations

import importlib

import pytest

import ccda2fhir
from conftest import FIXTURES, SAMPLE_CCD

# Resources R4B reshaped against R4 (an R4-valid resource might not parse there): none of ours so far.
R4B_DIFFERS: set = set()


def model(resource_type: str):
    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    return getattr(module, resource_type)


DOCS = [SAMPLE_CCD] + sorted(p for p in FIXTURES.rglob("*.xml")
                             if p != SAMPLE_CCD and b"ClinicalDocument" in p.read_bytes()[:4000])


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_resources_parse_as_fhir_models(path):
    bundle = ccda2fhir.convert(path.read_bytes(), "model-check")
    checked = 0
    for entry in bundle["entry"]:
        r = entry["resource"]
        if r["resourceType"] in R4B_DIFFERS:
            continue
        model(r["resourceType"]).model_validate(r)
        checked += 1
    assert checked == len([e for e in bundle["entry"] if e["resource"]["resourceType"] not in R4B_DIFFERS])
