"""Overlays: a folder of templates and routes, and a terminology file, used over the built-in ones.

An overlay folder is laid out as templates/ is: ``resource/Observation.json.j2`` there replaces the
built-in template of that name, ``routes/*.toml`` add routes (or win for the same templateId), and
``amend/<resourceType>.json.j2`` adds members to every resource of that type, whatever made it. Its
templates go through the same compiler and cache as the built-in ones, in an environment of their
own: two overlays in one process never see each other's templates, routes or terminology. Each is
made once per process (``overlay_for``), so a pool worker pays the compilation once per overlay.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Callable

import jinja2
import orjson

from .routes import RouteTable, builtin_table, read_table
from .scope import active, using
from .templating import SUFFIX, Templates, build as builtin_build, compiled_at_build, make_environment, templates_dir


class OverlayError(ValueError):
    """An overlay that cannot be used: a path that is not there, a file that is not JSON/TOML."""


AMEND = "amend"        # amend/<resourceType>.json.j2: added to every resource of that type


class TemplateFailure(Exception):
    """A template of an overlay failed: the message names it (and the line, when known)."""


def where_in_template(exc: BaseException, template: str) -> str:
    """``resource/X.json.j2 line N`` of the innermost Jinja-rendered template frame of a traceback,
    else the template's name."""
    found = f"{template}{SUFFIX}"
    tb = exc.__traceback__
    while tb is not None:
        tpl = tb.tb_frame.f_globals.get("__jinja_template__")
        if tpl is not None:
            found = f"{tpl.name or template} line {tpl.get_corresponding_lineno(tb.tb_lineno)}"
        tb = tb.tb_next
    lineno = getattr(exc, "lineno", None)       # a TemplateSyntaxError says where itself
    if getattr(exc, "name", None) and lineno:
        found = f"{exc.name} line {lineno}"
    return found


class Overlay:
    """One overlay: templates over the built-in ones, and terminology over the built-in data."""

    def __init__(self, templates: str | Path | None = None, code_systems: str | Path | None = None, *,
                 compiled: bool = True) -> None:
        self.folder = _existing(templates, "templates overlay", folder=True)
        self.terminology_path = _existing(code_systems, "code systems overlay", folder=None)
        self.compiled = compiled            # False: every template rendered by Jinja (check-templates)
        self._lock = threading.RLock()
        self._templates: Templates | None = None
        self._routes: RouteTable | None = None
        self._builders: dict[str, Callable] = {}
        self._derived: dict[str, object] = {}
        self._amends: dict[str, bool] = {}  # amend/<Type> -> whether the overlay has that template
        self.rendered: set[str] = set()     # the templates built so far (check-templates reports the rest)
        self.made: list | None = None       # check-templates: (template, resource) of each build
        self.terminology = read_terminology(self.terminology_path) if self.terminology_path else {}

    def __repr__(self) -> str:
        return f"Overlay(templates={self.folder}, code_systems={self.terminology_path})"

    def folders(self) -> list[Path]:
        """The template folders, the built-in one first."""
        return [templates_dir()] + ([self.folder] if self.folder else [])

    def templates(self) -> Templates:
        """This overlay's templates (the overlay folder over the built-in one), made once."""
        if self._templates is None:
            with self._lock:
                if self._templates is None:
                    loaders = [jinja2.FileSystemLoader(str(f)) for f in reversed(self.folders())]
                    env = make_environment(jinja2.ChoiceLoader(loaders))
                    self._templates = Templates(env, dict(compiled_at_build()) if self.compiled else {})
        return self._templates

    def routes(self) -> RouteTable:
        """This overlay's routes, read once (a terminology overlay's: the built-in ones)."""
        if self.folder is None:
            return builtin_table()
        if self._routes is None:
            with self._lock:
                if self._routes is None:
                    self._routes = read_table(self.folders())
        return self._routes

    def build(self, template: str, variables: dict) -> tuple:
        """As ``templating.build``, with this overlay's templates. An error names the template (and
        its line when Jinja rendered it). Ids stay the engine's: an ``id`` a template writes is only
        the resource's identity (its ``$key`` when it gives none); a Patient's is the caller's id.
        The overlay's ``amend/<resourceType>.json.j2``, when it has one, then adds to the resource."""
        if self.folder is None and self.compiled:    # a terminology overlay: the built-in templates
            return builtin_build(template, variables)
        key, res = self._render(template, variables)
        if res and "id" in res:
            if res.get("resourceType") == "Patient" and "patient_id" in variables:
                res["id"] = variables["patient_id"]
            else:
                written = res.pop("id")
                if key is None:
                    key = written if isinstance(written, str) else orjson.dumps(written).decode()
        amended = res and self.folder is not None and self._amend(res, variables)
        if self.made is not None:
            self.made.append((template, res))
            if amended:
                self.made.append((f"{AMEND}/{res['resourceType']}", res))
        return key, res

    def _builder(self, template: str) -> Callable:
        """The build function of ``template`` in this overlay, made once."""
        fn = self._builders.get(template)
        if fn is None:
            with self._lock:
                fn = self._builders.get(template)
                if fn is None:
                    fn = self._builders[template] = self.templates().builder(f"{template}{SUFFIX}",
                                                                             compiled=self.compiled)
        return fn

    def _render(self, template: str, variables: dict) -> tuple:
        fn = self._builder(template)
        self.rendered.add(template)
        try:
            return fn(variables)
        except TemplateFailure:
            raise
        except Exception as exc:
            raise TemplateFailure(f"{where_in_template(exc, template)}: {type(exc).__name__}: {exc}") from exc

    def _amend(self, res: dict, variables: dict) -> bool:
        """Add what ``amend/<resourceType>.json.j2`` gives (rendered with the variables and the
        ``resource`` made) to every resource of that type: a list is appended to (items not there
        yet), any other member set; ``id`` and ``resourceType`` stay."""
        name = f"{AMEND}/{res.get('resourceType')}"
        has = self._amends.get(name)
        if has is None:
            has = self._amends[name] = (self.folder / f"{name}{SUFFIX}").is_file()
        if not has:
            return False
        _, patch = self._render(name, {**variables, "resource": res})
        for k, v in (patch or {}).items():
            if k in ("id", "resourceType"):
                continue
            old = res.get(k)
            if isinstance(v, list) and isinstance(old, list):
                res[k] = old + [x for x in v if x not in old]
            else:
                res[k] = v
        return True

    def warm(self) -> None:
        """Compile every template this overlay sees now (a pool worker does it before its first job)."""
        if self.folder is None:
            return          # a terminology overlay: the built-in templates, warm already
        for name in self.templates().env.list_templates(filter_func=lambda n: n.endswith(SUFFIX)):
            self._builder(name[: -len(SUFFIX)])
        self.routes()

    def derived(self, name: str, make: Callable[[], object]):
        """A value made once per overlay (e.g. the built-in code systems merged with its own)."""
        try:
            return self._derived[name]
        except KeyError:
            with self._lock:
                if name not in self._derived:
                    self._derived[name] = make()
                return self._derived[name]


