"""The filters and globals a template may call: templates/FILTERS.md, which templates/README.md links.

Generated from the registry, so the guide says what the engine has: tests/test_template_guide.py
fails when the file and the registry disagree; ``python -m ccda2fhir.map.engine.guide --write``
writes it again.
"""
from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Callable

from . import registry
from .templating import templates_dir

FILE = "FILTERS.md"
_HEADER = """# Filters and globals a template may call

Generated from the engine's registry by `python -m ccda2fhir.map.engine.guide --write` (do not edit:
tests/test_template_guide.py fails when this file and the registry disagree). How to read and write
templates: [README.md](README.md).
"""
_GROUPS = (("ccda2fhir.map.datatypes", "Datatypes (a CDA datatype to a FHIR datatype)"),
           ("ccda2fhir.map.shared", "Shared by several domains (participants, statements, observation values)"),
           ("ccda2fhir.map.domains", "Clinical domains (one module each)"))


def _arguments(fn: Callable, skip_first: bool) -> str:
    """The parameters as a template writes them (names and defaults; no annotations, which
    compiled and pure-Python modules print differently)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return "..."
    if skip_first and params:
        params = params[1:]
    out = []
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            out.append(f"*{p.name}")
        elif p.kind is p.VAR_KEYWORD:
            out.append(f"**{p.name}")
        elif p.default is p.empty:
            out.append(p.name)
        else:
            out.append(f"{p.name}={p.default!r}")
    return ", ".join(out)


def _summary(fn: Callable) -> str:
    doc = inspect.getdoc(fn) or ""
    first = doc.split("\n\n")[0].replace("\n", " ").strip()
    return first.replace("|", "\\|") or "(not described yet)"


def _usage(name: str, fn: Callable, is_filter: bool) -> str:
    if is_filter:
        args = _arguments(fn, skip_first=True)
        return f"`x \\| {name}({args})`" if args else f"`x \\| {name}`"
    return f"`{name}({_arguments(fn, skip_first=False)})`"


def reference() -> str:
    """The reference section: every filter and global, grouped by layer, then module."""
    registry.load()
    rows: dict[str, list[tuple]] = {}
    for table, is_filter in ((registry.FILTERS, True), (registry.GLOBALS, False)):
        for name, fn in table.items():
            module = getattr(fn, "__module__", "") or ""
            rows.setdefault(module, []).append((name, is_filter, fn))
    lines = [_HEADER,
             f"{len(registry.FILTERS)} filters (`{{{{ x | name }}}}`) and {len(registry.GLOBALS)} globals "
             "(`{{ name(...) }}`), besides Jinja's own filters (`default`, `join`, `map`, `select`, ...).", ""]
    for prefix, title in _GROUPS:
        modules = sorted(m for m in rows if m == prefix or m.startswith(prefix + "."))
        if not modules:
            continue
        lines += [f"### {title}", ""]
        for module in modules:
            lines += [f"`{module}`", "", "| call | what it gives |", "| --- | --- |"]
            for name, is_filter, fn in sorted(rows[module], key=lambda r: (r[0], not r[1])):
                lines.append(f"| {_usage(name, fn, is_filter)} | {_summary(fn)} |")
            lines.append("")
    others = sorted(m for m in rows if not any(m == p or m.startswith(p + ".") for p, _ in _GROUPS))
    for module in others:
        lines += [f"`{module}`", "", "| call | what it gives |", "| --- | --- |"]
        lines += [f"| {_usage(n, f, i)} | {_summary(f)} |" for n, i, f in sorted(rows[module], key=lambda r: r[0])]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def reference_path() -> Path:
    """Where the generated reference lives: templates/FILTERS.md."""
    return templates_dir() / FILE


def write(path: Path | None = None) -> bool:
    """Write the reference again; whether it changed."""
    path = path or reference_path()
    new = reference()
    if path.is_file() and path.read_text() == new:
        return False
    path.write_text(new)
    return True


if __name__ == "__main__":  # pragma: no cover
    if "--write" in sys.argv[1:]:
        print("rewritten" if write() else "unchanged")
    else:
        print(reference())
