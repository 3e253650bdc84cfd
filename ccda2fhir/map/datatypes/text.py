"""Text from the document: ED/ST values and narrative references (#id)."""
from __future__ import annotations

import base64 as b64

from ..engine.registry import template_filter
from ..state import current
from .navigation import many, one

def narrative_text(reference) -> str | None:
    """The narrative text behind a <reference value="#id"/> (or its list)."""
    for ref in many(reference):
        value = (ref.get("value") or "").strip() if isinstance(ref, dict) else ""
        if value.startswith("#"):
            try:
                found = current().narrative.get(value[1:])
            except LookupError:  # no conversion running (unit tests of a filter)
                found = None
            if found:
                return found
    return None


@template_filter
def text(ed) -> str | None:
    """The text of an ED/ST element: its narrative reference if it resolves, else its own text."""
    ed = one(ed)
    if isinstance(ed, str):
        return " ".join(ed.split()) or None
    if not isinstance(ed, dict) or ed.get("nullFlavor") and not ed.get("_text"):
        return None
    own = ed.get("_text")
    return narrative_text(ed.get("reference")) or (own if own else None)


@template_filter
def texts(items) -> list[str]:
    """The text of each ED/ST element in a list."""
    return [t for x in many(items) if (t := text(x))]


@template_filter
def base64(data) -> str | None:
    """Base64 of bytes or text (for Attachment.data)."""
    if data is None:
        return None
    if isinstance(data, str):
        data = data.encode("utf-8")
    return b64.b64encode(bytes(data)).decode("ascii")
