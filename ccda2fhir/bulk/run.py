"""A bulk run: documents streamed through the worker pool, in input order, into a sink.

``BulkConversion(documents, sink, ...).run()`` converts every document in worker processes
(``ConversionPool``: each warmed once, a per-document time limit, a crash contained to its
document), writes each result to the sink as it comes back, in input order, so that the output
does not depend on which worker was faster, appends its line to the report, and keeps the
summary. A document that fails is reported and the run goes on. A KeyboardInterrupt (Ctrl-C)
stops it: no document is left half-written, the workers are stopped, the interrupt is raised
again and ``summary`` says what was done.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable

from ..errors import ConversionError
from ..limits import LIMITS
from ..patient_ids import STEM, PatientIdFrom, patient_id_for
from ..pool import ConversionPool
from .atomic import LineFile, signals_held
from .naming import OutsideRoot
from .outcome import Outcome, Summary


class OutputError(Exception):
    """The output cannot be written (a full disk, a folder that cannot be made): the run stops."""


@contextmanager
def _writing():
    try:
        yield
    except OSError as exc:
        raise OutputError(f"cannot write {exc.filename or 'the output'}: {exc.strerror or exc}") from None


class BulkConversion:
    """Convert ``documents`` (paths) into ``sink`` (ccda2fhir.bulk.sinks).

    ``patient_id``: a FHIR id for every document, a template with ``{stem}`` (each file's name
    made an id), or ``FROM_DOCUMENT``. ``jobs`` worker processes (default: every CPU), or an
    existing ``pool``; ``report``: a file to write one JSON line per document to; ``options``:
    convert()'s (limits, embed_source).
    """

    def __init__(self, documents: Iterable[str | os.PathLike], sink, *, patient_id: str | PatientIdFrom = STEM,
                 jobs: int | None = None, timeout: float | None = LIMITS.timeout,
                 report: str | os.PathLike | None = None, pool: ConversionPool | None = None, **options) -> None:
        if isinstance(patient_id, str):
            patient_id_for(patient_id, Path("x"))   # a template with no room for {stem} fails here, once
        self.documents, self.sink, self.patient_id = documents, sink, patient_id
        self.jobs, self.timeout, self.options = jobs, timeout, options
        self.report_path, self.pool = report, pool
        self.summary = Summary()

    def _jobs(self):
        for path in self.documents:
            path = Path(path)
            pid = patient_id_for(self.patient_id, path) if isinstance(self.patient_id, str) else self.patient_id
            yield (path, pid), path, pid

    def run(self, on_outcome: Callable[[Outcome], None] | None = None) -> Summary:
        """Convert everything; ``on_outcome`` is called with each document's Outcome, in input order."""
        own = self.pool is None
        pool = ConversionPool(self.jobs, timeout=self.timeout, **self.options) if own else self.pool
        report = None
        interrupted = False
        try:
            with _writing():
                report = LineFile(self.report_path) if self.report_path is not None else None
            window = 8 * pool.workers
            for (path, pid), result in pool.map(self._jobs(), max_pending=window, report=report is not None):
                outcome = self._outcome(path, pid, result)
                if report is not None:
                    with signals_held(), _writing():
                        report.write(outcome.report_line())
                self.summary.add(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
        except KeyboardInterrupt:
            interrupted = self.summary.interrupted = True
            raise
        finally:
            self.summary.finished = time.monotonic()
            self.sink.close()
            if report is not None:
                report.close()
            if own:
                pool.close(wait=not interrupted)
        return self.summary

    def _outcome(self, path: Path, pid, result) -> Outcome:
        shown = pid if isinstance(pid, str) else None
        if isinstance(result, ConversionError):
            return Outcome(str(path), shown, type(result).__name__, str(result))
        try:
            with _writing():
                written = self.sink.write(path, result)
        except OutsideRoot as exc:
            return Outcome(str(path), result.patient_id, "OutsideRoot", str(exc))
        return Outcome(str(path), result.patient_id, output=written.output, resources=result.resources,
                       written=dict(written.types), duplicates=written.duplicates,
                       conflicts=tuple(written.conflicts), unmapped=result.unmapped, summary=result.summary,
                       report=result.report)
