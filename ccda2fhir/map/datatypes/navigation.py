"""Finding things in the plain data: first of a list, nested statements by template."""
from __future__ import annotations

from jinja2 import Undefined

from ...assemble.ids import canonical
from ..engine.registry import template_filter, template_global

STATEMENTS = ("observation", "act", "substanceAdministration", "supply", "procedure",
              "encounter", "organizer", "regionOfInterest", "observationMedia")


def one(value):
    """A single element: the first of a list, None for nothing."""
    if isinstance(value, Undefined) or value is None:
        return None
    if isinstance(value, list):
        return value[0] if value else None
    return value


def many(value) -> list:
    """Always a list: [] for nothing, [x] for one element."""
    if isinstance(value, Undefined) or value is None:
        return []
    return value if isinstance(value, list) else [value]


template_filter(one)
template_filter(many)


@template_filter
def template_ids(stmt) -> list[str]:
    """The templateId roots of a statement."""
    return [t.get("root") for t in many((stmt or {}).get("templateId") if isinstance(stmt, dict) else None)
            if t.get("root")]


@template_filter
def has_template(stmt, *roots: str) -> bool:
    """Whether a statement carries any of these templateId roots (the version extension is not compared)."""
    ids = template_ids(stmt)
    return any(r in ids for r in roots)


def statement_of(holder) -> tuple[str | None, dict | None]:
    """The (element name, statement) held by an entry, entryRelationship or component."""
    if not isinstance(holder, dict):
        return None, None
    for name in STATEMENTS:
        s = holder.get(name)
        if isinstance(s, dict):
            return name, s
    return None, None


@template_filter
def children(stmt, type_code: str | None = None) -> list[dict]:
    """Statements nested in ``stmt`` via entryRelationship or component (optionally by typeCode)."""
    out = []
    if not isinstance(stmt, dict):
        return out
    for rel in many(stmt.get("entryRelationship")) + many(stmt.get("component")):
        if type_code and rel.get("typeCode") != type_code:
            continue
        _, s = statement_of(rel)
        if s is not None:
            out.append(s)
    return out


@template_filter
def related(stmt, *roots: str) -> list[dict]:
    """Nested statements carrying any of these templateId roots."""
    return [s for s in children(stmt) if has_template(s, *roots)]


@template_filter
def related_one(stmt, *roots: str):
    """The first nested statement carrying any of these templateId roots."""
    found = related(stmt, *roots)
    return found[0] if found else None


@template_filter
def related_by_code(stmt, *codes: str) -> list[dict]:
    """Nested statements whose code/@code is one of ``codes``."""
    return [s for s in children(stmt) if isinstance(s.get("code"), dict) and s["code"].get("code") in codes]


@template_filter
def attr(items, name: str) -> list:
    """``name`` of each item that has it (a flat list)."""
    out = []
    for x in many(items):
        if isinstance(x, dict):
            v = x.get(name)
            if isinstance(v, list):
                out.extend(v)
            elif v is not None:
                out.append(v)
    return out


def is_empty(value) -> bool:
    """Nothing worth writing: None, undefined, blank, or containers holding only such."""
    if value is None or isinstance(value, Undefined):
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, dict):
        return all(is_empty(v) for v in value.values())
    if isinstance(value, list):
        return all(is_empty(v) for v in value)
    return False


@template_global
def first_of(*values):
    """The first value that is not empty (a dict of nothing but nulls counts as empty)."""
    for v in values:
        if not is_empty(v):
            return v
    return None


def add_once(items: list, value) -> None:
    if canonical(value) not in {canonical(x) for x in items}:
        items.append(value)
