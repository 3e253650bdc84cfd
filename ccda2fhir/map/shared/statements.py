"""References between statements: an index of every statement of the document by id, and
resolution of a pointer (Entry Reference 4.122, an Indication whose id is a problem's id) to
the resource the statement it names becomes.

Resolving emits the target through its own route, with its own section and parents, so the
rendering is the one the dispatcher makes when it reaches it: the engine keeps one resource
(identical content dedups).
"""
from __future__ import annotations

import weakref

from ...assemble.ids import ii_key
from ..datatypes.identifiers import identifier
from ..datatypes.navigation import many, related, statement_of, template_ids
from ..engine.registry import template_global
from ..engine.routes import section_keys, table
from ..state import current

ENTRY_REFERENCE = "2.16.840.1.113883.10.20.22.4.122"
INDICATION = "2.16.840.1.113883.10.20.22.4.19"

_STATE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_MAX_DEPTH = 4


def _state(conv) -> dict:
    st = _STATE.get(conv)
    if st is None:
        st = _STATE[conv] = {"index": None, "depth": 0}
    return st


def statement_index(conv) -> dict:
    """id key -> [(section, element, stmt, parents)] over every statement of the document."""
    st = _state(conv)
    if st["index"] is not None:
        return st["index"]
    idx: dict = {}

    def visit(section, element, stmt, parents, depth):
        for ii in many(stmt.get("id")):
            k = ii_key(ii)
            if k:
                idx.setdefault(k, []).append((section, element, stmt, parents))
        if depth > 12:
            return
        for rel in many(stmt.get("entryRelationship")) + many(stmt.get("component")):
            el, child = statement_of(rel)
            if child is not None:
                visit(section, el, child, [stmt] + parents, depth + 1)

    for section in conv.doc.get("sections") or ():
        for entry in many(section.get("entries")):
            el, stmt = statement_of(entry)
            if stmt is not None:
                visit(section, el, stmt, [], 0)
    st["index"] = idx
    return idx


def _route_for(element, stmt, section):
    routes = table()
    route = routes.match(element, template_ids(stmt), section_keys(section))
    return route if route is not None else routes.fallback.get(element)


def emit_statement(section, element, stmt, parents, types=None) -> list[dict]:
    """The References of what the dispatcher makes of one statement (its own route), made now.

    A route without a template (a concern act that descends) gives the references of its
    nested statements. ``types`` limits the result (and what is rendered) to these resource
    templates. Depth-limited: statements pointing at statements pointing back stop here.
    """
    conv = current()
    st = _state(conv)
    if st["depth"] >= _MAX_DEPTH:
        return []
    route = _route_for(element, stmt, section)
    if route is None:
        return []
    template = route.template_for(stmt)
    out = []
    st["depth"] += 1
    # Render as the dispatcher would in that section: templates that dispatch their own nested
    # statements read conv.section; what they add to the section's entry list is dropped here
    # (the dispatcher adds it when it reaches that section).
    saved_where, saved_section, saved_refs = conv.where, conv.section, conv.entry_refs
    conv.section, conv.entry_refs = section, []
    try:
        if template:
            if types is None or template.split("/")[-1] in types:
                ref = conv.emit(template, src=stmt, parents=parents, element=element, section=section)
                if ref:
                    out.append(ref)
        if not template or route.descend:
            for rel in many(stmt.get("entryRelationship")) + many(stmt.get("component")):
                el, child = statement_of(rel)
                if child is None or route.absorbs.intersection(template_ids(child)):
                    continue
                for ref in emit_statement(section, el, child, [stmt] + parents, types):
                    if ref not in out:
                        out.append(ref)
    except Exception as exc:  # the target's own mapping reports its problems when it is reached
        conv.warn(f"could not resolve a reference to another entry: {type(exc).__name__}: {exc}")
    finally:
        st["depth"] -= 1
        conv.where, conv.section, conv.entry_refs = saved_where, saved_section, saved_refs
    return out


@template_global
def refs_to_statements(ids, types=None, exclude=None) -> list[dict]:
    """References to the resources made from the statements these ids identify elsewhere in
    the document (not Entry References, Indications or ``exclude`` itself)."""
    conv = current()
    idx = statement_index(conv)
    out = []
    for ii in many(ids):
        k = ii_key(ii)
        for section, element, stmt, parents in idx.get(k, ()) if k else ():
            if stmt is exclude or set(template_ids(stmt)) & {ENTRY_REFERENCE, INDICATION}:
                continue
            for ref in emit_statement(section, element, stmt, parents, types):
                if ref not in out:
                    out.append(ref)
            break
    return out


