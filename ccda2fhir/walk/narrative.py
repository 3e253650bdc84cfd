"""Section narrative -> FHIR XHTML, and the text behind every ID the entries reference.

CDA narrative elements become their XHTML equivalents (C-CDA on FHIR, 'Narrative
Text'); only what FHIR's narrative rules (R4 narrative.html) allow is written:

- elements: a fixed list of basic XHTML elements (HTML 4 chapters 7-11 and 15, not ins/del); active or embedded content
  (script, style, object, embed, iframe, form and its controls, base, link, meta,
  frames, svg, math, audio, video, img) is dropped with everything inside it;
- attributes: a fixed list of presentational/table ones plus ``id``, ``class``,
  ``href`` and ``lang``; every event attribute (on*) and ``style`` are dropped
  (our choice: FHIR allows style, but CSS can carry url()/expression(), and CDA
  has no style attribute: styleCode becomes ``class``);
- links: only http(s):, mailto: and local (#) hrefs; javascript:, data:,
  vbscript:, relative and anything else lose the href and keep their text;
- ids: valid NCNames and unique within the div (a repeated ID is dropped);
- whitespace runs collapse to one space (except inside pre), the div is trimmed.

Whatever the narrative holds, the output is well-formed XHTML inside one
``<div xmlns="http://www.w3.org/1999/xhtml">`` with some text in it, or None.

Senders sometimes put escaped HTML in the narrative (``&lt;br&gt;``, which parses
as the text ``<br>``): line breaks become real ``<br/>`` and ``&nbsp;`` a no-break
space; any other escaped markup stays visible text (never parsed as markup).
"""
from __future__ import annotations

import re

from lxml import etree

from .pywalker import LimitError

XHTML = "http://www.w3.org/1999/xhtml"
_V3 = "{urn:hl7-org:v3}"
# CDA narrative element -> XHTML element (None: drop the element, keep its tail text).
_ELEMENTS = {
    "paragraph": "p", "content": "span", "list": "ul", "item": "li", "caption": "caption",
    "table": "table", "thead": "thead", "tbody": "tbody", "tfoot": "tfoot", "tr": "tr",
    "th": "th", "td": "td", "col": "col", "colgroup": "colgroup", "br": "br", "sub": "sub",
    "sup": "sup", "linkHtml": "a", "footnote": "span", "footnoteRef": "sup", "text": "div",
    "renderMultiMedia": "span",
    # XHTML names some senders put straight into the narrative
    "p": "p", "span": "span", "div": "div", "ul": "ul", "ol": "ol", "li": "li", "b": "b",
    "i": "i", "em": "em", "strong": "strong", "u": "u", "s": "s", "h1": "h1", "h2": "h2",
    "h3": "h3", "h4": "h4", "h5": "h5", "h6": "h6", "pre": "pre", "code": "code",
    "small": "small", "big": "big", "tt": "tt", "hr": "hr", "a": "a", "font": "span",
    "center": "div", "blockquote": "blockquote", "dl": "dl", "dt": "dt", "dd": "dd",
    "del": "s", "ins": "span", "q": "q", "cite": "cite", "abbr": "abbr", "acronym": "acronym",
    "dfn": "dfn", "kbd": "kbd", "samp": "samp", "var": "var", "address": "address",
    "strike": "span", "nobr": "span", "label": "span", "section": "div", "article": "div",
    "header": "div", "footer": "div", "main": "div", "nav": "div", "aside": "div",
    "figure": "div", "figcaption": "p", "mark": "span", "wbr": None,
}
# Active or embedded content: dropped with everything inside it.
_DROP_ALL = frozenset({"script", "style", "iframe", "object", "embed", "applet", "form", "input",
                       "button", "select", "textarea", "option", "link", "meta", "base", "frame",
                       "frameset", "noframes", "svg", "math", "audio", "video", "source", "track",
                       "canvas", "img", "image", "head", "title", "template", "noscript", "param",
                       "map", "area", "portal", "dialog"})
_BLOCK = frozenset({"paragraph", "list", "table", "p", "ul", "ol", "div", "pre", "blockquote", "dl",
                    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "center", "address"})
_NO_TEXT = frozenset({"table", "thead", "tbody", "tfoot", "tr", "ul", "ol", "colgroup", "dl"})
_EMPTY = frozenset({"br", "hr", "col"})          # XHTML elements with no content
_KEEP_ATTRS = {"colspan", "rowspan", "align", "valign", "char", "charoff", "span", "width",
               "border", "cellpadding", "cellspacing", "summary", "scope", "abbr", "axis",
               "headers", "title", "lang"}
