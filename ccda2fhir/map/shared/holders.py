"""The resource a nested statement's holder became: a nested statement that makes no resource of
its own (a label, a qualifier, a focus) adds to that one, now or once it is made.
"""
from __future__ import annotations

from ..datatypes.navigation import many, one, statement_of, template_ids
from ..state import current
from .statements import becomes_resource

PRIVACY_ANNOTATIONS = "2.16.840.1.113883.3.3251.1.4"


def resource_of(stmt) -> dict | None:
    """The Reference of the resource already made from ``stmt``, if any (the engine keeps it)."""
    return current().resource_of(stmt)


def annotated_holder(parents) -> dict | None:
    """The statement a privacy annotation labels: the nearest ancestor that becomes a resource."""
    for p in many(parents):
        if isinstance(p, dict) and PRIVACY_ANNOTATIONS not in template_ids(p) and becomes_resource(p):
            return p
    return None


def made_resource(stmt) -> dict | None:
    ref = resource_of(stmt)
    return current().resources.get(ref["reference"]) if ref else None


def defer(conv, owner: dict, apply) -> None:
    """Run ``apply(resource)`` once the statement ``owner`` (rendering now) has become one."""
    conv.when_made(owner, apply)


def _owner(parents, skip=()) -> tuple[dict | None, dict | None]:
    """(Reference, resource) of the nearest ancestor statement that became a resource."""
    conv = current()
    for p in many(parents):
        if skip and set(skip) & set(template_ids(p)):
            continue
        ref = resource_of(p)
        if ref:
            return ref, conv.resources.get(ref["reference"])
    return None, None


def made_under(stmt, skip) -> dict | None:
    """The Reference of the resource ``stmt`` became, else of the one statement nested in it
    (other than ``skip``) that became one: a wrapper act (a problem act) is known by its Condition."""
    ref = resource_of(stmt)
    if ref:
        return ref
    made = []
    for rel in many((stmt or {}).get("entryRelationship")) + many((stmt or {}).get("component")):
        _, child = statement_of(rel)
        if child is not None and child is not skip:
            r = resource_of(child)
            if r and r not in made:
                made.append(r)
    return made[0] if len(made) == 1 else None


def holder_or_later(src, parents, apply_to_mine) -> dict | None:
    """The Reference of the resource ``src``'s holder became (a wrapper act: the one resource made
    inside it). When the holder is rendering now, ``apply_to_mine(my_resource, holder_ref)`` runs
    once it is made (``src`` has become a resource by then). None either way when there is none."""
    conv = current()
    holder = one(parents) if parents else None
    if not isinstance(holder, dict):
        return None
    ref = made_under(holder, src)
    if ref is None and becomes_resource(holder):
        def apply(res: dict) -> None:
            mine = made_resource(src)
            if mine is not None:
                apply_to_mine(mine, {"reference": f"{res['resourceType']}/{res['id']}"})
        defer(conv, holder, apply)
    return ref
