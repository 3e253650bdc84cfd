"""Parse, walk and narrative as ratios to a bare lxml parse of the same bytes (phases.py, interleaved).

Run: python -m pytest benchmarks --benchmark-only -k phases -s   (-s prints the per-phase table)
The targets are the share of issue 9's budget (convert <= 5x the bare parse on the HL7 CCD, <= 6x
on the 40-fold document) that parsing, walking and the narrative may take.
"""
from __future__ import annotations

import pytest

import ccda2fhir
from big_document import big_ccd
from phases import measure, phases, ratios, report

PARSE_VS_LXML = 1.3             # our safe parse and its checks, per bare lxml parse
WALK_NARRATIVE_VS_LXML = 1.5    # the walk with every section narrative, per bare lxml parse

needs_compiled = pytest.mark.skipif(not ccda2fhir.compiled, reason="the compiled walker and narrative are not built")


def _check(benchmark, data: bytes, rounds: int, label: str) -> None:
    times = benchmark.pedantic(measure, args=(phases(data, with_mapping=False), rounds), rounds=1, iterations=1)
    r = ratios(times)
    print("\n" + report(times, label))
    benchmark.extra_info.update({f"{name} / lxml": round(v, 3) for name, v in r.items()})
    assert r["parse"] <= PARSE_VS_LXML, r
    assert r["walk+narrative"] <= WALK_NARRATIVE_VS_LXML, r


@needs_compiled
def test_phases_hl7_ccd(benchmark, ccd_bytes):
    _check(benchmark, ccd_bytes, 60, "HL7 CCD")


@needs_compiled
def test_phases_40_fold_document(benchmark):
    _check(benchmark, big_ccd(40), 8, "HL7 CCD, entries x40")