_STYLE_CLASSES = {"Bold": "bold", "Italics": "italics", "Underline": "underline",
                  "Emphasis": "emphasis", "Lrule": "lrule", "Rrule": "rrule", "Toprule": "toprule",
                  "Botrule": "botrule", "Arabic": "arabic", "LittleRoman": "little-roman",
                  "BigRoman": "big-roman", "LittleAlpha": "little-alpha", "BigAlpha": "big-alpha",
                  "Disc": "disc", "Circle": "circle", "Square": "square"}
_SAFE_HREF = re.compile(r"^(https?://|mailto:|#)", re.I)
_UNSAFE_IN_HREF = re.compile(r"[<>\"'`\\]")
_CLASS_TOKEN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_ESCAPED_BR = re.compile(r"<\s*br\s*/?\s*>", re.I)
_WS = re.compile(r"[ \t\r\n]+")


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


def _holding_blocks(text_el) -> set:
    """Every element with a block element (paragraph, list, table...) somewhere inside it, found in
    one pass: each block element marks its ancestors up to the first one already marked."""
    holders: set = set()     # holds the proxies, so lxml keeps handing out these same objects
    for el in text_el.iter():
        if isinstance(el.tag, str) and _local(el.tag) in _BLOCK:
            up = el.getparent()
            while up is not None and up not in holders:
                holders.add(up)
                up = up.getparent()
    return holders


