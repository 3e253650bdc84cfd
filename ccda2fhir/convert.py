"""The public conversion API: C-CDA in, FHIR R4 batch Bundle out (in this process, or in a worker
process of the shared pool when a time limit is given)."""
from __future__ import annotations

import os
from pathlib import Path

import orjson

from .parse import Source
from .patient_ids import PatientIdFrom
from .pipeline import convert_in_process
from .pool import shared_pool
from .report import Report


def convert_with_report(source: Source, patient_id: str | PatientIdFrom, *, timeout: float | None = None,
                        **options) -> tuple[dict, Report]:
    """Convert a C-CDA document; returns the Bundle and the report of what was not mapped.

    ``source`` is the document itself (str or bytes) or a path (os.PathLike). ``patient_id`` is a
    valid FHIR id, or ``FROM_DOCUMENT`` for one made from the recordTarget (see
    ``patient_ids.id_from_document``). Options: the
    limits (``max_bytes``, ``max_depth``, ``max_attributes``, ``max_text``; see ccda2fhir.limits)
    and ``embed_source`` (the source XML, base64, in the source DocumentReference); ``templates``
    (a folder of templates and routes/*.toml over the built-in ones) and ``code_systems`` (a
    terminology file or folder over ccda2fhir/data's; see templates/README.md). With
    ``timeout`` (seconds) the conversion runs in a worker process that is stopped past it
    (raising ConversionTimeout); without, in this process.
    """
    if timeout is None:
        return convert_in_process(source, patient_id, **options)
    result = shared_pool().submit(source, patient_id, timeout=timeout, report=True, **options).result()
    return orjson.loads(result.bundle_json), Report.from_dict(result.report)


def convert(source: Source, patient_id: str | PatientIdFrom, *, report: bool = False, **options):
    """Convert a C-CDA document (str or bytes: the document itself; or a pathlib.Path) to a FHIR R4
    batch Bundle (a dict).

    With ``report=True`` returns ``(bundle, report)``; with ``timeout=S`` a conversion past S
    seconds is stopped (ConversionTimeout); ``templates=PATH``, ``code_systems=FILE``: overlays
    over the built-in mapping (see convert_with_report).
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
        return shared_pool().submit(source, patient_id, timeout=timeout, **options).result().bundle_json
    bundle, _ = convert_with_report(source, patient_id, timeout=timeout, **options)
    return orjson.dumps(bundle, option=orjson.OPT_INDENT_2 if pretty else 0)
