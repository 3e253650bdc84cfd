"""The bulk CLI's targets on the shared corpus: 2 jobs faster than 1, and memory that stays flat
over repeated passes (skipped without ../shared/corpus).

Run: python -m pytest benchmarks/test_bench_bulk.py -s   (about two minutes); the numbers: python benchmarks/bulk.py
"""
from __future__ import annotations

import pytest

from bulk import CORPUS, corpus_documents, run

# Targets on the 2-core reference machine, whole documents (the corpus's fragments fail in
# microseconds and measure only the per-document overhead).
SPEEDUP_2_JOBS = 1.3        # docs/s with 2 jobs over docs/s with 1
LATER_PASS_GROWTH_MB = 24   # a later pass over the same documents peaks at most this far above the first


@pytest.fixture(scope="module")
def documents():
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return corpus_documents(CORPUS)


@pytest.fixture(scope="module")
def runs(documents):
    return {jobs: run(documents, jobs, "ndjson", passes=3) for jobs in (1, 2)}


def test_two_jobs_convert_faster_than_one(runs):
    one, two = runs[1]["docs_per_s"], runs[2]["docs_per_s"]
    print(f"\n1 job: {one:.1f} docs/s, 2 jobs: {two:.1f} docs/s")
    assert two >= SPEEDUP_2_JOBS * one


@pytest.mark.parametrize("jobs", [1, 2])
def test_memory_stays_flat_over_repeated_passes(runs, jobs):
    first, *later = runs[jobs]["peak_mb_by_pass"]
    print(f"\n{jobs} job(s): peak MB by pass {runs[jobs]['peak_mb_by_pass']}")
    assert all(peak <= first + LATER_PASS_GROWTH_MB for peak in later)
