"""The public conversion API: C-CDA in, FHIR R4 batch Bundle out."""
from __future__ import annotations

import gc
import os
import threading
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import orjson

from .assemble.bundle import batch_bundle
from .errors import ConversionError, InputTooLargeError, MappingError
from .limits import LIMITS
from .map.document import map_document
from .parse import Source, parse, read_source
from .patient_ids import FROM_DOCUMENT, PatientIdFrom, check_patient_id, id_from_document
from .report import Issue, Report
from .walk import LimitError, section_narrative, walk

DEFAULT_MAX_DEPTH = LIMITS.max_depth

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


def convert_with_report(source: Source, patient_id: str | PatientIdFrom, *, timeout: float | None = None,
                        **options) -> tuple[dict, Report]:
    """Convert a C-CDA document; returns the Bundle and the report of what was not mapped.

    ``source`` is the document itself (str or bytes) or a path (os.PathLike). ``patient_id`` is a
    valid FHIR id, or ``FROM_DOCUMENT`` for one made from the recordTarget (see
    ``patient_ids.id_from_document``). Options: the
    limits (``max_bytes``, ``max_depth``, ``max_attributes``, ``max_text``; see ccda2fhir.limits)
    and ``embed_source`` (the source XML, base64, in the source DocumentReference). With
    ``timeout`` (seconds) the conversion runs in a worker process that is stopped past it
    (raising ConversionTimeout); without, in this process.
    """
    if timeout is None:
        return _convert(source, patient_id, **options)
    from .pool import shared_pool
    result = shared_pool().submit(source, patient_id, timeout=timeout, report=True, **options).result()
    return orjson.loads(result.bundle_json), Report.from_dict(result.report)


def _convert(source: Source, patient_id: str | PatientIdFrom, *, max_bytes: int = LIMITS.max_bytes,
             max_depth: int = LIMITS.max_depth, max_attributes: int = LIMITS.max_attributes,
             max_text: int = LIMITS.max_text, embed_source: bool = False) -> tuple[dict, Report]:
    if patient_id is not FROM_DOCUMENT:
        check_patient_id(patient_id)
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
            resources, report = map_document(doc, patient_id, options)
        except ConversionError:
            raise
        except Exception as exc:  # a defect met on this input: callers only ever see ConversionError
            raise MappingError(f"could not map the document: {type(exc).__name__}: {exc}") from exc
        # What parsing had to mend comes first: it concerns the whole document.
        report.issues[:0] = [Issue("warning", note, element="ClinicalDocument", line=line)
                             for note, line in notes]
        return batch_bundle(resources), report


def convert(source: Source, patient_id: str | PatientIdFrom, *, report: bool = False, **options):
    """Convert a C-CDA document (str or bytes: the document itself; or a pathlib.Path) to a FHIR R4
    batch Bundle (a dict).

    With ``report=True`` returns ``(bundle, report)``; with ``timeout=S`` a conversion past S
    seconds is stopped (ConversionTimeout).
    """
    bundle, rep = convert_with_report(source, patient_id, **options)
    return (bundle, rep) if report else bundle


def convert_file(path: str | os.PathLike, patient_id: str | PatientIdFrom, **options):
    """Convert the C-CDA document in the file at ``path``; as ``convert`` otherwise."""
    return convert(Path(path), patient_id, **options)


def convert_to_json(source: Source, patient_id: str | PatientIdFrom, *, pretty: bool = False, timeout: float | None = None,
                    **options) -> bytes:
    """The Bundle as JSON bytes (orjson), compact or indented."""
    if timeout is not None and not pretty:  # the worker's bytes as they are
        from .pool import shared_pool
        return shared_pool().submit(source, patient_id, timeout=timeout, **options).result().bundle_json
    bundle, _ = convert_with_report(source, patient_id, timeout=timeout, **options)
    return orjson.dumps(bundle, option=orjson.OPT_INDENT_2 if pretty else 0)
