"""Security Observations (DS4P privacy annotations, 2.16.840.1.113883.3.445.21, usually in a
Privacy Annotations organizer 2.16.840.1.113883.3.3251.1.4) are labels on the statement they
annotate: FHIR has them as ``meta.security`` of the resource that statement became.
"""
from __future__ import annotations

from ..datatypes.codes import coding
from ..datatypes.navigation import add_once, many, one, statement_of, template_ids
from ..engine.registry import template_global
from ..shared.holders import annotated_holder, defer, made_resource
from ..state import current

SECURITY_OBSERVATION = "2.16.840.1.113883.3.445.21"


def _labels(stmt) -> list[dict]:
    """Security label Codings of a Security Observation or of every one in an organizer."""
    if SECURITY_OBSERVATION in template_ids(stmt):
        c = coding(one(stmt.get("value")))
        return [c] if c else []
    out = []
    for comp in many(stmt.get("component")) + many(stmt.get("entryRelationship")):
        _, child = statement_of(comp)
        if child is not None:
            for c in _labels(child):
                if c not in out:
                    out.append(c)
    return out


def _label(res: dict, labels: list[dict]) -> None:
    security = res.setdefault("meta", {}).setdefault("security", [])
    for c in labels:
        add_once(security, c)


@template_global
def apply_security_labels(src, parents) -> dict:
    """Put the labels of a Security Observation / Privacy Annotations organizer on the
    ``meta.security`` of the resource its annotated statement became (nearest ancestor that
    became one). Returns {} (the annotation is no resource of its own). When that statement is
    still rendering, the labels wait for it; annotations with no such resource (the
    document-level ones of a DS4P section) are reported."""
    conv = current()
    labels = _labels(src)
    if not labels:
        conv.warn("security observation without a coded label", level="partial")
        return {}
    conv.account_for(src)
    owner = annotated_holder(parents)
    if owner is None:
        # Standing alone in a section (DS4P 'Security and Privacy Prohibitions'): the labels are
        # the document's -> meta.security of the Composition (made from the header), once it is made.
        owner = conv.header
    res = made_resource(owner)
    if res is not None:
        _label(res, labels)
        return {}
    # The annotated statement is rendering now (it maps its nested statements itself).
    defer(conv, owner, lambda res: _label(res, labels))
    return {}
