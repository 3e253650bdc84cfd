"""Median time of each phase of a conversion (parse, walk, map, assemble, serialise), for one or
more checkouts measured in turn, so that a before/after comparison sees the same machine load.

    python benchmarks/compare_checkouts.py                       # this checkout
    python benchmarks/compare_checkouts.py OLD_CHECKOUT .        # before / after, interleaved
    python benchmarks/compare_checkouts.py --document big.xml .  # another document

Each checkout is measured in its own process (its own ccda2fhir on sys.path); the processes run
round-robin --rounds times and the medians of all rounds are printed in milliseconds. CPU time
(process_time) is used: on a shared machine it is steadier than wall time.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inputs import ccd_path  # noqa: E402

PHASES = ("bare lxml parse", "parse", "walk + narrative", "map", "assemble", "serialise", "convert")

_MEASURE = r'''
import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import orjson
from lxml import etree
import ccda2fhir
from ccda2fhir.assemble.bundle import batch_bundle
from ccda2fhir.map.document import map_document
from ccda2fhir.parse import parse
from ccda2fhir.walk import section_narrative, walk   # the narrative convert uses (compiled when built)
data = open(sys.argv[2], "rb").read()
n = int(sys.argv[3])
root = parse(data)
doc = walk(root, section_narrative)
resources, _ = map_document(doc, "bench-patient")
bundle = batch_bundle(resources)
ccda2fhir.convert(data, "bench-patient")
steps = {
    "bare lxml parse": lambda: etree.fromstring(data),
    "parse": lambda: parse(data),
    "walk + narrative": lambda: walk(root, section_narrative),
    "map": lambda: map_document(doc, "bench-patient"),
    "assemble": lambda: batch_bundle(resources),
    "serialise": lambda: orjson.dumps(bundle),
    "convert": lambda: ccda2fhir.convert(data, "bench-patient"),
}
out = {}
for name, fn in steps.items():
    times = []
    for _ in range(n):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    out[name] = statistics.median(times) * 1e3
print(json.dumps(out))
'''


def measure(checkout: Path, document: Path, n: int) -> dict:
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(checkout.resolve()), str(document), str(n)],
                          capture_output=True, text=True, cwd=checkout)
    if done.returncode:
        raise SystemExit(f"{checkout}: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkouts", nargs="*", type=Path, default=[Path(__file__).resolve().parents[1]])
    ap.add_argument("--document", type=Path, default=ccd_path())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-n", type=int, default=20, help="timed calls per phase per round")
    a = ap.parse_args(argv)
    runs: dict[Path, list] = {c: [] for c in a.checkouts}
    for _ in range(a.rounds):
        for c in a.checkouts:
            runs[c].append(measure(c, a.document, a.n))
    print(f"{'phase (ms, median)':<20}" + "".join(f"{str(c)[-28:]:>30}" for c in a.checkouts))
    for phase in PHASES:
        print(f"{phase:<20}" + "".join(f"{statistics.median(r[phase] for r in runs[c]):>30.2f}"
                                       for c in a.checkouts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
