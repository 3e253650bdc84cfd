"""Per-phase timing of one conversion, each phase as a ratio to a bare lxml parse of the same bytes.

The phases run interleaved in one process (every round times each phase once, in turn), so the
ratios hold on a shared machine whose absolute speed drifts. Printed per phase: the median time
and median / median bare parse.

    python benchmarks/phases.py                  # the HL7 CCD (bundled sample without ../shared)
    python benchmarks/phases.py --big 40         # that CCD with its entries repeated 40 times (or FILE's)
    python benchmarks/phases.py FILE --python    # also the pure-Python walker and narrative

Phases: lxml (etree.fromstring, the floor), parse (ccda2fhir.parse.parse: the safe parser and its
checks), walk (the plain-data walk, narrative hook a no-op), narrative (every section <text> to
XHTML and its ID index), walk+narrative (what convert runs), map (map_document), convert (all).
Each phase's time includes freeing what it made; walk and narrative run on a tree parsed just
before them (untimed), as they do inside convert.
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
from ccda2fhir.walk import narrative as pynarrative  # noqa: E402
from ccda2fhir import walk as walk_pkg  # noqa: E402
from ccda2fhir.map.document import map_document  # noqa: E402
from ccda2fhir.parse import parse  # noqa: E402
from ccda2fhir.walk import pywalker  # noqa: E402

from big_document import big_document, default_source  # noqa: E402

V3_TEXT = "{urn:hl7-org:v3}section/{urn:hl7-org:v3}text"


def _no_narrative(text_el, ids):
    return None


def _timed(fn, *args) -> float:
    clock = time.perf_counter
    t = clock()
    out = fn(*args)
    del out                  # freeing the result is part of the phase's cost
    return clock() - t


def phases(data: bytes, with_python: bool = False, with_mapping: bool = True) -> dict:
    """name -> zero-argument callable returning its elapsed seconds; 'lxml' first (the unit).

    The walk and narrative phases run on a tree parsed just before (untimed), as in convert: a
    tree parsed long ago is out of the CPU caches and would be slower to walk than in real use.
    """
    walk = walk_pkg.walk
    section_narrative = getattr(walk_pkg, "section_narrative", pynarrative.section_narrative)  # main: no compiled one

    def fresh():
        root = parse(data)
        return root, root.findall(".//" + V3_TEXT)

    def narrative_all(texts, fn):
        ids = {}
        for t in texts:
            fn(t, ids)

    def walking(fn, narrative):
        root, _ = fresh()
        return _timed(fn, root, narrative)

    def narrating(fn):
        _, texts = fresh()
        return _timed(narrative_all, texts, fn)

    out = {
        "lxml": lambda: _timed(etree.fromstring, data),
        "parse": lambda: _timed(parse, data),
        "walk": lambda: walking(walk, _no_narrative),
        "narrative": lambda: narrating(section_narrative),
        "walk+narrative": lambda: walking(walk, section_narrative),
    }
    if with_python:
        out["walk (python)"] = lambda: walking(pywalker.walk, _no_narrative)
        out["narrative (python)"] = lambda: narrating(pynarrative.section_narrative)
    if with_mapping:
        doc = walk(parse(data), section_narrative)
        options = {"embed_source": False, "source_bytes": None}
        out["map"] = lambda: _timed(map_document, doc, "bench-patient", options)
        out["convert"] = lambda: _timed(ccda2fhir.convert, data, "bench-patient")
    return out


def measure(fns: dict, rounds: int) -> dict[str, list[float]]:
    """Times of each phase, ``rounds`` times each, the phases taking turns."""
    for fn in fns.values():   # warm-up: templates compiled, caches filled
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(fn())
    return times


def ratios(times: dict[str, list[float]]) -> dict[str, float]:
    """Each phase's median over the bare lxml parse's median."""
    unit = statistics.median(times["lxml"])
    return {name: statistics.median(ts) / unit for name, ts in times.items()}


def report(times: dict[str, list[float]], label: str) -> str:
    r = ratios(times)
    lines = [f"{label}", f"{'phase':<20}{'median ms':>11}{'x lxml parse':>14}"]
    for name, ts in times.items():
        lines.append(f"{name:<20}{statistics.median(ts) * 1e3:>11.3f}{r[name]:>14.2f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?", type=Path)
    ap.add_argument("--big", type=int, metavar="N", help="repeat the document's entries N times (big_document.py)")
    ap.add_argument("--rounds", type=int, default=None, help="default 60, 8 with --big")
    ap.add_argument("--python", action="store_true", help="also time the pure-Python walker and narrative")
    ap.add_argument("--no-map", action="store_true", help="parse, walk and narrative only")
    a = ap.parse_args(argv)
    path = a.file or default_source()
    if a.big:
        data, label = big_document(path.read_bytes(), a.big), f"{path.name} entries x{a.big}"
    else:
        data, label = path.read_bytes(), path.name
    rounds = a.rounds or (8 if a.big else 60)
    times = measure(phases(data, a.python, not a.no_map), rounds)
    print(report(times, f"{label}: {len(data)} bytes, {rounds} rounds, compiled={ccda2fhir.compiled}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
