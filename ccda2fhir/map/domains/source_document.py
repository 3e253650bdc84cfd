"""The source document itself as a DocumentReference: its identity (ClinicalDocument/id as a URI),
format, and (with embed_source) the XML as an attachment with its size and SHA-1.
"""
from __future__ import annotations

import base64 as b64
import binascii
import hashlib
import mimetypes
import re
from urllib.parse import quote

from ..datatypes.navigation import many, one
from ..datatypes.terminology import OID_PATTERN, UUID_PATTERN
from ..datatypes.text import base64
from ..engine.registry import template_filter, template_global
from ..state import current

@template_filter
def document_uri(ids) -> str | None:
    """A URI naming the source document, for its Attachment.url when the XML is not embedded
    (US Core us-core-6: attachment url or data). Our choice: urn:uuid / urn:oid for a bare
    root, else the HL7 II URN urn:hl7ii:<root>:<extension>."""
    ii = one(ids)
    if not isinstance(ii, dict):
        return None
    root = (ii.get("root") or "").strip()
    ext = (ii.get("extension") or "").strip()
    if not root:
        return None
    if not ext:
        if UUID_PATTERN.match(root):
            return f"urn:uuid:{root.lower()}"
        return f"urn:oid:{root}" if OID_PATTERN.match(root) else None
    return f"urn:hl7ii:{quote(root, safe='.-')}:{quote(ext, safe='.-_~')}"


@template_filter
def sha1_base64(data) -> str | None:
    """Attachment.hash: base64 of the SHA-1 of the data."""
    if data is None:
        return None
    if isinstance(data, str):
        data = data.encode("utf-8")
    return b64.b64encode(hashlib.sha1(bytes(data)).digest()).decode("ascii")


@template_filter
def byte_size(data) -> int | None:
    """Attachment.size: the length of the data in bytes (text counted as UTF-8)."""
    if data is None:
        return None
    return len(data.encode("utf-8") if isinstance(data, str) else bytes(data))


@template_global
def nonxml_content() -> dict | None:
    """DocumentReference.content for a nonXMLBody: its text (B64 data or a reference URL)."""
    body = current().doc.get("nonxml")
    if not isinstance(body, dict):
        return None
    text = body.get("text")
    if not isinstance(text, dict):
        return None
    ref = text.get("reference")
    ref_value = ((one(ref) or {}).get("value") or "").strip() if ref else ""
    media = (text.get("mediaType") or "").strip()
    if not media and ref_value:
        media = mimetypes.guess_type(ref_value)[0] or ""
    att = {"contentType": media or "text/plain"}       # text/plain: the CDA ED default
    raw = text.get("_text")
    if raw and (text.get("representation") or "").upper() == "B64":
        data = "".join(raw.split())
        try:
            b64.b64decode(data, validate=True)
            att["data"] = data
        except (binascii.Error, ValueError):
            current().warn("nonXMLBody text is not valid base64; its content is left out",
                           level="partial", element="nonXMLBody")
    elif raw:
        att["data"] = base64(raw)
    if ref_value and (ref_value.startswith(("http://", "https://"))
                      or re.match(r"^[\w][\w .\-/]*$", ref_value)):
        # an absolute http(s) URL, or the sender's relative file name (kept as sent)
        att["url"] = ref_value.strip()
    if "data" not in att and "url" not in att:
        return None
    return {"attachment": att}


@template_global
def format_code(header: dict) -> str:
    """IHE format code of the source: C-CDA structured or nonXML body, R2.x (a header
    templateId with a version extension) or R1.1 (none). IHE lists no R2.0 code; R2.0
    documents (extension 2014-06-09) get the 2.1 code, their structure being the same."""
    body = "nonXMLBody" if current().doc.get("body") == "nonxml" else "structuredBody"
    versioned = any(isinstance(t, dict) and t.get("extension") for t in many(header.get("templateId")))
    return f"urn:hl7-org:sdwg:ccda-{body}:{'2.1' if versioned else '1.1'}"
