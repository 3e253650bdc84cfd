"""Comment Activities and Instructions nested in a statement -> Annotations and text."""
from __future__ import annotations

from ..datatypes.codes import codeable_concept
from ..datatypes.dates import datetime
from ..datatypes.navigation import one, related
from ..datatypes.text import text
from ..engine.registry import template_filter, template_global
from .participants import author_ref

COMMENT_ACTIVITY = ("2.16.840.1.113883.10.20.22.4.64", "2.16.840.1.113883.10.20.1.40")  # R2.x, R1.1


@template_filter
def comments(stmt) -> list[dict]:
    """Annotations from nested Comment Activities (C-CDA on FHIR: Comment -> Annotation)."""
    out = []
    for act in related(stmt, *COMMENT_ACTIVITY):
        t = text(act.get("text"))
        if not t:
            continue
        note = {"text": t}
        author = one(act.get("author"))
        if author:
            ref = author_ref(author)
            if ref:
                note["authorReference"] = ref
            when = datetime(author.get("time"))
            if when:
                note["time"] = when
        out.append(note)
    return out


@template_global
def plan_instructions(src) -> str | None:
    """patientInstruction: the text of nested Instruction acts (4.20)."""
    parts = []
    for act in related(src, "2.16.840.1.113883.10.20.22.4.20", "2.16.840.1.113883.10.20.1.49"):
        t = text(act.get("text")) or (codeable_concept(act.get("code")) or {}).get("text")
        if t and t not in parts:
            parts.append(t)
    return "\n".join(parts) or None
