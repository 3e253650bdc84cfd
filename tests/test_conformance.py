"""Every resource is valid FHIR R4 and keeps every US Core 6.1.0 profile it claims.

On every document we have (the bundled samples always, the whole shared corpus when present), each
resource passes ccda2fhir.validate: the R4 JSON schema, every error-severity R4 invariant on every
element it applies to, the reference target types (and resolution inside the Bundle) and the
profiles in its meta.profile. The corpus is split in chunks so that ``pytest -n`` spreads it.
"""
from __future__ import annotations


import pytest

import ccda2fhir
from ccda2fhir.validate import check_bundle
from tests.conftest import FIXTURES, corpus_documents, needs_corpus

CHUNKS = 8

FIXTURE_DOCS = sorted(p for p in FIXTURES.rglob("*") if p.suffix.lower() == ".xml"
                      and b"ClinicalDocument" in p.read_bytes()[:4000])


def convert(path) -> dict | None:
    try:
        return ccda2fhir.convert(path.read_bytes(), "conformance-patient")
    except ccda2fhir.ConversionError:
        return None   # the contract test says which documents may be refused


@pytest.mark.parametrize("path", FIXTURE_DOCS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_sample_documents_are_valid_and_keep_their_profiles(path):
    assert [str(p) for p in check_bundle(convert(path))] == []


@needs_corpus
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_corpus_documents_are_valid_and_keep_their_profiles(chunk):
    docs = corpus_documents()[chunk::CHUNKS]
    assert docs
    failures = {}
    for path in docs:
        bundle = convert(path)
        bad = [str(p) for p in check_bundle(bundle)] if bundle else []
        if bad:
            failures[str(path)] = bad[:5]
    assert failures == {}