def statements_pointing_at(ids, templates) -> list[tuple]:
    """(section, element, stmt, parents) of the statements with one of ``templates`` that hold an
    Entry Reference to one of ``ids`` (e.g. the Outcome Observations evaluating a Goal)."""
    conv = current()
    keys = {k for k in (ii_key(ii) for ii in many(ids)) if k}
    if not keys:
        return []
    out, seen = [], set()
    for entries in statement_index(conv).values():
        for section, element, stmt, parents in entries:
            if id(stmt) in seen or not set(template_ids(stmt)) & set(templates):
                continue
            for ref in related(stmt, ENTRY_REFERENCE):
                if keys & {ii_key(ii) for ii in many(ref.get("id"))}:
                    seen.add(id(stmt))
                    out.append((section, element, stmt, parents))
                    break
    return out


def _names_a_statement(ids, exclude=None) -> bool:
    """Whether one of these ids is the id of a statement of this document (other than pointers:
    Entry References, Indications, and ``exclude``)."""
    idx = statement_index(current())
    for ii in many(ids):
        k = ii_key(ii)
        for _s, _e, stmt, _p in idx.get(k, ()) if k else ():
            if stmt is not exclude and not set(template_ids(stmt)) & {ENTRY_REFERENCE, INDICATION}:
                return True
    return False


def nests_statements(stmt) -> bool:
    """Whether a statement holds statements of its own (an Encounter Diagnosis act misusing the
    Indication templateId is such a wrapper, not a pointer)."""
    return any(statement_of(rel)[1] is not None
               for rel in many(stmt.get("entryRelationship")) + many(stmt.get("component")))


def logical_ref(ids, exclude=None) -> dict | None:
    """A FHIR logical reference ({"identifier": ...}, no "reference") to the entry these ids name,
    when that entry is NOT in this document: the FHIR-native way to keep a pointer to something
    recorded elsewhere (R4 Reference.identifier). None when the entry is in the document (its own
    resource carries the ids; a reference to it is made by resolution, or deliberately not made)
    or when no id identifies anything. No Reference.type: the pointer (code nullFlavor NP) does
    not say what kind of entry it names."""
    if _names_a_statement(ids, exclude):
        return None
    for ii in many(ids):
        ident = identifier(ii)
        if ident:
            return {"identifier": ident}
    return None


@template_global
def entry_reference_refs(src, types=None, logical=False) -> list[dict]:
    """References for the Entry Reference acts (4.122) nested in a statement. With ``logical``, an
    Entry Reference to an entry that is not in this document becomes a logical reference (its id
    as Reference.identifier) instead of being lost; use it only where the holder's element is a
    Reference that may name any such entry (Goal.addresses, Condition.evidence.detail)."""
    out = []
    for act in related(src, ENTRY_REFERENCE):
        for ref in refs_to_statements(act.get("id"), types, exclude=act):
            if ref not in out:
                out.append(ref)
        if logical:
            ref = logical_ref(act.get("id"), exclude=act)
            if ref and ref not in out:
                out.append(ref)
    return out


ELEMENT_BY_CLASS = {"OBS": "observation", "ACT": "act", "CLUSTER": "organizer",
                     "BATTERY": "organizer", "PROC": "procedure", "ENC": "encounter",
                     "SBADM": "substanceAdministration", "SPLY": "supply"}


def becomes_resource(stmt: dict) -> bool:
    """Whether the dispatcher makes a resource of this statement (its route names a template;
    without a route, the generic templates exist for all but acts and organizers)."""
    routes = table()
    tids = template_ids(stmt)
    element = ELEMENT_BY_CLASS.get(stmt.get("classCode"))
    for tid in tids:
        for route in routes.by_template.get(tid, ()):
            if (not route.element or route.element == element or element is None) \
                    and (route.template or route.by_mood):
                return True
    if any(routes.by_template.get(t) for t in tids):
        return False
    fallback = routes.fallback.get(element or "")
    return bool(fallback and fallback.template)
