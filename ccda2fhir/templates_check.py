"""``ccda2fhir check-templates PATH``: is a templates overlay safe to convert with?

Compiles every template of the folder (syntax errors with template name and line; a template the
compiler leaves to Jinja is noted), reads its routes (a route naming a template that is not there,
routes that shadow one another), then converts sample documents with the overlay (Jinja rendering,
so an error names the template line) and checks what comes out: template errors, FHIR R4 validity
(schema, invariants, reference targets, profiles claimed), references that do not resolve in the
Bundle, and resources the overlay made that FHIR would reject for a missing required element (left
out and reported; the built-in templates over the same document are the baseline).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from jinja2 import meta

from .bulk.discover import is_document_name, walk_folder
from .errors import ConversionError
from .map.engine import SUFFIX, Overlay, OverlayError, templates_dir
from .map.engine.compiler import compile_template
from .map.engine.expressions import Unsupported
from .map.engine.routes import RouteTable, read_table
from .pipeline import convert_in_process

PATIENT = "check-templates"
_REQUIRED_DROP = "the source gives nothing for its required"
_FAILED = re.compile(r"could not map: TemplateFailure: (.+?): (.*)$", re.S)


@dataclass(frozen=True)
class Finding:
    """One thing the check found: ``where`` (a template and line, a route file, a document)."""

    where: str
    message: str
    problem: bool = True            # False: worth knowing, not wrong (an override, an unused template)

    def __str__(self) -> str:
        return f"{'problem' if self.problem else 'note'}: {self.where}: {self.message}"


@dataclass
class CheckResult:
    """What ``check_templates`` found, and over what."""

    findings: list[Finding] = field(default_factory=list)
    templates: int = 0
    routes: int = 0
    documents: int = 0
    invalid: dict = field(default_factory=dict, repr=False)   # validation problems, grouped while rendering
    failed: dict = field(default_factory=dict, repr=False)    # (where, message) -> places, while rendering
    skipped: list[str] = field(default_factory=list)           # documents the built-in conversion refuses too

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, where: str, message: str, problem: bool = True) -> None:
        finding = Finding(where, message, problem)
        if finding not in self.findings:
            self.findings.append(finding)

    def summary(self) -> str:
        return (f"{self.templates} templates, {self.routes} routes, {self.documents} documents: "
                f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}, "
                f"{len(self.findings) - len(self.problems)} note{'s' if len(self.findings) - len(self.problems) != 1 else ''}")


def sample_documents() -> list[Path]:
    """The sample documents bundled with the package (ccda2fhir/data/samples; CC0 and MIT)."""
    folder = Path(str(resources.files("ccda2fhir.data") / "samples"))
    return sorted(p for p in folder.iterdir() if is_document_name(p.name))


def documents_in(corpus: str | os.PathLike) -> list[Path]:
    """Every C-CDA file (.xml, .ccda, .cda) under a folder, as ``ccda2fhir convert`` finds them,
    in name order; or the one file named."""
    root = Path(corpus)
    if root.is_file():
        return [root]
    return sorted(walk_folder(root))


def check_templates(path: str | os.PathLike, *, corpus: str | os.PathLike | None = None,
                    code_systems: str | os.PathLike | None = None) -> CheckResult:
    """Check the templates overlay at ``path`` against ``corpus`` (default: the bundled samples)."""
    result = CheckResult()
    try:
        overlay = Overlay(path, code_systems, compiled=False)
    except OverlayError as exc:
        result.add(str(path), str(exc))
        return result
    _check_templates(overlay, result)
    table = _check_routes(overlay, result)
    if table is None:
        return result           # no routes, no rendering
    docs = documents_in(corpus) if corpus is not None else sample_documents()
    if not docs:
        result.add(str(corpus), "no C-CDA documents (.xml, .ccda, .cda) to render the templates against")
    for doc in docs:
        _check_document(overlay, doc, result)
    _grouped_findings(result)
    if result.skipped:
        result.add(f"{len(result.skipped)} document{'s' if len(result.skipped) > 1 else ''}",
                   "not checked: the built-in conversion refuses them too (not a whole C-CDA document, or not "
                   f"well-formed XML): {', '.join(result.skipped[:3])}{', ...' if len(result.skipped) > 3 else ''}",
                   problem=False)
    rendered = _with_includes(overlay, {f"{t}{SUFFIX}" for t in overlay.rendered})
    for name in sorted(set(_overlay_templates(overlay)) - rendered):
        result.add(name, "no sample document made this template render: its output is not checked", problem=False)
    return result


def _with_includes(overlay: Overlay, names: set[str]) -> set[str]:
    """These templates and those they include by a constant name, transitively."""
    env = overlay.templates().env
    todo, seen = list(names), set(names)
    while todo:
        try:
            tree = env.parse(env.loader.get_source(env, todo.pop())[0])
        except Exception:  # reported by _check_templates
            continue
        for name in meta.find_referenced_templates(tree):
            if name and name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def _overlay_templates(overlay: Overlay) -> list[str]:
    folder = overlay.folder
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob(f"*{SUFFIX}")) if folder else []


def _check_templates(overlay: Overlay, result: CheckResult) -> None:
    env = overlay.templates().env
    names = _overlay_templates(overlay)
    result.templates = len(names)
    for name in names:
        try:
            source = env.loader.get_source(env, name)[0]
            env.get_template(name)
        except Exception as exc:  # a syntax error, a template that cannot be read
            line = getattr(exc, "lineno", None)
            result.add(f"{name} line {line}" if line else name, f"{type(exc).__name__}: {exc}")
            continue
        try:
            compile_template(env, name, source)
        except Unsupported as exc:
            result.add(name, f"the compiler leaves it to Jinja (slower, same output): {exc}", problem=False)
        except Exception as exc:  # what Jinja accepts and our reading of the JSON does not
            line = getattr(exc, "lineno", None)
            result.add(f"{name} line {line}" if line else name, f"{type(exc).__name__}: {exc}")


def _check_routes(overlay: Overlay, result: CheckResult) -> RouteTable | None:
    try:
        table = read_table(overlay.folders())
    except (ValueError, KeyError) as exc:
        result.add("routes", str(exc).strip("'\""))
        return None
    env = overlay.templates().env
    builtin = templates_dir().resolve()
    checking_builtin = overlay.folder is None or overlay.folder == builtin

    def is_builtin(route) -> bool:       # routes/<file>.toml of the built-in folder
        return not checking_builtin and Path(route.source).parent.parent == builtin

    routes = {id(r): r for rs in table.by_template.values() for r in rs}
    routes.update({id(r): r for r in table.fallback.values()})
    result.routes = sum(1 for r in routes.values() if not is_builtin(r))
    for route in sorted(routes.values(), key=lambda r: r.order):
        for template in _templates_of(route):
            try:
                env.loader.get_source(env, f"{template}{SUFFIX}")
            except Exception:  # TemplateNotFound, or a file that cannot be read
                result.add(_short(route.source), f"route {route.name!r} names {template}, which is not a template")
    for tid, candidates in table.by_template.items():
        ordered = sorted(candidates, key=lambda r: r.order)
        for i, later in enumerate(ordered):
            first = next((r for r in ordered[:i] if _covers(r, later)), None)
            if first is None:
                continue
            if is_builtin(later) and not is_builtin(first):     # what an overlay route is for
                result.add(_short(first.source), f"route {first.name!r} takes templateId {tid} over the built-in "
                           f"route {later.name!r}", problem=False)
            else:
                result.add(_short(later.source), f"route {later.name!r} never applies to templateId {tid}: "
                           f"route {first.name!r} ({_short(first.source)}) comes first and matches all it matches")
    return table


def _templates_of(route) -> list[str]:
    named = [route.template] + list(route.by_mood.values()) + list(route.leaf.values())
    return [t for t in named if t]


def _covers(first, later) -> bool:
    """Whether every statement ``later`` matches (for one templateId) ``first`` matches too."""
    if first.element and first.element != later.element:
        return False
    return not first.sections or bool(later.sections) and set(later.sections) <= set(first.sections)


def _short(source: str) -> str:
    p = Path(source)
    return f"{p.parent.name}/{p.name}" if source else "routes"


def _check_document(overlay: Overlay, doc: Path, result: CheckResult) -> None:
    try:   # a lazy load: the validator needs the [check] extra, which conversion does not
        from .validate import check_bundle
    except ImportError as exc:
        raise RuntimeError(f"check-templates needs the [check] extra (pip install 'ccda2fhir[check]'): {exc}") \
            from None
    data = doc.read_bytes()
    try:
        _, base_report = convert_in_process(data, PATIENT)
    except ConversionError as exc:      # not a document the converter reads at all: nothing to check
        result.skipped.append(f"{doc.name} ({type(exc).__name__})")
        return
    result.documents += 1
    overlay.made = []
    try:
        bundle, report = convert_in_process(data, PATIENT, templates=overlay)
    except ConversionError as exc:
        result.add(doc.name, f"{type(exc).__name__}: {exc}")
        return
    finally:
        made, overlay.made = overlay.made, None
    baseline = {i.reason for i in base_report.issues}
    for issue in report.issues:
        place = f"{doc.name} line {issue.line}" if issue.line else doc.name
        if issue.level == "error":
            m = _FAILED.match(issue.reason)
            where, message = (m.group(1), m.group(2)) if m else ("conversion", issue.reason)
            result.failed.setdefault((where, message), []).append(place)
        elif _REQUIRED_DROP in issue.reason and issue.reason not in baseline:
            result.failed.setdefault(("left out", issue.reason), []).append(place)
    made_by: dict[str, set] = {}
    for template, res in made:
        if isinstance(res, dict) and res.get("id"):
            made_by.setdefault(f"{res.get('resourceType')}/{res['id']}", set()).add(f"{template}{SUFFIX}")
    for problem in check_bundle(bundle):
        by = ", ".join(sorted(made_by.get(problem.resource, ()))) or "the engine"
        key = (by, problem.resource.split("/")[0], problem.where, problem.rule)
        seen = result.invalid.setdefault(key, [problem.message, 0, []])
        seen[1] += 1
        if doc.name not in seen[2]:
            seen[2].append(doc.name)


def _grouped_findings(result: CheckResult) -> None:
    """One finding per template error (where it happened listed) and per template, element and
    rule broken (the first message as the example)."""
    for (where, message), places in result.failed.items():
        if places == [where]:
            result.add(where, message)
        else:
            shown = ", ".join(places[:3]) + (f" and {len(places) - 3} more" if len(places) > 3 else "")
            result.add(where, f"{message} ({shown})")
    result.failed.clear()
    for (by, rtype, where, rule), (message, n, docs) in result.invalid.items():
        result.add(by, f"{rtype} {where}: [{rule}] {message} ({n} resource{'s' if n > 1 else ''} in "
                       f"{', '.join(docs)})")
    result.invalid.clear()


__all__ = ["check_templates", "CheckResult", "Finding", "sample_documents", "documents_in"]
