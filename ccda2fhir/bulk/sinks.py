"""Where converted documents go: one Bundle file each, Bundles as lines, or FHIR Bulk Data NDJSON.

Every sink takes one document's Result at a time (``write``) and says what it wrote
(``Written``). The NDJSON sinks write each ``Type/id`` once however many documents produce it:
the first document to produce an id (in input order) is the one written; a later document
whose resource has the same id but other content (a practitioner two documents describe
differently, a problem whose status changed between two documents of one patient) is not
written and is counted as a conflict, by id, so the report can say which documents were not
taken. Memory grows only with the number of distinct ids (``SeenIds``).
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ..pool import Result
from .atomic import LineFile, LineStream, replace_file, signals_held
from .naming import bundle_name
from .seen import CONFLICT, NEW, SeenIds, content_digest, id_digest

_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")


@dataclass
class Written:
    """What one document added to the output."""

    output: str | None = None                          # its Bundle file, in bundle format
    types: Counter = field(default_factory=Counter)    # resources written, by type
    duplicates: int = 0                                # resources already written, same content
    conflicts: list[str] = field(default_factory=list)  # 'Type/id' already written with other content


class BundleFiles:
    """One Bundle file per document, mirroring the input tree (``naming.bundle_name``)."""

    format = "bundle"

    def __init__(self, out_dir: str | os.PathLike, root: Path, *, pretty: bool = False) -> None:
        self.out_dir, self.root, self.pretty = Path(out_dir), root, pretty

    def write(self, source: Path, result: Result) -> Written:
        path = bundle_name(self.out_dir, self.root, source)
        data = result.bundle_json
        data = orjson.dumps(orjson.loads(data), option=orjson.OPT_INDENT_2) if self.pretty else data
        path.parent.mkdir(parents=True, exist_ok=True)
        with signals_held():
            replace_file(path, data + b"\n")
        return Written(str(path), Counter(result.types))

    def close(self) -> None:
        pass


class BundleLines:
    """Every Bundle on one line of standard output (or another descriptor), in input order."""

    format = "bundle"

    def __init__(self, fd: int = 1) -> None:
        self._out = LineStream(fd)

    def write(self, source: Path, result: Result) -> Written:
        with signals_held():
            self._out.write(result.bundle_json + b"\n")
        return Written(None, Counter(result.types))

    def close(self) -> None:
        pass


class _Ndjson:
    format = "ndjson"

    def __init__(self, seen: SeenIds | None) -> None:
        self.seen = seen if seen is not None else SeenIds()
        self.conflicts: Counter = Counter()     # conflicting ids, by type, over the run

    def _split(self, result: Result) -> tuple[dict[str, list[bytes]], Written]:
        """The lines of the resources not written yet, by type, and the account of the rest."""
        lines: dict[str, list[bytes]] = {}
        written = Written()
        for entry in orjson.loads(result.bundle_json)["entry"]:
            resource = entry["resource"]
            rtype = resource["resourceType"]
            line = orjson.dumps(resource) + b"\n"
            state = self.seen.add(id_digest(rtype, resource["id"]), content_digest(line))
            if state == NEW:
                lines.setdefault(rtype, []).append(line)
                written.types[rtype] += 1
            elif state == CONFLICT:
                written.conflicts.append(f"{rtype}/{resource['id']}")
                self.conflicts[rtype] += 1
            else:
                written.duplicates += 1
        return lines, written


class NdjsonExists(FileExistsError):
    """The output folder already holds NDJSON files of another run (``names``)."""

    def __init__(self, out_dir: Path, names: list[str]) -> None:
        more = ", ..." if len(names) > 3 else ""
        super().__init__(f"{out_dir} already holds NDJSON files ({', '.join(names[:3])}{more}); "
                         "give an empty folder or --overwrite")
        self.names = names


def ndjson_files_in(out_dir: Path) -> list[str]:
    """The names of the ``<Type>.ndjson`` files in ``out_dir``."""
    if not out_dir.is_dir():
        return []
    return sorted(p.name for p in out_dir.iterdir() if p.suffix == ".ndjson" and _TYPE.fullmatch(p.stem))


class NdjsonFiles(_Ndjson):
    """FHIR Bulk Data output: ``<Type>.ndjson`` in ``out_dir``, one resource a line, each id once.

    A folder that already holds ``<Type>.ndjson`` files is refused (NdjsonExists), so that two runs
    never mix, unless ``overwrite``: then they are deleted first."""

    def __init__(self, out_dir: str | os.PathLike, seen: SeenIds | None = None, *, overwrite: bool = False) -> None:
        super().__init__(seen)
        self.out_dir = Path(out_dir)
        old = ndjson_files_in(self.out_dir)
        if old and not overwrite:
            raise NdjsonExists(self.out_dir, old)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name in old:
            (self.out_dir / name).unlink()
        self._files: dict[str, LineFile] = {}

    def write(self, source: Path, result: Result) -> Written:
        lines, written = self._split(result)
        with signals_held():
            for rtype, group in lines.items():
                self._file(rtype).write(b"".join(group))
        return written

    def _file(self, rtype: str) -> LineFile:
        f = self._files.get(rtype)
        if f is None:
            if not _TYPE.fullmatch(rtype):   # a file name made from output: never a path
                raise ValueError(f"not a FHIR resource type: {rtype!r}")
            f = self._files[rtype] = LineFile(self.out_dir / f"{rtype}.ndjson")
        return f

    @property
    def files(self) -> list[Path]:
        """The NDJSON files written so far."""
        return sorted(f.path for f in self._files.values())

    def close(self) -> None:
        for f in self._files.values():
            f.close()


class NdjsonLines(_Ndjson):
    """Every distinct resource on one line of standard output (or another descriptor), all types
    together: for a pipe into a loader."""

    def __init__(self, fd: int = 1, seen: SeenIds | None = None) -> None:
        super().__init__(seen)
        self._out = LineStream(fd)

    def write(self, source: Path, result: Result) -> Written:
        lines, written = self._split(result)
        with signals_held():
            self._out.write(b"".join(line for group in lines.values() for line in group))
        return written

    def close(self) -> None:
        pass
