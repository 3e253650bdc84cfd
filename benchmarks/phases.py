"""Per-phase timing of one conversion, each phase as a ratio to a bare lxml parse of the same bytes.

The phases run interleaved in one process (every round times each phase once, in turn), so the
ratios hold on a shared machine whose absolute speed drifts. Printed per phase: the median time
and median / median bare parse.

    python benchmarks/phases.py                  # the HL7 CCD (bundled sample without ../shared)
    python benchmarks/phases.py --big 40         # that CCD with its entries repeated 40 times
    python benchmarks/phases.py FILE --python    # also the pure-Python walker and narrative

Phases: lxml (etree.fromstring, the floor), parse (ccda2fhir.parse.parse: the safe parser and its
checks), walk (the plain-data walk, narrative hook a no-op), narrative (every section <text> to
XHTML and its ID index), walk+narrative (what convert runs), map (map_document), convert (all).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ccda2fhir  # noqa: E402
from ccda2fhir import narrative as pynarrative  # noqa: E402
from ccda2fhir import walk as walk_pkg  # noqa: E402
from ccda2fhir.map.document import map_document  # noqa: E402
from ccda2fhir.parse import parse  # noqa: E402
from ccda2fhir.walk import pywalker  # noqa: E402

from big_document import big_ccd, default_source  # noqa: E402

V3_TEXT = "{urn:hl7-org:v3}section/{urn:hl7-org:v3}text"


def _no_narrative(text_el, ids):
    return None


def phases(data: bytes, with_python: bool) -> dict:
    """name -> zero-argument callable; 'lxml' first (the unit)."""
    walk = walk_pkg.walk
    section_narrative = getattr(walk_pkg, "section_narrative", pynarrative.section_narrative)
    root = parse(data)
    texts = root.findall(".//" + V3_TEXT)

    def narrative_all(fn=section_narrative):
        ids = {}
        for t in texts:
            fn(t, ids)

    out = {
        "lxml": lambda: etree.fromstring(data),
        "parse": lambda: parse(data),
        "walk": lambda: walk(root, _no_narrative),
        "narrative": narrative_all,
        "walk+narrative": lambda: walk(root, section_narrative),
    }
    if with_python:
        out["walk (python)"] = lambda: pywalker.walk(root, _no_narrative)
        out["narrative (python)"] = lambda: narrative_all(pynarrative.section_narrative)
    doc = walk(root, section_narrative)
    out["map"] = lambda: map_document(doc, "bench-patient", {"embed_source": False, "source_bytes": None})
    out["convert"] = lambda: ccda2fhir.convert(data, "bench-patient")
    return out


def measure(data: bytes, rounds: int, with_python: bool) -> dict[str, list[float]]:
    fns = phases(data, with_python)
    for fn in fns.values():   # warm-up: templates compiled, caches filled
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    clock = time.perf_counter
    for _ in range(rounds):
        for name, fn in fns.items():
            t = clock()
            fn()
            times[name].append(clock() - t)
    return times


def report(times: dict[str, list[float]], label: str) -> str:
    unit = statistics.median(times["lxml"])
    lines = [f"{label}", f"{'phase':<20}{'median ms':>11}{'x lxml parse':>14}"]
    for name, ts in times.items():
        m = statistics.median(ts)
        lines.append(f"{name:<20}{m * 1e3:>11.3f}{m / unit:>14.2f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?", type=Path)
    ap.add_argument("--big", type=int, metavar="N", help="repeat the CCD's entries N times (big_document.py)")
    ap.add_argument("--rounds", type=int, default=None, help="default 60, 8 with --big")
    ap.add_argument("--python", action="store_true", help="also time the pure-Python walker and narrative")
    a = ap.parse_args(argv)
    if a.big:
        data, label = big_ccd(a.big), f"{default_source().name} entries x{a.big}"
    else:
        path = a.file or default_source()
        data, label = path.read_bytes(), path.name
    rounds = a.rounds or (8 if a.big else 60)
    times = measure(data, rounds, a.python)
    print(report(times, f"{label}: {len(data)} bytes, {rounds} rounds, compiled={ccda2fhir.compiled}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
