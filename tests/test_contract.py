"""The output contract on every document we have: fixtures always, the whole corpus when present."""
from __future__ import annotations

import json
import subprocess
import sys

import orjson
import pytest

import ccda2fhir
from conftest import FIXTURES, SAMPLE_CCD, corpus_documents, needs_corpus
from contract import contract_problems

FIXTURE_DOCS = sorted(p for p in FIXTURES.rglob("*") if p.suffix.lower() == ".xml"
                      and b"ClinicalDocument" in p.read_bytes()[:4000])


@pytest.mark.parametrize("path", FIXTURE_DOCS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_documents_keep_the_contract(path, validate):
    bundle = ccda2fhir.convert(path.read_bytes(), "pat-123")
    assert contract_problems(bundle, "pat-123", validate) == []


@needs_corpus
def test_every_corpus_document_keeps_the_contract(validate):
    docs = corpus_documents()
    assert len(docs) > 300
    failures = {}
    converted = 0
    for path in docs:
        raw = path.read_bytes()
        try:
            bundle = ccda2fhir.convert(raw, "corpus-patient")
        except ccda2fhir.NotCCDAError:
            continue  # a CDA-shaped file that is not a ClinicalDocument at its root
        except ccda2fhir.InvalidXMLError:
            if _well_formed(raw):
                failures[str(path)] = ["well-formed document refused as invalid XML"]
            continue
        except ccda2fhir.ConversionError as exc:
            failures[str(path)] = [f"conversion error: {exc}"]
            continue
        converted += 1
        problems = contract_problems(bundle, "corpus-patient", validate) + model_problems(bundle)
        again = ccda2fhir.convert(raw, "corpus-patient")
        if orjson.dumps(again) != orjson.dumps(bundle):
            problems.append("second conversion differs")
        if problems:
            failures[str(path)] = problems[:5]
    assert converted > 300
    assert failures == {}


def model_problems(bundle: dict) -> list[str]:
    """Cardinality and type errors the JSON schema cannot see, from fhir.resources' models."""
    import importlib
    out = []
    for e in bundle["entry"]:
        r = e["resource"]
        model = getattr(importlib.import_module(f"fhir.resources.R4B.{r['resourceType'].lower()}"),
                        r["resourceType"])
        try:
            model.model_validate(r)
        except Exception as exc:  # pydantic's ValidationError
            out.append(f"{r['resourceType']}/{r['id']}: {str(exc)[:300]}")
    return out


def _well_formed(raw: bytes) -> bool:
    from lxml import etree
    try:
        etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
        return True
    except etree.XMLSyntaxError:
        return False


def test_same_output_in_another_process():
    """Byte-identical output across processes with different hash seeds."""
    here = orjson.dumps(ccda2fhir.convert(SAMPLE_CCD.read_bytes(), "p-1"))
    code = ("import sys, orjson, ccda2fhir; sys.stdout.buffer.write(orjson.dumps("
            f"ccda2fhir.convert(open({str(SAMPLE_CCD)!r}, 'rb').read(), 'p-1')))")
    for seed in ("1", "12345"):
        env = {"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}
        import os
        env.update({k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "VIRTUAL_ENV")})
        there = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, check=True).stdout
        assert there == here


def test_sample_bundle_has_the_patient_and_the_clinical_content():
    bundle = ccda2fhir.convert(SAMPLE_CCD, "sample-patient")
    types = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "Composition", "Provenance", "Condition", "Practitioner", "Organization"} <= types
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    assert patient["id"] == "sample-patient"
    assert json.dumps(patient).count("Patient/") == 0
