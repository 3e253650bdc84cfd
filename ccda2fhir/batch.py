"""Converting many documents: one folder or list of files to one JSON Bundle each, in parallel."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import orjson

from .convert import convert_with_report
from .errors import ConversionError

SUFFIXES = (".xml", ".ccda", ".cda")


@dataclass(frozen=True)
class Outcome:
    """What happened to one input file."""

    source: str
    output: str | None
    summary: str | None = None
    unmapped: int = 0
    error: str | None = None
    report: dict | None = None


def find_documents(inputs: Iterable[str | Path]) -> list[tuple[Path, Path]]:
    """(file, path relative to its input folder) for each file, and each C-CDA file under each folder."""
    found = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found += [(f, f.relative_to(p)) for f in sorted(p.rglob("*"))
                      if f.is_file() and f.suffix.lower() in SUFFIXES]
        else:
            found.append((p, Path(p.name)))
    return found


def patient_id_for(template: str, path: Path) -> str:
    """The patient id for one file: the template with {stem} replaced by the file's stem."""
    return template.replace("{stem}", path.stem)


def _one(job: tuple) -> Outcome:
    src, out, patient_id, pretty, embed, want_report = job
    try:
        bundle, report = convert_with_report(src, patient_id, embed_source=embed)
    except (ConversionError, ValueError, OSError) as exc:
        return Outcome(str(src), None, error=str(exc))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(bundle, option=orjson.OPT_INDENT_2 if pretty else 0))
    return Outcome(str(src), str(out), report.summary(), len(report.unmapped()),
                   report=report.as_dict() if want_report else None)


def convert_many(inputs: Iterable[str | Path], out_dir: str | Path, *, patient_id: str = "{stem}",
                 jobs: int | None = None, pretty: bool = False, embed_source: bool = False,
                 with_report: bool = False) -> Iterator[Outcome]:
    """Convert every document to out_dir/<relative path>.json; yields one Outcome per file, in order."""
    out_dir = Path(out_dir)
    work = [(src, out_dir / rel.with_suffix(".json"), patient_id_for(patient_id, src), pretty,
             embed_source, with_report) for src, rel in find_documents(inputs)]
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(work) < 2:
        yield from map(_one, work)
        return
    # The first document is converted here, before the workers start: forked workers then share
    # its warm state (templates bound, vocabularies loaded) instead of each building it again.
    yield _one(work[0])
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(_one, work[1:], chunksize=4)
