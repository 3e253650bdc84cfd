"""Benchmark inputs (benchmarks/inputs.py) and the figures table printed at the end of the run."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inputs import ccd_path  # noqa: E402

FIGURES: list = []


@pytest.fixture(scope="session")
def ccd_bytes() -> bytes:
    return ccd_path().read_bytes()


@pytest.fixture(scope="session")
def big_bytes() -> bytes:
    from big_document import big_ccd
    return big_ccd()


@pytest.fixture
def figure(benchmark):
    """Measure one issue-9 figure once (as a benchmark, so --benchmark-only runs it) and record it."""
    def measure(fn, *args):
        fig = benchmark.pedantic(fn, args=args, rounds=1, iterations=1)
        FIGURES.append(fig)
        benchmark.extra_info.update(figure=fig.name, value=fig.value, target=fig.target)
        return fig
    return measure


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("issue 9 figures (benchmarks/figures.py)")
        for fig in FIGURES:
            terminalreporter.write_line(fig.line())
