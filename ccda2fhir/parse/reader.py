"""Safe parsing of a C-CDA document: no entities, no DTD, no network, bounded size."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Union

from lxml import etree

from ..errors import ConversionError, InputTooLargeError, InputTypeError, InvalidXMLError, NotCCDAError
from ..limits import LIMITS
from .repairs import REPAIRS
from .sniff import looks_like_a_path, what_it_is

Source = Union[str, bytes, bytearray, memoryview, os.PathLike]

DEFAULT_MAX_BYTES = LIMITS.max_bytes
CDA_NS = "urn:hl7-org:v3"
# libxml2's own limits without XML_PARSE_HUGE: text nodes and attribute values up to 10,000,000
# characters, elements nested up to 256 deep. The first is lifted, only for documents that
# need it, up to Limits.max_text; the second never.
_LIBXML_MAX_TEXT = 10_000_000
_LIBXML_MAX_DEPTH = 256
_LIBXML_MAX_NAME = 50_000
_HUGE_ONLY = ("Text node too long", "Buffer size limit exceeded", "AttValue length too long", "huge text node")
_MAX_REPAIRS = 8

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


def _parser(huge: bool = False) -> tuple[etree.XMLParser, _NoFetch]:
    # A fresh parser per call: lxml parsers are not thread-safe, and the HTTP
    # shim may convert on several threads. Making one costs about a microsecond
    # (libxml2's parser context is per parse anyway): reusing one per thread saves
    # nothing measurable next to a millisecond-long parse.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, attribute_defaults=False, huge_tree=huge,
                             remove_pis=True, remove_comments=True, collect_ids=False)
    guard = _NoFetch()
    parser.resolvers.add(guard)
    return parser, guard


def _read_file(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputTooLargeError(f"input is {size} bytes, over the limit of {max_bytes}", location=str(path))
        return path.read_bytes()
    except OSError as exc:
        raise InvalidXMLError(f"cannot read the file: {exc.strerror or exc}", location=str(path)) from None
    except ValueError as exc:  # a NUL in the name
        raise InvalidXMLError(f"cannot read the file: {exc}", location=repr(str(path))) from None


def read_source(source: Source, max_bytes: int = LIMITS.max_bytes) -> bytes:
    """The bytes to parse, enforcing the size limit: str and bytes are the document itself (never
    a file name); a path (os.PathLike) is read."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, os.PathLike):
        data = _read_file(Path(source), max_bytes)
    elif isinstance(source, str):
        if not source.strip("\ufeff \t\r\n"):
            raise InvalidXMLError("input is empty")
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
        raise InputTypeError(f"cannot convert a {type(source).__name__}; pass str or bytes (the document) "
                             f"or a pathlib.Path")
    if len(data) > max_bytes:
        raise InputTooLargeError(f"input is {len(data)} bytes, over the limit of {max_bytes}")
    return data


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


def _refused_syntax(exc: etree.XMLSyntaxError, data: bytes, max_text: int) -> ConversionError:
    """The error to raise for what libxml2 refused: what the input is, when it is clearly not XML."""
    line, col = (exc.position if exc.position else (None, None))
    msg = _LXML_WHERE.sub("", exc.msg or str(exc)).strip()
    kind = what_it_is(data)
    if kind:
        return NotCCDAError(f"the input is {kind}, not an XML document")
    if "depth" in msg.lower() or "nesting" in msg.lower():
        limit = re.search(r"\d+", msg)
        return InputTooLargeError(f"XML nested too deeply (over {limit.group(0) if limit else 'the parser limit of'} "
                                  f"levels)", line=line, column=col)
    if any(m in msg for m in _HUGE_ONLY):
        return InputTooLargeError(f"a text node or attribute value is longer than {_LIBXML_MAX_TEXT} "
                                  f"characters (max_text is {max_text})", line=line, column=col)
    if looks_like_a_path(data):
        msg += ("; a str or bytes input is the document itself, and this one looks like a file name: "
                "pass a pathlib.Path or call convert_file()")
    return InvalidXMLError(f"not well-formed XML: {msg}", line=line, column=col)


