"""External document references (reference/externalDocument) -> DocumentReference content."""
from __future__ import annotations

from ..datatypes.navigation import many, one
from ..datatypes.status import data_absent
from ..engine.registry import template_global

def external_docs(src) -> list[dict]:
    return [r["externalDocument"] for r in many((src or {}).get("reference"))
            if isinstance(r, dict) and isinstance(r.get("externalDocument"), dict)]


@template_global
def external_document(src) -> dict:
    """The externalDocument a DocumentReference is made from: the statement's first
    reference/externalDocument, or the statement itself when it is one."""
    docs = external_docs(src)
    return docs[0] if docs else (src or {})


@template_global
def external_document_content(doc) -> list[dict]:
    """DocumentReference.content from an externalDocument's text (reference URL, mediaType)."""
    ed = one((doc or {}).get("text")) or {}
    ref = one(ed.get("reference")) if isinstance(ed, dict) else None
    url = (ref or {}).get("value", "").strip() if isinstance(ref, dict) else ""
    att = {}
    if url and not url.startswith("#"):
        att["url"] = url
    if isinstance(ed, dict) and ed.get("mediaType"):
        att["contentType"] = ed["mediaType"].strip()
    if not att:
        att = {"extension": [data_absent("UNK")]}
    return [{"attachment": att}]