class _Writer:
    """Copies one CDA narrative tree into XHTML, keeping state (ids used, pre depth, text not yet
    placed). Text is gathered per output element and placed once, before its next child and when it
    is complete: appending piece by piece to lxml's text would copy it again each time (quadratic
    in the number of pieces, as with thousands of dropped elements each leaving a tail)."""

    def __init__(self, max_attributes: int = 256, holding_blocks: set | None = None) -> None:
        self.ids: set[str] = set()
        self.pre = 0
        self.max_attributes = max_attributes
        self.holding_blocks = holding_blocks or set()
        self.pending: dict = {}     # output element -> text pieces for its end, in order

    def flush(self, el) -> None:
        """Place the text gathered for ``el`` at its end."""
        parts = self.pending.pop(el, None)
        if parts:
            _append_text(el, "".join(parts))

    def sub(self, parent, tag: str):
        """A new last child of ``parent``, after the text gathered so far."""
        self.flush(parent)
        return etree.SubElement(parent, f"{{{XHTML}}}{tag}")

    def text(self, value: str | None) -> str | None:
        if not value:
            return value
        if self.pre:
            return value
        return _WS.sub(" ", value)

    def add_text(self, parent, value: str | None) -> None:
        """Append text to ``parent``'s content, turning escaped <br> into real line breaks."""
        if not value:
            return
        if not value.strip() and _local(parent.tag) in _NO_TEXT:
            return           # indentation between table rows or list items: not content
        value = value.replace("&nbsp;", "\u00a0")
        pieces = _ESCAPED_BR.split(value)
        for i, piece in enumerate(pieces):
            if i:
                self.sub(parent, "br")
            piece = self.text(piece)
            if piece:
                self.pending.setdefault(parent, []).append(piece)

    def copy(self, src, parent) -> None:
        name = _local(src.tag)
        if name.lower() in _DROP_ALL:
            self.add_text(parent, src.tail)
            return
        target = _ELEMENTS.get(name, _ELEMENTS.get(name.lower(), "span"))
        if target is None:
            self.add_text(parent, src.tail)
            return
        if target in ("p", "span") and src in self.holding_blocks:
            target = "div"       # XHTML p/span cannot hold lists, tables or paragraphs
        revised = src.get("revised") if name == "content" else None
        if revised == "delete":
            # FHIR narrative excludes HTML 4 ins/del (chapter 9.4): struck-through text instead
            target = "s"
        elif name == "list" and (src.get("listType") or "").lower() == "ordered":
            target = "ol"
        if target == "caption":
            first = not any(isinstance(p.tag, str) for p in src.itersiblings(preceding=True))
            if _local(src.getparent().tag) != "table" or not first:
                # XHTML allows caption only as a table's first child; elsewhere it is bold text
                target = "b"
        if target in ("ul", "ol"):
            # a list's caption goes before the list, as a bold paragraph
            for child in src:
                if isinstance(child.tag, str) and _local(child.tag) == "caption":
                    cap = self.sub(parent, "p")
                    b = self.sub(cap, "b")
                    self.add_text(b, child.text)
                    for sub in child:
                        self.child(sub, b)
                    self.flush(b)
                    self._trim(cap)
        el = self.sub(parent, target)
        self.attributes(src, el, name, target)
        if target == "pre":
            self.pre += 1
        if target in _EMPTY:
            # br/hr/col have no content: whatever a sender put inside goes after them
            self.add_text(parent, src.text)
            for child in src:
                self.child(child, parent)
        else:
            if name == "renderMultiMedia":
                # the image itself is a separate observationMedia entry; keep its caption
                el.set("class", (el.get("class", "") + " multimedia").strip())
            self.add_text(el, src.text)
            for child in src:
                if target in ("ul", "ol") and isinstance(child.tag, str) and _local(child.tag) == "caption":
                    self.add_text(el, child.tail)
                    continue
                self.child(child, el)
            self.flush(el)
        if target == "pre":
            self.pre -= 1
        self.add_text(parent, src.tail)

    def child(self, child, parent) -> None:
        if isinstance(child.tag, str):
            self.copy(child, parent)
        else:  # comment or processing instruction: only its tail text stays
            self.add_text(parent, child.tail)

    def attributes(self, src, el, name: str, target: str) -> None:
        classes = []
        attrib = src.attrib
        count = len(attrib)   # counted before items(): lxml's items() is quadratic in the count
        if count > self.max_attributes:
            raise LimitError(f"element <{name}> has {count} attributes, over the limit of "
                             f"{self.max_attributes} at line {src.sourceline}")
        for k, v in attrib.items():
            k = _local(k)
            v = v.strip()
            if k.lower().startswith("on") or not v:
                continue
            if k in _KEEP_ATTRS and target not in ("br",):
                el.set(k, v)
            elif k in ("ID", "id"):
                if _NCNAME.match(v) and v not in self.ids and target != "br":
                    self.ids.add(v)
                    el.set("id", v)
            elif k == "styleCode" and target != "br":
                classes += [_STYLE_CLASSES.get(t, t.lower()) for t in v.split() if _CLASS_TOKEN.match(t)]
            elif k == "class" and target != "br":
                classes += [t for t in v.split() if _CLASS_TOKEN.match(t)]
            elif k == "href" and target == "a":
                href = "".join(v.split())
                if _SAFE_HREF.match(href) and not _UNSAFE_IN_HREF.search(href):
                    el.set("href", href)
            elif k == "IDREF" and name == "footnoteRef":
                el.set("class", "footnote-ref")
        if name == "footnote":
            classes.append("footnote")
        if name == "content" and src.get("revised") in ("delete", "insert"):
            classes.append(f"revised-{src.get('revised')}")
        if classes:
            el.set("class", " ".join(dict.fromkeys(classes)))

    def _trim(self, el) -> None:
        if el.text:
            el.text = el.text.lstrip()


def _append_text(el, text) -> None:
    if not text:
        return
    try:
        last = el[-1]          # O(1); len(el) would count every child
    except IndexError:
        el.text = (el.text or "") + text
    else:
        last.tail = (last.tail or "") + text


def _strip_ends(div) -> None:
    if div.text:
        div.text = div.text.lstrip() or None
    if len(div):
        last = div[-1]
        if last.tail:
            last.tail = last.tail.rstrip() or None
    elif div.text:
        div.text = div.text.rstrip() or None


def to_xhtml(text_el, max_attributes: int = 256) -> str | None:
    """FHIR narrative XHTML for a CDA section <text>; None when it holds no text.

    An element with more than ``max_attributes`` attributes raises LimitError (as the walker does).
    """
    if text_el is None or not _text_of(text_el):
        return None
    div = etree.Element(f"{{{XHTML}}}div", nsmap={None: XHTML})
    writer = _Writer(max_attributes, _holding_blocks(text_el))
    writer.add_text(div, text_el.text)
    for child in text_el:
        writer.child(child, div)
    writer.flush(div)
    _strip_ends(div)
    if not "".join(div.itertext()).strip():
        return None          # nothing readable survived (only scripts, say)
    return etree.tostring(div, encoding="unicode")


def section_narrative(text_el, ids: dict, max_attributes: int = 256) -> str | None:
    """The walker's narrative hook: record IDs, return the XHTML."""
    collect_ids(text_el, ids)
    return to_xhtml(text_el, max_attributes)