def _existing(path, what: str, folder: bool | None) -> Path | None:
    if path is None or path == "":
        return None
    p = Path(path).expanduser().resolve()
    if not p.exists() or (folder is True and not p.is_dir()):
        raise OverlayError(f"the {what} {path} is not {'a folder' if folder else 'a file or folder'}")
    return p


# The terminology files of ccda2fhir/data/ an overlay may add to, by the key naming them in one file.
TERMINOLOGY = ("codesystems", "identifier_systems", "conceptmaps")


def read_terminology(path: Path) -> dict:
    """An overlay's terminology: ``{"codesystems": {OID: URI}, "identifier_systems": {OID: URI},
    "conceptmaps": {map: {code: Coding or value}}}``, from one JSON file with those keys (value maps
    under "conceptmaps" or "valuemaps") or from a folder laid out as ccda2fhir/data/ is
    (codesystems.json, identifier_systems.json, conceptmaps.json, valuemaps/*.json)."""
    if path.is_dir():
        raw = {name: _json(path / f"{name}.json") for name in TERMINOLOGY if (path / f"{name}.json").is_file()}
        maps: dict = {}
        for f in sorted([path / "conceptmaps.json"] + sorted((path / "valuemaps").glob("*.json"))):
            if f.is_file():
                _merge_maps(maps, _json(f), f)
        raw["conceptmaps"] = maps
    else:
        raw = _json(path)
        unknown = sorted(k for k in raw if not k.startswith("_") and k not in TERMINOLOGY + ("valuemaps",))
        if unknown:
            raise OverlayError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(TERMINOLOGY)}, valuemaps)")
        maps = {}
        for key in ("conceptmaps", "valuemaps"):
            _merge_maps(maps, raw.pop(key, {}), path)
        raw["conceptmaps"] = maps
    for name in ("codesystems", "identifier_systems"):
        table = {k: v for k, v in raw.get(name, {}).items() if not k.startswith("_")}
        bad = [k for k, v in table.items() if not isinstance(v, str) or not v.strip()]
        if bad:
            raise OverlayError(f"{path}: {name} entry {bad[0]!r} is not a URI string")
        raw[name] = table
    return raw


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise OverlayError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise OverlayError(f"{path}: holds a {type(data).__name__}, not a JSON object")
    return data


def _merge_maps(into: dict, maps: dict, path: Path) -> None:
    for name, table in maps.items():
        if name.startswith("_"):
            continue
        if not isinstance(table, dict):
            raise OverlayError(f"{path}: the map {name!r} is not a JSON object of code -> value")
        into.setdefault(name, {}).update({k: v for k, v in table.items() if not k.startswith("_")})


_OVERLAYS: dict[tuple, Overlay] = {}
_OVERLAYS_LOCK = threading.Lock()


def overlay_for(templates: str | Path | None = None, code_systems: str | Path | None = None) -> Overlay | None:
    """The overlay of these paths, made once per process (None when both are None); an Overlay
    given as ``templates`` is used as it is."""
    if isinstance(templates, Overlay):
        return templates
    if not templates and not code_systems:
        return None
    key = tuple(str(Path(p).expanduser().resolve()) if p else None for p in (templates, code_systems))
    with _OVERLAYS_LOCK:
        found = _OVERLAYS.get(key)
        if found is None:
            found = _OVERLAYS[key] = Overlay(templates, code_systems)
        return found


def build(template: str, variables: dict) -> tuple:
    """What ``<template>.json.j2`` makes of ``variables`` (``templating.build``), in the running
    conversion's overlay when it has one."""
    overlay = active()
    if overlay is None:
        return builtin_build(template, variables)
    return overlay.build(template, variables)


__all__ = ["Overlay", "OverlayError", "TemplateFailure", "where_in_template", "overlay_for", "build", "read_terminology", "using", "active", "TERMINOLOGY"]
