"""What the worker pool costs: a document through a warm worker next to converting it in-process,
and how soon a killed worker's replacement converts again.

Run: python -m pytest benchmarks --benchmark-only
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

import ccda2fhir
from ccda2fhir.pool import ConversionPool

# Targets on the 2-core reference machine.
POOL_OVERHEAD_S = 0.03      # a job through a warm one-worker pool, over converting in-process
REPLACED_WITHIN_S = 2.0     # a job past its limit: its error, and the next document converted by the new worker


@pytest.fixture(scope="module")
def pool():
    with ConversionPool(1) as p:
        p.submit(b"<ClinicalDocument xmlns='urn:hl7-org:v3'/>", "warm").result(timeout=120)
        yield p


def _best(fn, n: int = 7) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def test_pool_round_trip(benchmark, pool, ccd_bytes):
    result = benchmark(lambda: pool.submit(ccd_bytes, "bench-patient").result(timeout=120))
    assert result.resources > 10


def test_pool_overhead(pool, ccd_bytes):
    in_process = _best(lambda: ccda2fhir.convert_to_json(ccd_bytes, "p"))
    through_pool = _best(lambda: pool.submit(ccd_bytes, "p").result(timeout=120))
    assert through_pool - in_process < POOL_OVERHEAD_S, (through_pool, in_process)


def test_replacement_after_a_timeout(ccd_bytes):
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:   # the test-only worker hook lives in tests/support
        sys.path.append(root)
    from tests.support.pool_hooks import misbehave
    with ConversionPool(1, initializer=misbehave) as p:
        p.submit(ccd_bytes, "p").result(timeout=120)          # warm
        start = time.perf_counter()
        with pytest.raises(ccda2fhir.ConversionTimeout):
            p.submit(ccd_bytes, "hang", timeout=0.1).result(timeout=60)
        p.submit(ccd_bytes, "p").result(timeout=60)
        assert time.perf_counter() - start < REPLACED_WITHIN_S
