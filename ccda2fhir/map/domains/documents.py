"""Looking across the whole document (for facts the header needs from the body)."""
from __future__ import annotations

from ..datatypes.navigation import children, has_template, statement_of
from ..engine.registry import template_global
from ..state import current

@template_global
def document_statements(*roots: str) -> list[dict]:
    """Every statement in the body carrying one of these templateId roots, in document order."""
    found = []
    for section in current().doc["sections"]:
        for entry in section["entries"]:
            _, stmt = statement_of(entry)
            stack = [stmt] if stmt else []
            while stack:
                s = stack.pop(0)
                if has_template(s, *roots):
                    found.append(s)
                stack.extend(children(s))
    return found
