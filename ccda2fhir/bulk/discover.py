"""Which documents a bulk run converts: files, folders walked as a stream, and lists of paths.

Nothing here lists a whole tree: a folder is read one directory at a time with os.scandir, so
the first conversion starts as soon as the first file is found, and memory holds one
directory's subfolder names at most. Files come in the order the file system lists them;
for an order of your choosing, give a list (``find DIR -name '*.xml' | sort``).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable, Iterator, TextIO

SUFFIXES = (".xml", ".ccda", ".cda")
STDIN = "-"


def is_document_name(name: str) -> bool:
    """Whether a file found in a folder is taken for a C-CDA document (by its suffix)."""
    return name.lower().endswith(SUFFIXES)


def walk_folder(folder: str | os.PathLike) -> Iterator[Path]:
    """Every C-CDA file under ``folder``, recursively, as the file system lists them. Symbolic
    links to folders are not followed (no loops); unreadable folders are skipped."""
    todo = [os.fspath(folder)]
    while todo:
        current = todo.pop()
        subfolders = []
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            subfolders.append(entry.path)
                        elif is_document_name(entry.name) and entry.is_file():
                            yield Path(entry.path)
                    except OSError:   # vanished while listed
                        continue
        except OSError:
            continue
        todo.extend(reversed(subfolders))   # depth first, in listing order


def read_list(source: str | os.PathLike | TextIO) -> Iterator[Path]:
    """The paths of a list, one a line (``-``: standard input); blank lines are skipped and
    nothing but the line end is stripped, so names may hold spaces."""
    if isinstance(source, (str, os.PathLike)) and os.fspath(source) != STDIN:
        with open(source, encoding="utf-8", errors="surrogateescape", newline=None) as f:
            yield from _lines(f)
    else:
        stream = sys.stdin if isinstance(source, (str, os.PathLike)) else source
        yield from _lines(stream)


def _lines(stream: TextIO) -> Iterator[Path]:
    for line in stream:
        line = line.rstrip("\r\n")
        if line.strip():
            yield Path(line)


def iter_documents(inputs: Iterable[str | os.PathLike], from_list=None) -> Iterator[Path]:
    """The documents of a run, streamed: each input file as given, each folder walked, then the
    list's paths (``from_list``: a file name, ``-`` for standard input, or an open text stream)."""
    for item in inputs:
        if os.path.isdir(item):
            yield from walk_folder(item)
        else:
            yield Path(item)
    if from_list is not None:
        yield from read_list(from_list)


def count_documents(inputs: Iterable[str | os.PathLike], from_list=None) -> int | None:
    """How many documents ``iter_documents`` will give, or None when that cannot be known without
    consuming the input (a list on standard input). Walks the folders a second time: call it
    beside the run (the progress bar does, in a thread), never before it."""
    if from_list is not None and (not isinstance(from_list, (str, os.PathLike)) or os.fspath(from_list) == STDIN):
        return None
    total = 0
    for item in inputs:
        total += sum(1 for _ in walk_folder(item)) if os.path.isdir(item) else 1
    if from_list is not None:
        total += sum(1 for _ in read_list(from_list))
    return total
