"""The bulk run's progress bar (tqdm) on a terminal, and its one-line error messages.

tqdm is a light hard dependency (pure Python, no dependencies of its own, about 80 KB): a new
user converting an archive gets the bar without installing an extra. The bar is drawn only when
stderr is a terminal; piped or logged runs get the error lines and the closing summary alone.
The total is counted in a thread beside the run (folders walked a second time, a list file
read), so conversions start at once; a list on standard input has no total.
"""
from __future__ import annotations

import sys
import threading

from ..bulk import Outcome, count_documents
from ..errors import one_line


def error_line(source: str, message: str) -> str:
    return one_line(f"ccda2fhir: error: {source}: {message}")


class Progress:
    """Documents done (of the total once known), documents/s and failures, on stderr."""

    def __init__(self, inputs, from_list, *, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.failed = 0
        self._total: int | None = None
        self._bar = None
        if self.enabled:
            from tqdm import tqdm
            self._bar = tqdm(total=None, unit="doc", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
            threading.Thread(target=self._count, args=(list(inputs), from_list), daemon=True,
                             name="ccda2fhir-count").start()

    def _count(self, inputs, from_list) -> None:
        try:
            self._total = count_documents(inputs, from_list)
        except OSError:
            pass

    def update(self, outcome: Outcome) -> None:
        if not outcome.ok:
            self.failed += 1
            self.write(error_line(outcome.source, outcome.error))
        if self._bar is not None:
            if self._total is not None and self._bar.total is None:
                self._bar.total = self._total
            if not outcome.ok:
                self._bar.set_postfix(failed=self.failed, refresh=False)
            self._bar.update(1)

    def write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
