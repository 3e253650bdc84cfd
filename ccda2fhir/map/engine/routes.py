"""Routes: which resource template maps which C-CDA entry template (data in templates/routes/).

An overlay's routes/*.toml come before the built-in ones: a file of the same name replaces the
built-in file, and its routes win over built-in routes for the same templateId.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .scope import active
from .templating import templates_dir

OVERLAY_FIRST = -10**12                         # added to an overlay route's order: before any built-in


@dataclass(frozen=True)
class Route:
    """How one C-CDA statement template is mapped."""

    name: str
    templates: tuple[str, ...]                  # templateId roots this route answers for
    template: str | None = None                 # resource template rendered for the statement
    by_mood: dict = field(default_factory=dict)  # moodCode -> resource template, overriding ``template``
    element: str | None = None                  # only statements of this element (act, observation, ...)
    sections: tuple[str, ...] = ()              # only in sections with these templateIds/LOINC codes
    descend: bool = False                       # also map the statements nested inside
    absorbs: frozenset = frozenset()            # nested templateIds the template itself consumes
    absorbs_all: bool = False                   # the template consumes everything nested
    leaf: dict = field(default_factory=dict)    # child path (a/b) -> template for a statement nothing else mapped
    order: int = 0
    source: str = field(default="", compare=False)   # the file it was read from (for messages)

    def template_for(self, stmt: dict) -> str | None:
        return self.by_mood.get(stmt.get("moodCode"), self.template)

    def leaf_template(self, stmt: dict) -> str | None:
        """The template for a statement whose nested statements made nothing, by what it holds
        (e.g. ``reference`` to an external document): used instead of reporting it unmapped."""
        for path, template in self.leaf.items():
            if _holds(stmt, path.split("/")):
                return template
        return None

    def fits(self, element: str, section_keys: set) -> bool:
        if self.element and self.element != element:
            return False
        return not self.sections or bool(section_keys.intersection(self.sections))


def _holds(node, parts: list[str]) -> bool:
    """Whether a statement has an element at this child path (lists: any item)."""
    if not parts:
        return bool(node)
    items = node if isinstance(node, list) else [node]
    return any(isinstance(i, dict) and _holds(i.get(parts[0]), parts[1:]) for i in items)


def section_keys(section: dict) -> set:
    """What routes match a section by: its templateId roots and its LOINC code."""
    keys = set(section.get("templateIds") or ())
    code = section.get("code") or {}
    if isinstance(code, dict) and code.get("code"):
        keys.add(code["code"])
    return keys


@dataclass(frozen=True)
class RouteTable:
    by_template: dict
    fallback: dict                              # element name -> Route used when no template matches

    def match(self, element: str, template_ids: list[str], section_keys: set) -> Route | None:
        best = None
        for tid in template_ids:
            for route in self.by_template.get(tid, ()):
                if route.fits(element, section_keys) and (best is None or route.order < best.order):
                    best = route
        return best


def make_route(raw: dict, order: int, source: str = "") -> Route:
    """One route from its TOML table (KeyError when it has no name)."""
    return Route(
        name=raw["name"], templates=tuple(raw.get("templates", ())), template=raw.get("template"),
        by_mood=dict(raw.get("by_mood", {})), element=raw.get("element"),
        sections=tuple(raw.get("sections", ())), descend=bool(raw.get("descend", False)),
        absorbs=frozenset(raw.get("absorbs", ())), absorbs_all=bool(raw.get("absorbs_all", False)),
        leaf=dict(raw.get("leaf", {})), order=order, source=source)


def route_files(folders: list[Path]) -> list[tuple[Path, bool]]:
    """(routes/*.toml file, from an overlay) of the built-in folder then the overlay folders, by
    name; an overlay file replaces the built-in file of the same name."""
    by_name: dict[str, tuple[Path, bool]] = {}
    for i, folder in enumerate(folders):
        for path in sorted((Path(folder) / "routes").glob("*.toml")):
            by_name[path.name] = (path, i > 0)
    return [by_name[name] for name in sorted(by_name)]


def read_table(folders: list[Path]) -> RouteTable:
    """The routes of these template folders (the built-in one first); earlier 'priority' wins, then
    file order, an overlay's routes before any built-in one. ValueError/KeyError name the file."""
    by_template: dict[str, list[Route]] = {}
    fallback: dict[str, Route] = {}
    order = 0
    raws = []
    for path, overlay in route_files(folders):
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: {exc}") from None
        for raw in data.get("route", []):
            if "name" not in raw:
                raise KeyError(f"{path}: a [[route]] has no name")
            raws.append((OVERLAY_FIRST if overlay else 0, raw.get("priority", 100), order, raw, str(path)))
            order += 1
        for element, raw in data.get("fallback", {}).items():
            fallback[element] = make_route({"name": f"any {element}", **raw}, 10**9, str(path))
    for first, priority, o, raw, source in sorted(raws, key=lambda x: (x[0], x[1], x[2])):
        route = make_route(raw, first + priority * 10**6 + o, source)
        for tid in route.templates:
            by_template.setdefault(tid, []).append(route)
    return RouteTable(by_template, fallback)


@lru_cache(maxsize=1)
def builtin_table() -> RouteTable:
    """All routes of the built-in templates/routes/*.toml, read once."""
    return read_table([templates_dir()])


def table() -> RouteTable:
    """The routes of the running conversion: its overlay's, else the built-in ones."""
    overlay = active()
    return builtin_table() if overlay is None else overlay.routes()
