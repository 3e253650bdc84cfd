"""The bulk CLI on the whole corpus: documents/s with 1 and 2 jobs, and memory over the run.

    python benchmarks/bulk.py                 # 1 and 2 jobs, NDJSON, the corpus twice
    python benchmarks/bulk.py --passes 3 --jobs 2 --format bundle --documents-only

Runs `ccda2fhir convert --from-list LIST --format ndjson -o TMP --jobs N --report R` in a child
process and samples, ten times a second, the memory of its whole process tree (the CLI, the fork
server and the workers; PSS where the kernel gives it, so pages the forked workers share are
counted once) and how many documents are done (report lines). The corpus is listed --passes
times: prints docs/s and the peak memory of each pass. Memory is flat when a later pass peaks no
higher than the first (the NDJSON id set is the one thing that grows, 16 to 43 bytes per distinct
resource, and only in the first pass: later passes repeat its ids).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from corpus_hash import CORPUS, corpus_files  # noqa: E402


def corpus_documents(corpus: Path) -> list[Path]:
    """The corpus files that are whole documents (a ClinicalDocument in their first 4,000 bytes)."""
    return [p for p in corpus_files(corpus) if b"ClinicalDocument" in p.read_bytes()[:4000]]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _memory(pid: int) -> int:
    """Bytes: PSS (else RSS) of ``pid`` and every process below it."""
    tree, todo, total = _children(), [pid], 0
    while todo:
        p = todo.pop()
        todo.extend(tree.get(p, []))
        try:
            text = Path(f"/proc/{p}/smaps_rollup").read_text()
            key = "Pss:"
        except OSError:
            try:
                text, key = Path(f"/proc/{p}/status").read_text(), "VmRSS:"
            except OSError:
                continue
        for line in text.splitlines():
            if line.startswith(key):
                total += int(line.split()[1]) * 1024
                break
    return total


def run(files: list[Path], jobs: int, fmt: str, passes: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        listing, report, out = Path(tmp) / "list.txt", Path(tmp) / "report.jsonl", Path(tmp) / "out"
        listing.write_text("".join(f"{p}\n" for p in files) * passes)
        total = len(files) * passes
        cmd = [sys.executable, "-m", "ccda2fhir", "convert", "--from-list", str(listing), "--format", fmt,
               "-o", str(out), "--jobs", str(jobs), "--report", str(report)]
        if fmt == "bundle":
            cmd += ["--root", "/"]
        start = time.monotonic()
        errors = open(Path(tmp) / "stderr.txt", "w+b")   # a file, not a pipe nobody reads while it runs
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errors)
        samples: list[tuple[int, int]] = []       # (documents done, bytes)
        while proc.poll() is None:
            done = report.read_bytes().count(b"\n") if report.exists() else 0
            samples.append((done, _memory(proc.pid)))
            time.sleep(0.1)
        elapsed = time.monotonic() - start
        errors.seek(0)
        stderr = errors.read().decode()
        errors.close()
    per_pass = []
    n = len(files)
    for k in range(passes):
        in_pass = [m for d, m in samples if k * n <= d < (k + 1) * n or (k == passes - 1 and d >= passes * n)]
        per_pass.append(round(max(in_pass) / 2**20) if in_pass else None)
    return {"jobs": jobs, "documents": total, "seconds": elapsed, "docs_per_s": total / elapsed,
            "peak_mb_by_pass": per_pass, "exit": proc.returncode,
            "summary": [line for line in stderr.splitlines() if "error:" not in line]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--jobs", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--format", choices=("ndjson", "bundle"), default="ndjson")
    ap.add_argument("--passes", type=int, default=2, help="times the corpus is listed (default: 2)")
    ap.add_argument("--documents-only", action="store_true",
                    help="only whole C-CDA documents (a ClinicalDocument), not the corpus's fragments")
    a = ap.parse_args(argv)
    if not a.corpus.is_dir():
        print(f"no corpus at {a.corpus}", file=sys.stderr)
        return 2
    files = corpus_documents(a.corpus) if a.documents_only else corpus_files(a.corpus)
    for jobs in a.jobs:
        r = run(files, jobs, a.format, a.passes)
        print(f"jobs {jobs}: {r['documents']} documents in {r['seconds']:.1f} s = {r['docs_per_s']:.1f} docs/s; "
              f"peak MB of the process tree in each pass over the corpus: {r['peak_mb_by_pass']}")
        for line in r["summary"]:
            print("   ", line if len(line) < 300 else line[:300] + " ...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
