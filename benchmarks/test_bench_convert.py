"""How fast and how lean: issue 9's figures, and each phase of a conversion on the HL7 CCD.

Run: python -m pytest benchmarks --benchmark-only
The figures (ratios to a bare lxml parse measured interleaved, peak RSS, import + first conversion,
Medplum side by side, batch scaling) are printed at the end and each fails its test when it misses
the target of issue 9; `python benchmarks/figures.py` prints the same without pytest.
"""
from __future__ import annotations

import orjson
import pytest
from lxml import etree

import ccda2fhir
from ccda2fhir.assemble.bundle import batch_bundle
from ccda2fhir.map.document import map_document
from ccda2fhir.walk.narrative import section_narrative
from ccda2fhir.parse import parse
from ccda2fhir.walk import pywalker, walk

import figures


def test_bare_lxml_parse(benchmark, ccd_bytes):
    benchmark(etree.fromstring, ccd_bytes)


def test_convert(benchmark, ccd_bytes):
    bundle = benchmark(ccda2fhir.convert, ccd_bytes, "bench-patient")
    assert bundle["entry"]


# -- each phase on its own (inputs prepared outside the timing) --------------------------------

def test_phase_parse(benchmark, ccd_bytes):
    benchmark(parse, ccd_bytes)


def test_phase_walk_and_narrative(benchmark, ccd_bytes):
    root = parse(ccd_bytes)
    benchmark(walk, root, section_narrative)


def test_phase_walk_pure_python(benchmark, ccd_bytes):
    root = parse(ccd_bytes)
    benchmark(pywalker.walk, root, section_narrative)


def test_phase_map(benchmark, ccd_bytes):
    doc = walk(parse(ccd_bytes), section_narrative)
    resources, _ = benchmark(map_document, doc, "bench-patient")
    assert resources


def test_phase_assemble(benchmark, ccd_bytes):
    resources, _ = map_document(walk(parse(ccd_bytes), section_narrative), "bench-patient")
    benchmark(batch_bundle, resources)


def test_phase_serialise(benchmark, ccd_bytes):
    bundle = ccda2fhir.convert(ccd_bytes, "bench-patient")
    benchmark(orjson.dumps, bundle)


# -- the figures of issue 9 ----------------------------------------------------------------------

def _holds(fig):
    if fig.ok is None:
        pytest.skip(fig.note)
    assert fig.ok, fig.line()


def test_ccd_convert_within_5_parses(figure):
    _holds(figure(figures.ccd_ratio))


def test_big_document_within_6_parses(figure, big_bytes):
    _holds(figure(figures.big_ratio, big_bytes))


def test_big_document_peak_rss_within_400_mb(figure, big_bytes):
    _holds(figure(figures.peak_rss, big_bytes))


def test_import_and_first_conversion_within_300_ms(figure):
    _holds(figure(figures.first_conversion))


def test_three_times_faster_than_medplum(figure):
    _holds(figure(figures.medplum))


def test_batch_two_jobs_at_least_1_8_times_faster(figure):
    _holds(figure(figures.batch_scaling))
