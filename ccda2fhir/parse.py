"""Safe parsing of a C-CDA document: no entities, no DTD, no network, bounded size."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Union

from lxml import etree

from .errors import InputTooLargeError, InvalidXMLError, NotCCDAError

Source = Union[str, bytes, bytearray, memoryview, os.PathLike]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
CDA_NS = "urn:hl7-org:v3"

_ENCODING_DECL = re.compile(r"^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*(['\"])[^'\"]*\2", re.S)


def _parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parsers are not thread-safe, and the HTTP
    # shim may convert on several threads.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_pis=True,
                           remove_comments=True, collect_ids=False)


def read_source(source: Source, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Turn a str, bytes or path into the bytes to parse, enforcing the size limit."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, os.PathLike) or (isinstance(source, str) and not source.lstrip("\ufeff \t\r\n").startswith("<")):
        path = Path(source)
        if not path.is_file():
            raise InvalidXMLError(f"not XML and not a readable file: {str(source)[:80]!r}")
        size = path.stat().st_size
        if size > max_bytes:
            raise InputTooLargeError(f"input is {size} bytes, over the limit of {max_bytes}",
                                     location=str(path))
        data = path.read_bytes()
    elif isinstance(source, str):
        # A str is already decoded: drop the BOM and the encoding declaration so
        # libxml2 does not decode it a second time.
        text = _ENCODING_DECL.sub(r"\1", source.lstrip("\ufeff"), count=1)
        data = text.encode("utf-8")
    else:
        raise TypeError(f"cannot convert a {type(source).__name__}; pass str, bytes or a path")
    if len(data) > max_bytes:
        raise InputTooLargeError(f"input is {len(data)} bytes, over the limit of {max_bytes}")
    return data


def parse(source: Source, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse and check a C-CDA document; returns the ClinicalDocument element."""
    data = read_source(source, max_bytes)
    if not data.strip():
        raise InvalidXMLError("input is empty")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line, col = (exc.position if exc.position else (None, None))
        msg = exc.msg or str(exc)
        if "depth" in msg.lower() or "nesting" in msg.lower():
            raise InputTooLargeError(f"XML nested too deeply: {msg}", line=line, column=col) from None
        raise InvalidXMLError(f"not well-formed XML: {msg}", line=line, column=col) from None
    docinfo = root.getroottree().docinfo
    dtd = docinfo.internalDTD
    if dtd is not None and (list(dtd.entities()) or list(dtd.iterelements())):
        raise InvalidXMLError("documents with DTD declarations are refused (entity expansion risk)",
                              line=1)
    if not isinstance(root.tag, str) or etree.QName(root).localname != "ClinicalDocument":
        name = etree.QName(root).localname if isinstance(root.tag, str) else "?"
        raise NotCCDAError(f"root element is <{name}>, not an HL7 CDA <ClinicalDocument>",
                           line=root.sourceline)
    ns = etree.QName(root).namespace
    if ns not in (CDA_NS, None):
        raise NotCCDAError(f"<ClinicalDocument> is in namespace {ns!r}, not {CDA_NS!r}",
                           line=root.sourceline)
    return root
