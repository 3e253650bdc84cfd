"""Converting many documents: folders or lists of files to one JSON Bundle each, in worker processes."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import orjson

from .errors import ConversionError, InvalidPatientIdError
from .limits import LIMITS
from .patient_ids import MAX_LENGTH, id_from_name
from .pool import ConversionPool

SUFFIXES = (".xml", ".ccda", ".cda")
STEM = "{stem}"


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
    """The patient id for one file: the template with {stem} replaced by a valid FHIR id made from
    the file's name without its suffix (ccda2fhir.patient_ids.id_from_name), fitted so that the
    whole id stays within 64 characters."""
    count = template.count(STEM)
    if not count:
        return template
    room = (MAX_LENGTH - len(template) + count * len(STEM)) // count
    if room < 9:
        raise InvalidPatientIdError(f"--patient-id {template!r} leaves {room} characters for {STEM}; "
                                    f"an id is at most {MAX_LENGTH}")
    return template.replace(STEM, id_from_name(path.stem, room))


def convert_many(inputs: Iterable[str | Path], out_dir: str | Path, *, patient_id: str = STEM,
                 jobs: int | None = None, pretty: bool = False, with_report: bool = False,
                 timeout: float | None = LIMITS.timeout, **options) -> Iterator[Outcome]:
    """Convert every document to out_dir/<relative path>.json in ``jobs`` worker processes (default:
    CPUs); yields one Outcome per file as each finishes. A document past ``timeout`` seconds is
    stopped and reported as that document's error. ``options``: convert()'s (limits, embed_source)."""
    out_dir = Path(out_dir)
    work = find_documents(inputs)
    if not work:
        return
    patient_id_for(patient_id, Path("x"))          # a template with no room for {stem} fails once, here
    outputs = {src: out_dir / rel.with_suffix(".json") for src, rel in work}
    workers = max(1, min(jobs or os.cpu_count() or 1, len(work)))
    with ConversionPool(workers, timeout=timeout, **options) as pool:
        jobs_in = ((src, src, patient_id_for(patient_id, src)) for src, _ in work)
        for src, outcome in pool.map_unordered(jobs_in, report=with_report):
            if isinstance(outcome, ConversionError):
                yield Outcome(str(src), None, error=str(outcome))
                continue
            out = outputs[src]
            out.parent.mkdir(parents=True, exist_ok=True)
            data = outcome.bundle_json
            out.write_bytes(orjson.dumps(orjson.loads(data), option=orjson.OPT_INDENT_2) if pretty else data)
            yield Outcome(str(src), str(out), outcome.summary, outcome.unmapped, report=outcome.report)
