"""Safe parsing of a C-CDA document: no entities, no DTD, no network, bounded size."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Union

from lxml import etree

from .errors import InputTooLargeError, InputTypeError, InvalidXMLError, NotCCDAError

Source = Union[str, bytes, bytearray, memoryview, os.PathLike]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
CDA_NS = "urn:hl7-org:v3"

_ENCODING_DECL = re.compile(r"^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*(['\"])[^'\"]*\2", re.S)
# libxml2 appends ", line L, column C" to its messages; the error carries them itself.
_LXML_WHERE = re.compile(r",? line \d+, column \d+\s*$")


class _NoFetch(etree.Resolver):
    """Answers every request for an external resource (DTD, parameter entity) with nothing.

    libxml2 still asks for an external DTD subset or an external parameter entity
    even with load_dtd=False; without this a document naming file:///dev/zero, a
    FIFO or a local file would read it (or hang). The attempt is remembered and the
    document refused after parsing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def resolve(self, url, pubid, context):
        self.asked.append(str(url or pubid))
        return self.resolve_string("", context)


def _parser() -> tuple[etree.XMLParser, _NoFetch]:
    # A fresh parser per call: lxml parsers are not thread-safe, and the HTTP
    # shim may convert on several threads. Making one costs about a microsecond
    # (libxml2's parser context is per parse anyway): reusing one per thread saves
    # nothing measurable next to a millisecond-long parse.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, attribute_defaults=False, huge_tree=False,
                             remove_pis=True, remove_comments=True, collect_ids=False)
    guard = _NoFetch()
    parser.resolvers.add(guard)
    return parser, guard


def _read_path(source) -> Path:
    try:
        path = Path(source)
        if path.is_file():
            return path
    except (OSError, ValueError):  # a name too long, a NUL byte: not a file either way
        pass
    raise InvalidXMLError(f"not XML and not a readable file: {str(source)[:80]!r}")


def read_source(source: Source, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Turn a str, bytes or path into the bytes to parse, enforcing the size limit."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, str) and not source.strip("\ufeff \t\r\n"):
        raise InvalidXMLError("input is empty")
    elif isinstance(source, os.PathLike) or (isinstance(source, str) and not source.lstrip("\ufeff \t\r\n").startswith("<")):
        path = _read_path(source)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise InputTooLargeError(f"input is {size} bytes, over the limit of {max_bytes}",
                                         location=str(path))
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidXMLError(f"cannot read the file: {exc.strerror or exc}", location=str(path)) from None
    elif isinstance(source, str):
        if len(source) > max_bytes:  # each character is at least one byte
            raise InputTooLargeError(f"input is over {len(source)} bytes, over the limit of {max_bytes}")
        # A str is already decoded: drop the BOM and the encoding declaration so
        # libxml2 does not decode it a second time.
        text = _ENCODING_DECL.sub(r"\1", source.lstrip("\ufeff"), count=1)
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidXMLError(f"the text holds a character that is not Unicode text "
                                  f"({text[exc.start]!r} at offset {exc.start})") from None
    else:
        raise InputTypeError(f"cannot convert a {type(source).__name__}; pass str, bytes or a path")
    if len(data) > max_bytes:
        raise InputTooLargeError(f"input is {len(data)} bytes, over the limit of {max_bytes}")
    return data


# Senders often write xsi:type (or sdtc: elements) without declaring the prefix; the
# meaning is not in doubt, so the declaration is added inside the root start tag (no
# newline, so every line number stays as written) and the document parsed again.
_WELL_KNOWN = {b"xsi": b"http://www.w3.org/2001/XMLSchema-instance", b"sdtc": b"urn:hl7-org:sdtc"}
_UNDECLARED = re.compile(r"Namespace prefix (\w+) (?:for \S+ )?on \S+ is not defined")
_ROOT_TAG = re.compile(rb"<(?:\w+:)?ClinicalDocument\b")


def _declare_missing_prefixes(data: bytes, exc: etree.XMLSyntaxError) -> bytes | None:
    m = _UNDECLARED.search(exc.msg or "")
    if not m or m.group(1).encode() not in _WELL_KNOWN:
        return None
    root = _ROOT_TAG.search(data)
    if root is None:  # not an ASCII-compatible encoding, or no ClinicalDocument: leave the error
        return None
    decls = b"".join(b' xmlns:%s="%s"' % (p, uri) for p, uri in _WELL_KNOWN.items()
                     if b"xmlns:" + p + b"=" not in data[root.start():data.find(b">", root.start())])
    return data[:root.end()] + decls + data[root.end():] if decls else None


_LEADING_SPACE = re.compile(rb"^(\xef\xbb\xbf)?([ \t\r\n]+)(<\?xml\b[^>]*\?>)")


def _declaration_first(data: bytes) -> bytes:
    """Blank lines before the XML declaration (common in exported files) move after it.

    XML forbids anything before the declaration; moving the whitespace behind it keeps
    every later line number as in the source.
    """
    m = _LEADING_SPACE.match(data)
    if m is None:
        return data
    return (m.group(1) or b"") + m.group(3) + m.group(2) + data[m.end():]


def parse(source: Source, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse and check a C-CDA document; returns the ClinicalDocument element."""
    data = read_source(source, max_bytes)
    if not data or data.isspace():   # what `not data.strip()` tests, without copying the document
        raise InvalidXMLError("input is empty")
    data = _declaration_first(data)
    parser, guard = _parser()
    try:
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError as exc:
            patched = _declare_missing_prefixes(data, exc)
            if patched is None:
                raise
            parser, guard = _parser()
            root = etree.fromstring(patched, parser)
    except etree.XMLSyntaxError as exc:
        if guard.asked:
            raise InvalidXMLError(f"documents that load external DTDs or entities are refused "
                                  f"({guard.asked[0][:80]!r})", line=1) from None
        line, col = (exc.position if exc.position else (None, None))
        msg = _LXML_WHERE.sub("", exc.msg or str(exc))
        if "depth" in msg.lower() or "nesting" in msg.lower():
            limit = re.search(r"\d+", msg)
            raise InputTooLargeError(f"XML nested too deeply (over {limit.group(0) if limit else 'the parser limit of'} "
                                     f"levels)", line=line, column=col) from None
        raise InvalidXMLError(f"not well-formed XML: {msg}", line=line, column=col) from None
    if guard.asked:
        raise InvalidXMLError(f"documents that load external DTDs or entities are refused "
                              f"({guard.asked[0][:80]!r})", line=1)
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
