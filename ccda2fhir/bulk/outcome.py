"""What happened to each document of a bulk run, its line in the report, and the run's summary."""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import orjson


@dataclass(frozen=True)
class Outcome:
    """One document of a bulk run: converted (and what was written) or failed (and why)."""

    source: str
    patient_id: str | None
    error_class: str | None = None          # the ConversionError's class name when it failed
    error: str | None = None                # its one-line message
    output: str | None = None               # the Bundle file (bundle format)
    resources: int = 0                      # resources in its Bundle
    written: dict = field(default_factory=dict)   # resources written, by type
    duplicates: int = 0                     # NDJSON: already written by an earlier document
    conflicts: tuple = ()                   # NDJSON: 'Type/id' an earlier document wrote otherwise
    unmapped: int = 0
    summary: str | None = None              # the conversion report's one-line summary
    report: dict | None = None              # the conversion report (entries, resources, issues)

    @property
    def ok(self) -> bool:
        return self.error is None

    def report_line(self) -> bytes:
        """This document's line of ``--report``: JSON, every issue of its conversion report."""
        line = {"source": self.source, "patient_id": self.patient_id,
                "status": "converted" if self.ok else "failed"}
        if self.ok:
            line.update(output=self.output, resources=self.resources, written=sum(self.written.values()),
                        duplicates=self.duplicates, conflicts=list(self.conflicts), unmapped=self.unmapped)
            if self.report is not None:
                line.update(entries=self.report["entries"], issues=self.report["issues"])
            line = {k: v for k, v in line.items() if v is not None}
        else:
            line["error"] = {"class": self.error_class, "message": self.error}
        return orjson.dumps(line) + b"\n"


@dataclass
class Summary:
    """A bulk run so far: documents, resources written by type, issues, time."""

    documents: int = 0
    failed: int = 0
    written: Counter = field(default_factory=Counter)
    duplicates: int = 0
    conflicts: Counter = field(default_factory=Counter)   # by type
    unmapped: int = 0
    interrupted: bool = False
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def add(self, outcome: Outcome) -> None:
        self.documents += 1
        if not outcome.ok:
            self.failed += 1
            return
        self.written.update(outcome.written)
        self.duplicates += outcome.duplicates
        self.conflicts.update(c.split("/", 1)[0] for c in outcome.conflicts)
        self.unmapped += outcome.unmapped

    @property
    def converted(self) -> int:
        return self.documents - self.failed

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        """Documents per second."""
        return self.documents / self.elapsed if self.elapsed > 0 else 0.0

    def lines(self, destination: str | None = None) -> list[str]:
        """The closing summary, a few lines for a person."""
        into = f" into {destination}" if destination else ""
        head = f"converted {self.converted} of {self.documents} documents{into}"
        if self.failed:
            head += f" ({self.failed} failed)"
        head += f" in {self.elapsed:.1f} s, {self.rate:.1f} documents/s"
        if self.interrupted:
            head = "interrupted: " + head + "; every file written holds whole lines"
        total = sum(self.written.values())
        by_type = ", ".join(f"{t} {n}" for t, n in sorted(self.written.items(), key=lambda kv: (-kv[1], kv[0])))
        out = [head, f"{total} resources written" + (f": {by_type}" if by_type else "")]
        if self.duplicates or self.conflicts:
            extra = f"{self.duplicates} resources already written by an earlier document (written once)"
            if self.conflicts:
                kinds = ", ".join(f"{t} {n}" for t, n in sorted(self.conflicts.items()))
                extra += (f"; {sum(self.conflicts.values())} ids an earlier document wrote with other content, "
                          f"the first kept ({kinds}; --report names them)")
            out.append(extra)
        if self.conflicts.get("Patient"):
            out.append(f"warning: {self.conflicts['Patient']} Patient ids were given to documents that describe the "
                       "patient differently (the first kept): check that each id names one person (with {stem}, "
                       "the same file name in two folders gives one id)")
        out.append(f"{self.unmapped} unmapped entries" + (" (--report lists every issue)" if self.unmapped else ""))
        return out
