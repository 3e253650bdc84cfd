"""IHE References entries -> DocumentReference (one per externalDocument)."""
from __future__ import annotations

from ..datatypes.navigation import add_once
from ..datatypes.text import text
from ..engine.registry import template_global
from ..shared.external_documents import external_docs, external_document_content
from ..shared.holders import holder_or_later
from ..state import current

@template_global
def referenced_holder(src, parents) -> list[dict]:
    """DocumentReference.context.related of an IHE References entry: its holder's resource."""
    def later(mine, ref):
        add_once(mine.setdefault("context", {}).setdefault("related", []), ref)
    ref = holder_or_later(src, parents, later)
    return [ref] if ref else []


@template_global
def referenced_documents(src, parents, doc=None) -> None:
    """The externalDocuments after the first of an IHE References entry: a DocumentReference each
    (rendered with ``doc``)."""
    if doc:   # rendering one of those (undefined in the route's rendering)
        return None
    for d in external_docs(src)[1:]:
        current().emit("resource/ReferencedDocument", src=src, parents=parents, doc=d)
    return None


@template_global
def referenced_document_content(doc) -> list[dict]:
    """content: the text reference URL and mediaType (external_document_content); when there is
    no URL, the externalDocument's inline text is the attachment's title."""
    content = external_document_content(doc)
    att = content[0]["attachment"]
    inline = text(doc.get("text")) if isinstance(doc, dict) else None
    if "url" not in att and inline:
        att.pop("extension", None)
        att["title"] = inline
    return content
