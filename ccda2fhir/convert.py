"""The public conversion API: C-CDA in, FHIR R4 batch Bundle out."""
from __future__ import annotations

import gc
import threading
from contextlib import contextmanager

import orjson

from .assemble.bundle import batch_bundle
from .errors import ConversionError, InputTooLargeError, MappingError
from .map.document import map_document
from .narrative import section_narrative
from .parse import DEFAULT_MAX_BYTES, Source, parse, read_source
from .report import Report
from .walk import DepthError, walk

DEFAULT_MAX_DEPTH = 200

_gc_lock = threading.Lock()
_gc_state = {"running": 0, "was_enabled": False}   # conversions in progress; gc before the first


@contextmanager
def _cyclic_gc_paused():
    """Pause Python's cyclic garbage collector while documents convert.

    A conversion builds trees of plain dicts and lists that reference counting frees; the cyclic
    collector would rescan all of them every few thousand allocations (a third of the time of a
    5 MB document, a tenth of a CCD's). The few cycles made meanwhile are collected after; a
    collector the caller had turned off stays off.
    """
    with _gc_lock:
        if _gc_state["running"] == 0:
            _gc_state["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_state["running"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_state["running"] -= 1
            if _gc_state["running"] == 0 and _gc_state["was_enabled"]:
                gc.enable()


def convert_with_report(source: Source, patient_id: str, *, max_bytes: int = DEFAULT_MAX_BYTES,
                        max_depth: int = DEFAULT_MAX_DEPTH,
                        embed_source: bool = False) -> tuple[dict, Report]:
    """Convert a C-CDA document; returns the Bundle and the report of what was not mapped.

    ``embed_source`` puts the source XML (base64) in the source DocumentReference.
    """
    if not isinstance(patient_id, str) or not patient_id.strip():
        raise ValueError("patient_id must be a non-empty string")
    data = read_source(source, max_bytes)
    with _cyclic_gc_paused():
        root = parse(data, max_bytes=max_bytes)
        try:
            doc = walk(root, section_narrative, max_depth)
        except DepthError as exc:
            raise InputTooLargeError(exc.what, line=exc.line) from None
        options = {"embed_source": embed_source, "source_bytes": data if embed_source else None}
        try:
            resources, report = map_document(doc, patient_id.strip(), options)
        except ConversionError:
            raise
        except Exception as exc:  # a defect met on this input: callers only ever see ConversionError
            raise MappingError(f"could not map the document: {type(exc).__name__}: {exc}") from exc
        return batch_bundle(resources), report


def convert(source: Source, patient_id: str, *, report: bool = False, **options):
    """Convert a C-CDA document (str, bytes or path) to a FHIR R4 batch Bundle (a dict).

    With ``report=True`` returns ``(bundle, report)``.
    """
    bundle, rep = convert_with_report(source, patient_id, **options)
    return (bundle, rep) if report else bundle


def convert_to_json(source: Source, patient_id: str, *, pretty: bool = False, **options) -> bytes:
    """The Bundle as JSON bytes (orjson), compact or indented."""
    bundle, _ = convert_with_report(source, patient_id, **options)
    return orjson.dumps(bundle, option=orjson.OPT_INDENT_2 if pretty else 0)
