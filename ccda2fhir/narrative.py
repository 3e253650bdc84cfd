"""Section narrative -> FHIR XHTML, and the text behind every ID the entries reference.

CDA narrative elements become their XHTML equivalents; only elements and
attributes FHIR's narrative rules allow are written (no script, no event
attributes, no javascript: or other active links). Whatever the narrative
holds, the output is well-formed XHTML inside one <div xmlns="http://www.w3.org/1999/xhtml">.
"""
from __future__ import annotations

import re

from lxml import etree

XHTML = "http://www.w3.org/1999/xhtml"
_V3 = "{urn:hl7-org:v3}"
# CDA narrative element -> XHTML element (None: keep the children, drop the element).
_ELEMENTS = {
    "paragraph": "p", "content": "span", "list": "ul", "item": "li", "caption": "b",
    "table": "table", "thead": "thead", "tbody": "tbody", "tfoot": "tfoot", "tr": "tr",
    "th": "th", "td": "td", "col": "col", "colgroup": "colgroup", "br": "br", "sub": "sub",
    "sup": "sup", "linkHtml": "a", "footnote": "span", "footnoteRef": "span", "text": "div",
    "renderMultiMedia": None,
    # XHTML names some senders put straight into the narrative
    "p": "p", "span": "span", "div": "div", "ul": "ul", "ol": "ol", "li": "li", "b": "b",
    "i": "i", "em": "em", "strong": "strong", "u": "u", "h1": "h3", "h2": "h3", "h3": "h3",
    "h4": "h4", "h5": "h5", "h6": "h6", "pre": "pre", "code": "code", "small": "small",
    "big": "big", "tt": "tt", "hr": "hr", "a": "a", "img": None, "font": "span",
    "center": "div", "blockquote": "blockquote", "dl": "dl", "dt": "dt", "dd": "dd",
}
# Active or embedded content: dropped with everything inside it.
_DROP_ALL = frozenset({"script", "style", "iframe", "object", "embed", "applet", "form", "input",
                       "button", "select", "textarea", "link", "meta", "base", "frame", "frameset",
                       "svg", "math", "audio", "video", "source", "canvas"})
_KEEP_ATTRS = {"colspan", "rowspan", "align", "valign", "char", "charoff", "span", "width",
               "border", "cellpadding", "cellspacing", "summary", "scope", "abbr", "axis",
               "headers", "title", "lang"}
_STYLE_CLASSES = {"Bold": "bold", "Italics": "italics", "Underline": "underline",
                  "Emphasis": "emphasis", "Lrule": "lrule", "Rrule": "rrule", "Toprule": "toprule",
                  "Botrule": "botrule", "Arabic": "arabic", "LittleRoman": "little-roman",
                  "BigRoman": "big-roman", "LittleAlpha": "little-alpha", "BigAlpha": "big-alpha",
                  "Disc": "disc", "Circle": "circle", "Square": "square"}
_SAFE_HREF = re.compile(r"^(https?:|mailto:|#)", re.I)
_CLASS_TOKEN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text_of(el) -> str:
    return " ".join("".join(el.itertext()).split())


def collect_ids(text_el, ids: dict) -> None:
    """Record the text of every element with an ID (for <reference value="#id"/>)."""
    for el in text_el.iter():
        if not isinstance(el.tag, str):
            continue
        ident = el.get("ID") or el.get("id")
        if ident and ident not in ids:
            t = _text_of(el)
            if t:
                ids[ident] = t


def _copy(src, parent) -> None:
    name = _local(src.tag)
    target = _ELEMENTS.get(name, "span") if name else None
    if target is None or name.lower() in _DROP_ALL:
        # dropped element: its tail text still belongs to the parent
        _append_text(parent, src.tail)
        return
    el = etree.SubElement(parent, f"{{{XHTML}}}{target}")
    if name == "list" and src.get("listType") == "ordered":
        el.tag = f"{{{XHTML}}}ol"
    for k, v in src.attrib.items():
        k = _local(k)
        if k in _KEEP_ATTRS:
            el.set(k, v)
        elif k in ("ID", "id") and re.match(r"^[A-Za-z_][A-Za-z0-9_.\-]*$", v):
            el.set("id", v)
        elif k == "styleCode":
            classes = [_STYLE_CLASSES.get(t, t.lower()) for t in v.split() if _CLASS_TOKEN.match(t)]
            if classes:
                el.set("class", " ".join(classes))
        elif k == "href" and target == "a" and _SAFE_HREF.match(v.strip()):
            el.set("href", v.strip())
    el.text = src.text
    for child in src:
        if isinstance(child.tag, str):
            _copy(child, el)
        else:
            _append_text(el, child.tail)
    el.tail = src.tail


def _append_text(el, text) -> None:
    if not text:
        return
    if len(el):
        last = el[-1]
        last.tail = (last.tail or "") + text
    else:
        el.text = (el.text or "") + text


def to_xhtml(text_el) -> str | None:
    """FHIR narrative XHTML for a CDA section <text>; None when it holds no text."""
    if text_el is None or not _text_of(text_el):
        return None
    div = etree.Element(f"{{{XHTML}}}div", nsmap={None: XHTML})
    div.text = text_el.text
    for child in text_el:
        if isinstance(child.tag, str):
            _copy(child, div)
        else:
            _append_text(div, child.tail)
    return etree.tostring(div, encoding="unicode")


def section_narrative(text_el, ids: dict) -> str | None:
    """The walker's narrative hook: record IDs, return the XHTML."""
    collect_ids(text_el, ids)
    return to_xhtml(text_el)
