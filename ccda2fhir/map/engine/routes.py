"""Routes: which resource template maps which C-CDA entry template (data in templates/routes/)."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache

from .templating import templates_dir


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


def _route(raw: dict, order: int) -> Route:
    return Route(
        name=raw["name"], templates=tuple(raw.get("templates", ())), template=raw.get("template"),
        by_mood=dict(raw.get("by_mood", {})), element=raw.get("element"),
        sections=tuple(raw.get("sections", ())), descend=bool(raw.get("descend", False)),
        absorbs=frozenset(raw.get("absorbs", ())), absorbs_all=bool(raw.get("absorbs_all", False)),
        leaf=dict(raw.get("leaf", {})), order=order)


@lru_cache(maxsize=1)
def table() -> RouteTable:
    """All routes of templates/routes/*.toml, read once; earlier 'priority' wins, then file order."""
    by_template: dict[str, list[Route]] = {}
    fallback: dict[str, Route] = {}
    order = 0
    raws = []
    for path in sorted((templates_dir() / "routes").glob("*.toml")):
        data = tomllib.loads(path.read_text())
        for raw in data.get("route", []):
            raws.append((raw.get("priority", 100), order, raw))
            order += 1
        for element, raw in data.get("fallback", {}).items():
            fallback[element] = _route({"name": f"any {element}", **raw}, 10**9)
    for priority, o, raw in sorted(raws, key=lambda x: (x[0], x[1])):
        route = _route(raw, priority * 10**6 + o)
        for tid in route.templates:
            by_template.setdefault(tid, []).append(route)
    return RouteTable(by_template, fallback)
