"""The performance figures of issue 9, measured the way the issue states its targets.

    python benchmarks/figures.py [--quick] [--skip medplum,batch]

prints one line per figure with its target. Ratios are medians of timings interleaved in one
process (round-robin, so that load on a shared machine hits both sides alike); Medplum runs in a
node child process driven round-robin from here. benchmarks/test_bench_convert.py asserts the
same figures under ``pytest benchmarks --benchmark-only``.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inputs import CORPUS, ccd_path  # noqa: E402

MEDPLUM_VERSION = "5.1.10"
MEDPLUM_DIR = Path(os.environ.get("CCDA2FHIR_BENCH_CACHE", Path.home() / ".cache" / "ccda2fhir-bench"))


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str
    target: str
    ok: bool | None             # None: not measured (skipped)
    note: str = ""

    def line(self) -> str:
        shown = "skipped" if self.value is None else f"{self.value:.2f} {self.unit}"
        verdict = {True: "ok", False: "MISSED", None: "-"}[self.ok]
        return f"{self.name:<44} {shown:>16}   target {self.target:<10} {verdict}  {self.note}".rstrip()


def interleaved(fns: dict, rounds: int = 15, per_round: int = 3) -> dict:
    """Median seconds per call of each function, the functions run round-robin."""
    times: dict[str, list] = {k: [] for k in fns}
    for fn in fns.values():
        fn()                                    # warm-up
    gc.collect()
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(per_round):
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def ratio_to_parse(data: bytes, rounds: int) -> tuple[float, dict]:
    import ccda2fhir
    med = interleaved({"parse": lambda: etree.fromstring(data),
                       "convert": lambda: ccda2fhir.convert(data, "bench-patient")}, rounds)
    return med["convert"] / med["parse"], med


def ccd_ratio(rounds: int = 15) -> Figure:
    r, med = ratio_to_parse(ccd_path().read_bytes(), rounds)
    return Figure("HL7 CCD: convert / bare lxml parse", r, "x", "<= 5", r <= 5,
                  f"(convert {med['convert'] * 1e3:.1f} ms, parse {med['parse'] * 1e3:.2f} ms)")


def big_ratio(big: bytes, rounds: int = 5) -> Figure:
    r, med = ratio_to_parse(big, rounds)
    return Figure(f"~{len(big) / 1e6:.1f} MB document: convert / parse", r, "x", "<= 6", r <= 6,
                  f"(convert {med['convert'] * 1e3:.0f} ms, parse {med['parse'] * 1e3:.1f} ms)")


def _python(code: str, *args: str) -> str:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         cwd=tempfile.gettempdir(), check=True)
    return out.stdout.strip()


def peak_rss(big: bytes) -> Figure:
    """Peak RSS of a fresh process that imports ccda2fhir, converts the document and serialises it."""
    with tempfile.NamedTemporaryFile(suffix=".xml") as f:
        f.write(big)
        f.flush()
        mb = float(_python("import resource, sys, ccda2fhir\n"
                           "ccda2fhir.convert_to_json(open(sys.argv[1], 'rb').read(), 'p')\n"
                           "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)", f.name))
    return Figure("  peak RSS of the process converting it", mb, "MB", "<= 400", mb <= 400)


def first_conversion(runs: int = 5) -> Figure:
    """Import plus first conversion of the CCD in a fresh process (interpreter start excluded)."""
    code = ("import time, sys\nt = time.perf_counter()\nimport ccda2fhir\n"
            "ccda2fhir.convert(open(sys.argv[1], 'rb').read(), 'p')\n"
            "print(time.perf_counter() - t)")
    times = [float(_python(code, str(ccd_path()))) for _ in range(runs)]
    ms = statistics.median(times) * 1e3
    return Figure("import + first conversion, fresh process", ms, "ms", "<= 300", ms <= 300)


def _medplum_package() -> Path | None:
    """@medplum/ccda installed with npm into the benchmark cache (once); None when impossible."""
    marker = MEDPLUM_DIR / "node_modules" / "@medplum" / "ccda" / "package.json"
    if marker.is_file():
        return MEDPLUM_DIR
    if not (shutil.which("node") and shutil.which("npm")):
        return None
    MEDPLUM_DIR.mkdir(parents=True, exist_ok=True)
    if not (MEDPLUM_DIR / "package.json").exists():
        (MEDPLUM_DIR / "package.json").write_text('{"name": "ccda2fhir-bench", "private": true}\n')
    done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", f"@medplum/ccda@{MEDPLUM_VERSION}"],
                          cwd=MEDPLUM_DIR, capture_output=True, text=True)
    return MEDPLUM_DIR if done.returncode == 0 and marker.is_file() else None


def medplum(rounds: int = 15, per_round: int = 3) -> Figure:
    name = f"@medplum/ccda {MEDPLUM_VERSION} (node) / ccda2fhir, HL7 CCD"
    if not shutil.which("node"):
        return Figure(name, None, "x", ">= 3", None, "skipped: node is not installed")
    package = _medplum_package()
    if package is None:
        return Figure(name, None, "x", ">= 3", None,
                      f"skipped: could not install @medplum/ccda@{MEDPLUM_VERSION} with npm into {MEDPLUM_DIR}")
    import ccda2fhir
    data = ccd_path().read_bytes()
    node = subprocess.Popen(["node", str(Path(__file__).with_name("medplum_bench.mjs")), str(package),
                             str(ccd_path())], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        if node.stdout.readline().strip() != "ready":
            node.stdin.close()
            why = [ln for ln in node.stderr.read().splitlines() if "Error" in ln and len(ln) < 300]
            return Figure(name, None, "x", ">= 3", None, "skipped: Medplum could not convert the CCD: "
                          + (why[0] if why else "no reason given"))
        ours, theirs = [], []
        ccda2fhir.convert(data, "p")
        for _ in range(rounds):
            node.stdin.write(f"{per_round}\n")
            node.stdin.flush()
            theirs += [float(x) / 1e3 for x in node.stdout.readline().split()]
            for _ in range(per_round):
                t = time.perf_counter()
                ccda2fhir.convert(data, "p")
                ours.append(time.perf_counter() - t)
        node.stdin.write("quit\n")
        node.stdin.flush()
    finally:
        node.stdin.close()
        node.wait(timeout=30)
    r = statistics.median(theirs) / statistics.median(ours)
    return Figure(name, r, "x", ">= 3", r >= 3,
                  f"(Medplum {statistics.median(theirs) * 1e3:.1f} ms, ccda2fhir {statistics.median(ours) * 1e3:.1f} ms)")


def batch_scaling(corpus: Path = CORPUS, rounds: int = 2) -> Figure:
    """Wall time of `ccda2fhir convert CORPUS --jobs 1` over `--jobs 2`, each the best of
    ``rounds`` runs taken in turn (a second core busy with other work makes any one run slow)."""
    name = "batch: --jobs 1 time / --jobs 2 time"
    if not corpus.is_dir():
        return Figure(name, None, "x", ">= 1.8", None, f"skipped: no corpus at {corpus}")
    wall: dict[int, float] = {}
    for _ in range(rounds):
        for jobs in (1, 2):
            with tempfile.TemporaryDirectory() as out:
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "ccda2fhir", "convert", str(corpus), "-o", out,
                                "--jobs", str(jobs)], capture_output=True, check=False,
                               cwd=tempfile.gettempdir())
                wall[jobs] = min(wall.get(jobs, float("inf")), time.perf_counter() - t)
    r = wall[1] / wall[2]
    return Figure(name, r, "x", ">= 1.8", r >= 1.8, f"({wall[1]:.1f} s / {wall[2]:.1f} s, best of {rounds})")


def all_figures(quick: bool = False, skip: set = frozenset()) -> list[Figure]:
    from big_document import big_ccd
    rounds = 5 if quick else 15
    figures = [ccd_ratio(rounds)]
    big = big_ccd()
    figures += [big_ratio(big, 3 if quick else 5), peak_rss(big), first_conversion(3 if quick else 5)]
    if "medplum" not in skip:
        figures.append(medplum(rounds))
    if "batch" not in skip:
        figures.append(batch_scaling())
    return figures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer rounds")
    ap.add_argument("--skip", default="", help="comma-separated: medplum,batch")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    a = ap.parse_args(argv)
    figures = all_figures(a.quick, set(filter(None, a.skip.split(","))))
    for f in figures:
        print(f.line())
    if a.json:
        a.json.write_text(json.dumps([f.__dict__ for f in figures], indent=1))
    return 0 if all(f.ok is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
