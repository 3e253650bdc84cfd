"""Sender mistakes whose meaning is not in doubt, mended in the bytes so the document parses.

Each repair looks at the parser's error; when it recognises its mistake it returns the mended
bytes and a note for the report, else None. Repairs never add or remove a newline, so every line
number stays as the sender wrote it.
"""
from __future__ import annotations

import re
from urllib.parse import quote

from lxml import etree

# xsi:type (or sdtc: elements) without the prefix declared: the declaration is added inside the
# root start tag.
_WELL_KNOWN = {b"xsi": b"http://www.w3.org/2001/XMLSchema-instance", b"sdtc": b"urn:hl7-org:sdtc"}
_UNDECLARED = re.compile(r"Namespace prefix (\w+) (?:for \S+ )?on \S+ is not defined")
_ROOT_TAG = re.compile(rb"<(?:\w+:)?ClinicalDocument\b")
# A namespace name that is not a URI, seen from a certified EHR:
# xmlns:schemaLocation="urn:hl7-org:v3 CDA.xsd" (xsi:schemaLocation was meant).
_BAD_URI = re.compile(r"xmlns(?::([\w.\-]+))?: '(.*)' is not a valid URI")
# What RFC 3986 allows in a URI; anything else (a space, a quote, a brace) is percent-encoded.
_URI_SAFE = ":/?#[]@!$&'()*+,;=%-._~"


def declare_missing_prefixes(data: bytes, exc: etree.XMLSyntaxError) -> tuple[bytes, str] | None:
    """Declare an undeclared xsi: or sdtc: prefix on the root element."""
    m = _UNDECLARED.search(exc.msg or "")
    if not m or m.group(1).encode() not in _WELL_KNOWN:
        return None
    root = _ROOT_TAG.search(data)
    if root is None:  # not an ASCII-compatible encoding, or no ClinicalDocument: leave the error
        return None
    decls = b"".join(b' xmlns:%s="%s"' % (p, uri) for p, uri in _WELL_KNOWN.items()
                     if b"xmlns:" + p + b"=" not in data[root.start():data.find(b">", root.start())])
    if not decls:
        return None
    return data[:root.end()] + decls + data[root.end():], ""   # as common as it is harmless: no note


def encode_namespace_uri(data: bytes, exc: etree.XMLSyntaxError) -> tuple[bytes, str] | None:
    """Percent-encode the characters that keep a namespace name from being a URI."""
    m = _BAD_URI.search(exc.msg or "")
    if not m:
        return None
    prefix, value = m.group(1), m.group(2)
    attr = b"xmlns" + (b":" + prefix.encode() if prefix else b"")
    decl = re.compile(rb"(\s" + re.escape(attr) + rb"\s*=\s*)([\"'])(.*?)\2", re.S)
    for d in decl.finditer(data):
        raw = d.group(3)
        if raw.decode("utf-8", "replace") != value:
            continue
        fixed = quote(value, safe=_URI_SAFE).encode("ascii")
        mended = data[:d.start(3)] + fixed + data[d.end(3):]
        return mended, (f"the namespace declaration {attr.decode()}=\"{value}\" is not a URI; "
                        f"read as \"{fixed.decode()}\"")
    return None


REPAIRS = (declare_missing_prefixes, encode_namespace_uri)
