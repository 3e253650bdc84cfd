"""Shared test fixtures: the corpus (when present), the FHIR schema validator, conversions."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

import ccda2fhir

HERE = Path(__file__).resolve().parent
# Tests import their helpers as `tests.support...`: the checkout must be importable, but
# *after* site-packages, so that `ccda2fhir` is the installed (compiled) package under CI.
if str(HERE.parent) not in sys.path:
    sys.path.append(str(HERE.parent))
FIXTURES = HERE / "fixtures"
CORPUS = HERE.parents[1] / "shared" / "corpus"
SAMPLE_CCD = FIXTURES / "hl7-c-cda-examples" / "CCD.xml"


def corpus_documents() -> list[Path]:
    """Every full C-CDA document (ClinicalDocument with a structuredBody) of ../shared/corpus."""
    if not CORPUS.is_dir():
        return []
    out = []
    for p in sorted(CORPUS.rglob("*")):
        if p.suffix.lower() in (".xml", ".ccda", ".cda") and p.is_file():
            head = p.read_bytes()[:4000]
            if b"ClinicalDocument" in head:
                out.append(p)
    return out


def twin_documents() -> list[Path]:
    """The documents twin tests compare both implementations on: the corpus's, else the fixtures'."""
    return corpus_documents() or sorted(p for p in FIXTURES.rglob("*.xml")
                                        if b"ClinicalDocument" in p.read_bytes()[:4000])


needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")


@pytest.fixture(scope="session")
def fhir_schema() -> dict:
    from ccda2fhir.validate.schema import schema
    return schema()


@pytest.fixture(scope="session")
def validate(fhir_schema):
    """validate(resource) -> list of schema errors (empty when valid)."""
    import jsonschema
    cache: dict = {}

    def check(resource: dict) -> list[str]:
        rt = resource["resourceType"]
        v = cache.get(rt)
        if v is None:
            v = cache[rt] = jsonschema.Draft6Validator(
                {"$ref": f"#/definitions/{rt}", "definitions": fhir_schema["definitions"]})
        return [f"{rt}/{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in v.iter_errors(resource)]
    return check


def convert_path(path, patient_id: str = "test-patient"):
    return ccda2fhir.convert(Path(path).read_bytes(), patient_id)


def resources_of(bundle: dict, resource_type: str | None = None) -> list[dict]:
    return [e["resource"] for e in bundle["entry"]
            if resource_type is None or e["resource"]["resourceType"] == resource_type]


def resolve(bundle: dict, reference: dict | str) -> dict:
    """The resource a Reference points to inside the Bundle."""
    ref = reference["reference"] if isinstance(reference, dict) else reference
    for e in bundle["entry"]:
        r = e["resource"]
        if f"{r['resourceType']}/{r['id']}" == ref:
            return r
    raise KeyError(ref)