def _check_tree(root, max_text: int, max_attributes: int, lifted: bool) -> None:
    """One pass over a document that may hold over-long text, or was parsed with libxml2's size
    limits lifted (``lifted``): every text and attribute value within max_text; then also nesting
    and names within libxml2's usual 256 levels and 50,000 characters. Never runs on documents
    smaller than max_text parsed normally."""
    stack = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        if lifted:
            if depth > _LIBXML_MAX_DEPTH:
                raise InputTooLargeError(f"XML nested too deeply (over {_LIBXML_MAX_DEPTH} levels)",
                                         line=el.sourceline)
            if isinstance(el.tag, str) and len(el.tag.rpartition("}")[2]) > _LIBXML_MAX_NAME:
                raise InvalidXMLError("not well-formed XML: Name too long", line=el.sourceline)
        for text in (el.text, el.tail):
            if text is not None and len(text) > max_text:
                raise InputTooLargeError(f"a text node of {len(text)} characters, over the limit of {max_text}",
                                         line=el.sourceline)
        if not isinstance(el.tag, str):
            continue
        attrib = el.attrib
        if len(attrib) > max_attributes:   # before values(): quadratic in the count
            raise InputTooLargeError(f"element <{etree.QName(el).localname}> has {len(attrib)} attributes, "
                                     f"over the limit of {max_attributes}", line=el.sourceline)
        for name, value in attrib.items():
            if lifted and len(name.rpartition("}")[2]) > _LIBXML_MAX_NAME:
                raise InvalidXMLError("not well-formed XML: Name too long", line=el.sourceline)
            if len(value) > max_text:
                raise InputTooLargeError(f"an attribute value of {len(value)} characters, over the limit of "
                                         f"{max_text}", line=el.sourceline)
        stack.extend((child, depth + 1) for child in el)


def parse(source: Source, *, max_bytes: int = LIMITS.max_bytes, max_text: int = LIMITS.max_text,
          max_attributes: int = LIMITS.max_attributes, notes: list | None = None) -> etree._Element:
    """Parse and check a C-CDA document; returns the ClinicalDocument element.

    Sender mistakes mended on the way (ccda2fhir.repairs) are appended to ``notes`` as
    (message, line) when a list is given.
    """
    data = read_source(source, max_bytes)
    if not data or data.isspace():   # what `not data.strip()` tests, without copying the document
        raise InvalidXMLError("input is empty")
    data = _declaration_first(data)
    huge = False
    for _ in range(_MAX_REPAIRS):
        parser, guard = _parser(huge)
        try:
            root = etree.fromstring(data, parser)
            break
        except etree.XMLSyntaxError as exc:
            if guard.asked:
                raise _external_refused(guard) from None
            last = exc
            msg = exc.msg or ""
            if not huge and max_text > _LIBXML_MAX_TEXT and any(m in msg for m in _HUGE_ONLY):
                huge = True   # a long text node (an embedded PDF) within max_text: parse again
                continue
            for repair in REPAIRS:
                mended = repair(data, exc)
                if mended is not None:
                    data, note = mended
                    if note and notes is not None:
                        notes.append((note, exc.position[0] if exc.position else None))
                    break
            else:
                raise _refused_syntax(exc, data, max_text) from None
    else:  # mended as often as allowed and still refused
        raise _refused_syntax(last, data, max_text) from None
    if guard.asked:
        raise _external_refused(guard)
    docinfo = root.getroottree().docinfo
    dtd = docinfo.internalDTD
    if dtd is not None and (list(dtd.entities()) or list(dtd.iterelements())):
        raise InvalidXMLError("documents with DTD declarations are refused (entity expansion risk)",
                              line=1)
    if huge or len(data) > max_text:
        _check_tree(root, max_text, max_attributes, lifted=huge)
    if not isinstance(root.tag, str) or etree.QName(root).localname != "ClinicalDocument":
        name = etree.QName(root).localname if isinstance(root.tag, str) else "?"
        raise NotCCDAError(f"root element is <{name}>, not an HL7 CDA <ClinicalDocument>",
                           line=root.sourceline)
    ns = etree.QName(root).namespace
    if ns not in (CDA_NS, None):
        raise NotCCDAError(f"<ClinicalDocument> is in namespace {ns!r}, not {CDA_NS!r}",
                           line=root.sourceline)
    return root


def _external_refused(guard) -> InvalidXMLError:
    return InvalidXMLError(f"documents that load external DTDs or entities are refused "
                           f"({guard.asked[0][:80]!r})", line=1)
