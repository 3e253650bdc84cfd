"""The worker side of the conversion pool: a process that warms once, then converts one document
at a time as the pool asks, answering with a Result (or the error), and retires when its memory
stays above the pool's limit."""
from __future__ import annotations

import os
import pickle
import signal
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from typing import Callable

import orjson

from ..errors import MappingError
from ..map.engine import environment, overlay_for
from ..pipeline import convert_in_process

_TRIM_ABOVE = 16 * 1024 * 1024       # growth since warm-up past which freed heap is handed back to the system


@dataclass(frozen=True)
class Result:
    """One document's conversion, as it crosses back from a worker."""

    bundle_json: bytes          # orjson bytes of the Bundle (bytes, not a dict: cheap across processes)
    resources: int
    unmapped: int
    summary: str
    types: dict[str, int]       # resources by resourceType
    report: dict | None         # report.as_dict() when asked
    patient_id: str = ""        # the Patient's id (the caller's, or the one made with FROM_DOCUMENT)
    document_id: str | None = None   # the ClinicalDocument's id as 'system|value' (for logs), when it has one


_warm = False


def warm() -> None:
    """Load what every conversion needs (data files, compiled templates) once in this process."""
    global _warm
    if _warm:
        return
    convert_in_process(resources.files("ccda2fhir.data").joinpath("warmup.xml").read_bytes(), "warm-up")
    env = environment()   # every template, not only those the warm-up document uses
    for name in env.list_templates(filter_func=lambda n: n.endswith(".j2")):
        env.get_template(name)
    _warm = True


def warm_overlay(templates=None, code_systems=None, then: Callable[[], None] | None = None) -> None:
    """A worker's initializer when the pool converts with an overlay: compile it once, before the
    first job, then run the caller's initializer (``then``)."""
    overlay = overlay_for(templates, code_systems)
    if overlay is not None:
        overlay.warm()
    if then is not None:
        then()


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it can cross to the parent; else a MappingError naming it."""
    try:
        pickle.dumps(exc)
        return exc
    except Exception:
        return MappingError(f"could not map the document: {type(exc).__name__}: {exc}")


def _document_id(bundle: dict) -> str | None:
    """The Composition's identifier (the ClinicalDocument's id) as 'system|value'."""
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Composition":
            ident = resource.get("identifier") or {}
            return "|".join(filter(None, (ident.get("system"), ident.get("value")))) or None
    return None


def run_job(data, patient_id, options: dict, want_report: bool) -> tuple[bool, object]:
    """Convert one document in this (worker) process: (True, Result) or (False, exception)."""
    try:
        bundle, report = convert_in_process(data, patient_id, **options)
        types = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
        if not isinstance(patient_id, str):   # FROM_DOCUMENT: the id the document gave
            patient_id = next(e["resource"]["id"] for e in bundle["entry"]
                              if e["resource"]["resourceType"] == "Patient")
        return True, Result(orjson.dumps(bundle), len(bundle["entry"]), len(report.unmapped()),
                            report.summary(), dict(types), report.as_dict() if want_report else None,
                            patient_id, _document_id(bundle))
    except Exception as exc:
        return False, _portable(exc)


def _rss() -> int:
    """This process's resident memory in bytes (0 where /proc does not say)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _malloc_trim() -> None:
    try:
        import ctypes
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):   # not glibc: nothing to hand back this way
        pass


def _should_retire(baseline: int, max_rss: int | None) -> bool:
    """After a document: hand freed heap back when it grew (one large document leaves the C
    allocator holding its peak), and retire when memory still stays above ``max_rss``, so that
    a long run's memory follows the documents in hand, not the largest one ever seen."""
    rss = _rss()
    if rss > baseline + _TRIM_ABOVE:
        _malloc_trim()
        rss = _rss()
    return max_rss is not None and rss > max_rss


def worker_main(conn, initializer: Callable[[], None] | None, max_rss: int | None = None) -> None:
    """A worker process's life: warm up, say ready, then one job per message until told to stop."""
    # Ctrl-C reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        warm()
        if initializer is not None:
            initializer()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops retrying
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    baseline = _rss()
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        job_id, args = msg
        ok, payload = run_job(*args)   # looked up at each call: a test initializer may wrap it
        del args
        retire = _should_retire(baseline, max_rss)
        conn.send((job_id, ok, payload, retire))
        if retire:   # the pool has already started this worker's successor
            return
