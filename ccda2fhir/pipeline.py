"""One document through the phases, in this process: parse -> walk -> map -> assemble.

The public functions (ccda2fhir.convert and its siblings) call this directly, or through a worker
process of the pool when they are given a time limit; the pool's workers call it too.
"""
from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from functools import partial

from .assemble.bundle import batch_bundle
from .errors import ConversionError, InputTooLargeError, MappingError
from .limits import LIMITS
from .map.document import map_document
from .map.engine import overlay_for, using
from .parse import Source, parse, read_source
from .patient_ids import FROM_DOCUMENT, PatientIdFrom, check_patient_id, id_from_document
from .report import Issue, Report
from .walk import LimitError, section_narrative, walk

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


def convert_in_process(source: Source, patient_id: str | PatientIdFrom, *, max_bytes: int = LIMITS.max_bytes,
             max_depth: int = LIMITS.max_depth, max_attributes: int = LIMITS.max_attributes,
             max_text: int = LIMITS.max_text, embed_source: bool = False, templates=None,
             code_systems=None) -> tuple[dict, Report]:
    """The Bundle and report of one document, converted in this process (see convert_with_report)."""
    if patient_id is not FROM_DOCUMENT:
        check_patient_id(patient_id)
    overlay = overlay_for(templates, code_systems)     # made once per process and overlay
    data = read_source(source, max_bytes)
    notes: list = []
    with _cyclic_gc_paused():
        root = parse(data, max_bytes=max_bytes, max_text=max_text, max_attributes=max_attributes, notes=notes)
        if patient_id is FROM_DOCUMENT:
            patient_id, why = id_from_document(root, data)
            if why:
                notes.append((why, None))
        narrative = section_narrative if max_attributes == LIMITS.max_attributes else \
            partial(section_narrative, max_attributes=max_attributes)
        try:
            doc = walk(root, narrative, max_depth, max_attributes)
        except LimitError as exc:
            raise InputTooLargeError(exc.what, line=exc.line) from None
        options = {"embed_source": embed_source, "source_bytes": data if embed_source else None}
        try:
            with using(overlay):
                resources, report = map_document(doc, patient_id, options)
        except ConversionError:
            raise
        except Exception as exc:  # a defect met on this input: callers only ever see ConversionError
            raise MappingError(f"could not map the document: {type(exc).__name__}: {exc}") from exc
        # What parsing had to mend comes first: it concerns the whole document.
        report.issues[:0] = [Issue("warning", note, element="ClinicalDocument", line=line)
                             for note, line in notes]
        return batch_bundle(resources), report
