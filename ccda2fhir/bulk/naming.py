"""Where each document's Bundle goes: the input tree mirrored under the output folder.

A document's Bundle is ``OUT/<its path relative to the root>`` with ``.json`` added to the whole
name (``a/doc.xml`` -> ``OUT/a/doc.xml.json``): two different paths never give one output name,
so no document's Bundle overwrites another's (``a/doc.xml``, ``a/doc.ccda`` and ``b/doc.xml``
stay three files). The root is the deepest folder holding every input named on the command
line (a folder input itself when it is the only one); documents of a ``--from-list`` are
mirrored relative to it too, or to the current folder when no path was named, and one outside
the root is that document's error, never written elsewhere.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

SUFFIX = ".json"


class OutsideRoot(ValueError):
    """A document that is not under the root its output tree mirrors."""


def common_root(inputs: Iterable[str | os.PathLike]) -> Path:
    """The deepest folder holding every input: a folder input counts as itself, a file as its
    folder; the current folder when there are none."""
    folders = [os.path.abspath(p) if os.path.isdir(p) else os.path.dirname(os.path.abspath(p)) for p in inputs]
    return Path(os.path.commonpath(folders)) if folders else Path(os.path.abspath(os.curdir))


def bundle_name(out_dir: Path, root: Path, source: Path) -> Path:
    """``out_dir/<source relative to root>.json``; OutsideRoot when ``source`` is not under ``root``."""
    rel = os.path.relpath(os.path.abspath(source), root)
    if rel == os.curdir or rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        raise OutsideRoot(f"{source} is outside {root}, the folder the output tree mirrors; "
                          f"name a folder holding every input with --root")
    return out_dir / (rel + SUFFIX)
