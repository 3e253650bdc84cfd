"""How fast and how lean: convert() on the HL7 CCD, next to a bare lxml parse of the same bytes.

Run: python -m pytest benchmarks --benchmark-only
The targets below are the project's promises; a regression past them fails the benchmark run.
"""
from __future__ import annotations

import tracemalloc

from lxml import etree

import ccda2fhir
from ccda2fhir.narrative import section_narrative
from ccda2fhir.parse import parse
from ccda2fhir.walk import pywalker, walk

# Targets on one core of the 2-core reference machine.
CONVERT_MEDIAN_S = 0.10        # the whole conversion of the CCD
CONVERT_VS_PARSE = 150          # conversion may cost at most this many bare parses
PEAK_MEMORY_MB = 40             # traced Python allocations while converting the CCD


def test_bare_lxml_parse(benchmark, ccd_bytes):
    benchmark(etree.fromstring, ccd_bytes)


def test_convert(benchmark, ccd_bytes):
    bundle = benchmark(ccda2fhir.convert, ccd_bytes, "bench-patient")
    assert bundle["entry"]
    assert benchmark.stats.stats.median < CONVERT_MEDIAN_S


def test_convert_relative_to_parse(ccd_bytes):
    import time
    def best(fn, n=15):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)
    parse_s = best(lambda: etree.fromstring(ccd_bytes))
    convert_s = best(lambda: ccda2fhir.convert(ccd_bytes, "p"))
    assert convert_s < CONVERT_VS_PARSE * parse_s, (convert_s, parse_s)


def test_walk_compiled(benchmark, ccd_bytes):
    root = parse(ccd_bytes)
    benchmark(walk, root, section_narrative)


def test_walk_pure_python(benchmark, ccd_bytes):
    root = parse(ccd_bytes)
    benchmark(pywalker.walk, root, section_narrative)


def test_peak_memory(ccd_bytes):
    ccda2fhir.convert(ccd_bytes, "warm-up")  # templates compiled, data loaded
    tracemalloc.start()
    ccda2fhir.convert(ccd_bytes, "p")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < PEAK_MEMORY_MB * 1024 * 1024, peak
