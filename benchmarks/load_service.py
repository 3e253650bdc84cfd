"""Load on the service: one client, then 200 requests from 8 concurrent clients, each POSTing the HL7
C-CDA R2.1 CCD (the bundled HL7 example CCD when ../shared is absent) over keep-alive connections.

    python benchmarks/load_service.py [--requests 200] [--clients 8] [--single 50] [--url URL]

Starts `ccda2fhir serve --port 0` on 127.0.0.1 (one worker per core) unless --url names a running
one. Prints docs/s, p50/p99 latency per phase and the server's memory (the service process and its
workers, from /proc); exits 1 when a request failed, when 8 clients get less than TARGET_SPEEDUP
times the throughput of one, or when the service's memory grew past MEMORY_GROWTH_MB.
"""
from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import orjson

ROOT = Path(__file__).resolve().parents[1]
HL7_CCD = ROOT.parent / "shared" / "corpus" / "hl7-cda-ccda-2.1" / "examples" / "C-CDA_R2-1_CCD.xml"
SAMPLE = ROOT / "tests" / "fixtures" / "hl7-c-cda-examples" / "CCD.xml"
PATH = "/convert/v1/ccda/to/fhir"

# Targets on the 2-core reference machine.
TARGET_SPEEDUP = 1.5        # 8 clients' docs/s over one client's
MEMORY_GROWTH_MB = 100      # the service's memory (all its processes) after the run, over after warm-up


def _rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, in MB (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry.name))
            except OSError:
                continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
        todo += children.get(p, [])
    return total / 1024


def _client(host: str, port: int, body: bytes, count: int, latencies: list, failures: list,
            lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=120)
    for _ in range(count):
        start = time.perf_counter()
        try:
            conn.request("POST", f"{PATH}?patientId=load-patient", body=body,
                         headers={"Content-Type": "application/xml"})
            resp = conn.getresponse()
            data = resp.read()
            ok = resp.status == 200 and data.startswith(b'{"resourceType":"Bundle"')
        except (OSError, http.client.HTTPException) as exc:
            ok, data = False, repr(exc).encode()
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=120)
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)
            if not ok:
                failures.append(data[:200])
    conn.close()


def phase(host: str, port: int, body: bytes, requests: int, clients: int) -> dict:
    """Send ``requests`` documents from ``clients`` concurrent connections; docs/s and latencies."""
    latencies: list[float] = []
    failures: list[bytes] = []
    lock = threading.Lock()
    shares = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
    threads = [threading.Thread(target=_client, args=(host, port, body, n, latencies, failures, lock))
               for n in shares]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ordered = sorted(latencies)
    return {"clients": clients, "requests": requests, "failed": len(failures), "seconds": round(wall, 2),
            "docs_per_s": round(requests / wall, 1),
            "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
            "first_failures": [f.decode("latin-1") for f in failures[:3]]}


def _start_server(log: Path) -> tuple[subprocess.Popen, int]:
    """`ccda2fhir serve --port 0` as deployed (access log on), and the port its 'listening' line names."""
    with open(log, "wb") as err:
        process = subprocess.Popen([sys.executable, "-m", "ccda2fhir", "serve", "--port", "0"], stderr=err,
                                   stdout=subprocess.DEVNULL, cwd=ROOT)
    end = time.monotonic() + 120
    while time.monotonic() < end:
        for line in log.read_bytes().splitlines():
            if b'"listening"' in line:
                return process, orjson.loads(line)["port"]
        if process.poll() is not None:
            raise SystemExit(f"the server exited: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def run(requests: int = 200, clients: int = 8, single: int = 50, url: str | None = None) -> dict:
    """Both phases against ``url`` (or a server started here); the figures as a dict."""
    body = (HL7_CCD if HL7_CCD.is_file() else SAMPLE).read_bytes()
    load_before = os.getloadavg()[0]    # other work on the machine takes the cores the speedup needs
    process = None
    log = Path(tempfile.mkstemp(prefix="ccda2fhir-load-", suffix=".log")[1])
    if url:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or 80
    else:
        process, port = _start_server(log)
        host = "127.0.0.1"
    try:
        phase(host, port, body, 2 * clients, clients)              # warm: connections, worker caches
        memory_before = _rss_mb(process.pid) if process else None
        one = phase(host, port, body, single, 1)
        many = phase(host, port, body, requests, clients)
        memory_after = _rss_mb(process.pid) if process else None
    finally:
        if process is not None:
            process.terminate()
            process.wait(60)
        log.unlink(missing_ok=True)
    return {"document": (HL7_CCD if HL7_CCD.is_file() else SAMPLE).name, "bytes": len(body), "one_client": one,
            "many_clients": many, "speedup": round(many["docs_per_s"] / one["docs_per_s"], 2),
            "load_average_before": round(load_before, 2), "cpus": os.cpu_count(),
            "memory_mb_after_warmup": memory_before and round(memory_before),
            "memory_mb_after_run": memory_after and round(memory_after)}


def problems(figures: dict) -> list[str]:
    """What misses the targets (empty when all are met)."""
    out = []
    for name in ("one_client", "many_clients"):
        if figures[name]["failed"]:
            out.append(f"{figures[name]['failed']} requests failed ({name}): {figures[name]['first_failures']}")
    if figures["speedup"] < TARGET_SPEEDUP:
        out.append(f"{figures['many_clients']['clients']} clients get {figures['speedup']}x one client's "
                   f"throughput, under {TARGET_SPEEDUP}x")
    before, after = figures["memory_mb_after_warmup"], figures["memory_mb_after_run"]
    if before is not None and after - before > MEMORY_GROWTH_MB:
        out.append(f"the service's memory grew from {before} MB to {after} MB")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--single", type=int, default=50, help="requests of the one-client phase")
    ap.add_argument("--url", help="a running service (default: start one)")
    a = ap.parse_args(argv)
    figures = run(a.requests, a.clients, a.single, a.url)
    print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
    missed = problems(figures)
    for p in missed:
        print(f"MISSED: {p}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
