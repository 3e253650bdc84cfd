"""Pure-Python twin of the compiled walker (ext/walker.pyx): same input, same output.

The walker makes the one pass over a parsed ClinicalDocument. The header and
every section entry become plain data (dicts, lists, str, int) that the mapping
templates read; each section's narrative goes through ``narrative`` once, which
returns its FHIR XHTML and the text behind every ID the entries may reference.
Keep this file and ext/walker.pyx in step: tests/test_walker_twins.py compares them.
"""
from __future__ import annotations

from lxml import etree

from .shape import NS_PREFIX, load

_REPEAT, _REPEAT_BY_PARENT, _STATEMENTS = load()
_EMPTY = frozenset()
_Comment = etree._Comment


class LimitError(ValueError):
    """The document exceeds one of the walker's bounds. The message is '<what> at line <N>'
    (or just '<what>'); ``what`` and ``line`` (None when unknown) are its two parts."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        what, _, line = message.rpartition(" at line ")
        self.what = what if line.isdigit() else message
        self.line = int(line) if line.isdigit() else None


class DepthError(LimitError):
    """The document nests deeper than the walker allows."""


def _too_many_attributes(el, count, max_attributes):
    return LimitError(f"element <{_name(el.tag)}> has {count} attributes, over the limit of "
                      f"{max_attributes} at line {el.sourceline}")


def _name(tag):
    # '{ns}local' -> 'local', with a prefix for the sdtc and xsi namespaces.
    if tag[0] == "{":
        ns, _, local = tag[1:].partition("}")
        return NS_PREFIX.get(ns, "") + local
    return tag


def plain(el, max_depth=200, depth=0, max_attributes=256):
    """One element as plain data: attributes, '_text', '_line', children by name."""
    if depth > max_depth:
        raise DepthError(f"element nested deeper than {max_depth} levels at line {el.sourceline}")
    d = {"_line": el.sourceline}
    attrib = el.attrib
    count = len(attrib)   # counted before items(): lxml's items() is quadratic in the count
    if count > max_attributes:
        raise _too_many_attributes(el, count, max_attributes)
    for k, v in attrib.items():
        d[_name(k)] = v
    text = el.text
    parts = [text] if text and not text.isspace() else []
    repeat_here = _REPEAT_BY_PARENT.get(_name(el.tag), _EMPTY)
    for child in el:
        tail = child.tail
        if tail and not tail.isspace():
            parts.append(tail)
        tag = child.tag
        if not isinstance(tag, str):
            continue
        key = _name(tag)
        value = plain(child, max_depth, depth + 1, max_attributes)
        if key in _REPEAT or key in repeat_here:
            lst = d.get(key)
            if lst is None:
                d[key] = [value]
            else:
                lst.append(value)
        elif key not in d:
            d[key] = value
    if parts:
        d["_text"] = " ".join(" ".join(p.split()) for p in parts)
    return d


def _roots(el):
    return [t.get("root") for t in el if t.tag == "{urn:hl7-org:v3}templateId" and t.get("root")]


def _section(sec, parent_key, depth, narrative, ids, out, max_depth, max_attributes):
    code = sec.find("{urn:hl7-org:v3}code")
    title = sec.find("{urn:hl7-org:v3}title")
    text = sec.find("{urn:hl7-org:v3}text")
    templates = _roots(sec)
    code_plain = plain(code, max_depth, 0, max_attributes) if code is not None else None
    loinc = code.get("code") if code is not None else None
    key = templates[0] if templates else (loinc or "")
    info = {
        "key": key,
        "templateIds": templates,
        "code": code_plain,
        "title": " ".join("".join(title.itertext()).split()) if title is not None else None,
        "line": sec.sourceline,
        "depth": depth,
        "parent": parent_key,
        "nullFlavor": sec.get("nullFlavor"),
        "xhtml": None,
        "entries": [],
        "subsections": [],
        "attributes": {},
    }
    if text is not None:
        info["xhtml"] = narrative(text, ids)
    out.append(info)
    index = len(out) - 1
    for child in sec:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        local = _name(tag)
        if local == "entry":
            info["entries"].append(plain(child, max_depth, depth + 2, max_attributes))
        elif local == "component":
            for sub in child:
                if isinstance(sub.tag, str) and _name(sub.tag) == "section":
                    info["subsections"].append(len(out))
                    _section(sub, key, depth + 1, narrative, ids, out, max_depth, max_attributes)
        elif local not in ("code", "title", "text", "templateId"):
            info["attributes"].setdefault(local, []).append(plain(child, max_depth, depth + 2, max_attributes))
    return index


def walk(root, narrative, max_depth=200, max_attributes=256):
    """Walk a parsed ClinicalDocument once; returns header, sections and narrative ids.

    ``narrative(text_element, ids)`` converts a section's <text> to FHIR XHTML and
    records its ID'd elements' text into ``ids``. An element nested deeper than
    ``max_depth`` or carrying more than ``max_attributes`` raises LimitError.
    """
    header = {"_line": root.sourceline}
    attrib = root.attrib
    if len(attrib) > max_attributes:
        raise _too_many_attributes(root, len(attrib), max_attributes)
    for k, v in attrib.items():
        header[_name(k)] = v
    sections = []
    ids = {}
    body = None
    nonxml = None
    for child in root:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        key = _name(tag)
        if key == "component":
            for b in child:
                if not isinstance(b.tag, str):
                    continue
                bname = _name(b.tag)
                if bname == "structuredBody":
                    body = "structured"
                    for comp in b:
                        if not isinstance(comp.tag, str) or _name(comp.tag) != "component":
                            continue
                        for sec in comp:
                            if isinstance(sec.tag, str) and _name(sec.tag) == "section":
                                _section(sec, None, 0, narrative, ids, sections, max_depth, max_attributes)
                elif bname == "nonXMLBody":
                    body = "nonxml"
                    nonxml = plain(b, max_depth, 0, max_attributes)
            continue
        value = plain(child, max_depth, 1, max_attributes)
        if key in _REPEAT:
            header.setdefault(key, []).append(value)
        elif key not in header:
            header[key] = value
    return {"header": header, "body": body, "nonxml": nonxml, "sections": sections,
            "narrative": ids}
