"""The service under load: 200 requests from 8 clients with the HL7 CCD all succeed, 8 clients get at
least 1.5x the throughput of one on the 2-core reference machine, and memory stays bounded
(benchmarks/load_service.py, which also runs alone and prints the figures README quotes).

Run: python -m pytest benchmarks/test_bench_service.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_service import problems, run  # noqa: E402


def test_service_load():
    figures = run(requests=200, clients=8, single=50)
    assert figures["many_clients"]["requests"] == 200
    assert not problems(figures), figures
