"""Sections and entries: each statement goes to the resource template its route names.

Statements are visited from the entry down. A route names the template for a
statement and which nested statements that template consumes itself; the rest
are visited in turn. A statement nothing maps is reported with its section,
templateId and line: nothing is dropped silently.
"""
from __future__ import annotations

from ..assemble.ids import canonical
from .datatypes.identifiers import identifiers
from .datatypes.navigation import many, statement_of, template_ids
from .engine.routes import section_keys, table
from .shared.nothing import NOTHING_TEMPLATE, note, replaced
from .state import WRAPPED_TYPES, Conversion


class SectionRefs(list):
    """A section's References in the order made; ``ref in refs`` is a set lookup, not a scan of
    the list (a section of 100,000 entries made the scan per entry quadratic)."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()
        self.said_nothing: list[tuple] = []   # (words, line, its List refs) of 'nothing to report' statements

    def __contains__(self, ref) -> bool:
        return _ref_key(ref) in self._seen

    def append(self, ref) -> None:
        self._seen.add(_ref_key(ref))
        super().append(ref)


def _ref_key(ref) -> str:
    """What tells References apart: the target of a plain one (no JSON needed), else its JSON
    (which starts with '{', so never equal to a target)."""
    if type(ref) is dict and len(ref) == 1:
        target = ref.get("reference")
        if type(target) is str:
            return target
    return canonical(ref)


def map_section(conv: Conversion, section: dict) -> list[dict]:
    """Map every entry of one section; returns the References of what it made."""
    conv.section = section
    conv.entry_refs = SectionRefs()
    keys = section_keys(section)
    label = section["key"] + (f" ({section['title']})" if section.get("title") else "")
    conv.where = {"section": label, "line": section.get("line")}
    for entry in section["entries"]:
        conv.report.entries_seen += 1
        element, stmt = statement_of(entry)
        if stmt is None:
            conv.warn("entry holds no clinical statement", level="unmapped", section=label,
                      line=entry.get("_line"))
            continue
        made = _visit(conv, element, stmt, [], keys, label)
        if not made and not conv.accounted(stmt):
            tids = template_ids(stmt)
            conv.warn("no mapping for this entry's template", level="unmapped", section=label,
                      template_id=tids[0] if tids else None, element=element, line=stmt.get("_line"))
    _contradicted(conv, conv.entry_refs)
    return conv.entry_refs


def _contradicted(conv: Conversion, refs: SectionRefs) -> None:
    """A section that says there is nothing to report beside statements it does report contradicts
    itself ('No Known Problems' and nine problems): both are kept, and the report says so."""
    if not refs.said_nothing:
        return
    lists = {_ref_key(r) for _, _, made in refs.said_nothing for r in made}
    others = sum(1 for r in refs if _ref_key(r) not in lists)
    if not others:
        return
    words, line, _ = refs.said_nothing[0]
    said = repr(words) if words else "a statement"
    conv.warn(f"the section says there is nothing to report ({said}) yet its other entries made {others} "
              "resource(s): both kept, the empty List with the sender's words beside them", level="warning",
              line=line)


def map_nested(conv: Conversion, element: str, stmt: dict, parents: list) -> int:
    """Map a statement nested in one a template is rendering (and does not consume itself) by its
    own route, in the current section; returns how many resources it made."""
    saved = conv.where
    try:
        label = conv.where.get("section") or (conv.section or {}).get("key", "")
        return _visit(conv, element, stmt, parents, section_keys(conv.section or {}), label)
    finally:
        conv.where = saved


def _visit(conv: Conversion, element: str, stmt: dict, parents: list, keys: set, label: str) -> int:
    tids = template_ids(stmt)
    here = {"section": label, "template_id": tids[0] if tids else None, "element": element,
            "line": stmt.get("_line")}
    conv.where = dict(here)
    routes = table()
    route = routes.match(element, tids, keys)
    generic = route is None
    if generic:
        route = routes.fallback.get(element)
    made = 0
    template = route.template_for(stmt) if route else None
    nothing = replaced(stmt, template)
    if nothing:
        # it says there is nothing to report: a List saying so, never the clinical resource
        before = len(conv.entry_refs)
        made = _emit(conv, NOTHING_TEMPLATE, stmt, parents, element, False)
        if made:
            conv.warn(note(nothing, template), level="info")
            if isinstance(conv.entry_refs, SectionRefs):
                conv.entry_refs.said_nothing.append((nothing["words"], stmt.get("_line"), conv.entry_refs[before:]))
        return made
    if template:
        made += _emit(conv, template, stmt, parents, element, generic)
    if route is not None and (route.absorbs_all or (template and not route.descend
                                                     and not _has_unabsorbed(stmt, route))):
        return made
    visited = 0
    before = len(conv.entry_refs)
    for rel in many(stmt.get("entryRelationship")) + many(stmt.get("component")):
        child_el, child = statement_of(rel)
        if child is None:
            continue
        if route is not None and route.absorbs.intersection(template_ids(child)):
            continue
        visited += 1
        made += _visit(conv, child_el, child, [stmt] + parents, keys, label)
    leaf = route.leaf_template(stmt) if not made and route is not None else None
    if leaf:
        conv.where = dict(here)
        made += _emit(conv, leaf, stmt, parents, element, generic)
    if not template and stmt.get("id"):
        _lend_identity(conv, stmt, conv.entry_refs[before:])
    if not made and not visited and parents and not conv.accounted(stmt):
        # A nested statement nothing maps: say so here; top-level ones are reported by map_section.
        conv.warn("no mapping for this nested statement's template", level="unmapped",
                  section=label, template_id=tids[0] if tids else None, element=element,
                  line=stmt.get("_line"))
    return made


def _emit(conv: Conversion, template: str, stmt: dict, parents: list, element: str, generic: bool) -> int:
    """Render one statement's resource; 1 if it made one. A generic mapping is reported as partial."""
    try:
        ref = conv.emit(template, src=stmt, parents=parents, element=element)
    except Exception as exc:  # one bad entry must not stop the document
        conv.warn(f"could not map: {type(exc).__name__}: {exc}", level="error")
        ref = None
    if not ref:
        return 0
    if ref not in conv.entry_refs:
        conv.entry_refs.append(ref)
    if generic:
        tids = template_ids(stmt)
        what = f"template {tids[0]} has" if tids else f"this {element} has no templateId and"
        conv.warn(f"{what} no specific mapping; mapped as a generic "
                  f"{ref['reference'].split('/')[0]}", level="partial")
    return 1


def _lend_identity(conv: Conversion, wrapper: dict, made: list[dict]) -> None:
    """A wrapper act that made no resource and holds exactly one clinical resource: that resource
    is the same clinical thing, so it also carries the wrapper's identifiers (our choice; the IG
    does this for problem concern acts). With several, the ids cannot be attributed: left out."""

    if len(made) != 1:
        return
    res = conv.resources.get(made[0]["reference"])
    if res is None or res["resourceType"] not in WRAPPED_TYPES:
        return
    own = res.get("identifier", [])
    extra = [i for i in identifiers(wrapper.get("id")) if i not in own]
    if extra:
        res["identifier"] = own + extra


def _has_unabsorbed(stmt: dict, route) -> bool:
    for rel in many(stmt.get("entryRelationship")) + many(stmt.get("component")):
        _, child = statement_of(rel)
        if child is not None and not route.absorbs.intersection(template_ids(child)):
            return True
    return False


__all__ = ["map_section", "map_nested"]
