# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled narrative: section <text> -> FHIR XHTML, and the text behind every ID.

Built by setup.py as ccda2fhir.walk._narrative; ccda2fhir/walk/narrative.py is its pure-Python twin and the
one place the rules (element and attribute lists, style classes, patterns) are written: they are
imported from it. The twin builds an lxml tree and serialises it; this writes the same XHTML
straight into a UTF-8 buffer while reading libxml2's nodes (nodes.pxd), with libxml2's escaping,
so the output is the same string byte for byte (tests/test_narrative_twins.py checks the corpus).
"""
cimport lxml.includes.etreepublic as cetree
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeUTF8
from libc.string cimport memchr, strcmp, strlen
from lxml.includes.tree cimport XML_ATTRIBUTE_NODE, XML_ELEMENT_NODE, xmlAttr, xmlNode

from nodes cimport (attribute_value, count_attributes, get_attribute, import_lxml, is_element_like,
                    itertext_add, next_in_subtree, run_add, sourceline, text_or_skip)
from utf8 cimport (Buf, all_space, buf_add, buf_byte, buf_free, buf_str, escape_xml, lstrip_space,
                   rstrip_space)

from ccda2fhir.walk.narrative import (_BLOCK, _CLASS_TOKEN, _DROP_ALL, _ELEMENTS, _EMPTY, _ESCAPED_BR,
                                 _KEEP_ATTRS, _NCNAME, _NO_TEXT, _SAFE_HREF, _STYLE_CLASSES,
                                 _UNSAFE_IN_HREF, XHTML)
from ccda2fhir.walk.pywalker import LimitError

import_lxml()

cdef bytes _DIV_START = f'<div xmlns="{XHTML}"'.encode()
cdef dict _TARGETS = {}       # CDA/XHTML local name -> (drop with content, XHTML target or None)
cdef int _TARGETS_MAX = 4096  # names are the sender's: the memo stays bounded


cdef tuple _target(str name):
    cdef tuple info = _TARGETS.get(name)
    if info is None:
        lower = name.lower()
        info = (lower in _DROP_ALL, _ELEMENTS.get(name, _ELEMENTS.get(lower, "span")))
        if len(_TARGETS) < _TARGETS_MAX:
            _TARGETS[name] = info
    return info


cdef inline str _local(xmlNode* c):
    return PyUnicode_DecodeUTF8(<const char*>c.name, strlen(<const char*>c.name), NULL)


cdef bint _has_block(xmlNode* el):
    # any(_local(d.tag) in _BLOCK for d in el.iterdescendants() if isinstance(d.tag, str))
    cdef xmlNode* c = el.children
    while c != NULL:
        if c.type == XML_ELEMENT_NODE and _local(c) in _BLOCK:
            return True
        c = next_in_subtree(c, el)
    return False


cdef bint _first_child_element(xmlNode* el) noexcept:
    cdef xmlNode* c = el.prev
    while c != NULL:
        if c.type == XML_ELEMENT_NODE:
            return False
        c = c.prev
    return True


cdef str _text_of(xmlNode* el, Buf* scratch):
    # " ".join("".join(el.itertext()).split())
    scratch.len = 0
    itertext_add(el, scratch)
    return " ".join(buf_str(scratch).split())


cdef class _Writer:
    """Writes one CDA narrative tree as XHTML, keeping the twin's state (ids used, pre depth)."""
    cdef Buf out          # the XHTML so far
    cdef Buf pending      # text directly inside the div since its last child: its ends are trimmed
    cdef Buf run          # one text run, when it spans several nodes
    cdef Buf collapsed    # one text piece with its whitespace runs collapsed
    cdef bint open_start  # the last start tag still lacks its '>' (it may become '/>')
    cdef bint div_child   # the div has a child element (its leading text is done)
    cdef bint has_text    # some non-space text was written
    cdef int depth        # open elements inside the div
    cdef int pre
    cdef int max_attributes
    cdef set ids

    def __cinit__(self, int max_attributes):
        self.ids = set()
        self.max_attributes = max_attributes

    def __dealloc__(self):
        buf_free(&self.out)
        buf_free(&self.pending)
        buf_free(&self.run)
        buf_free(&self.collapsed)

    # -- output ----------------------------------------------------------------------------------

    cdef int _content(self) except -1:
        if self.open_start:
            buf_byte(&self.out, b'>')
            self.open_start = False
        return 0

    cdef int _flush(self, bint last) except -1:
        # the div's own text: its start (before the first child) and its very end are trimmed
        cdef const char* s = self.pending.data
        cdef Py_ssize_t n = self.pending.len, skip = 0
        if not self.div_child:
            skip = lstrip_space(s, n)
        if last:
            n = rstrip_space(s, n)
        if n > skip:
            self._content()
            escape_xml(&self.out, s + skip, n - skip, False)
        self.pending.len = 0
        return 0

    cdef int start(self, str tag, dict attributes) except -1:
        cdef const char* s
        cdef Py_ssize_t n
        if self.depth == 0:
            self._flush(False)
            self.div_child = True
        self._content()
        buf_byte(&self.out, b'<')
        s = PyUnicode_AsUTF8AndSize(tag, &n)
        buf_add(&self.out, s, n)
        if attributes:
            for k, v in attributes.items():
                buf_byte(&self.out, b' ')
                s = PyUnicode_AsUTF8AndSize(k, &n)
                buf_add(&self.out, s, n)
                buf_add(&self.out, b'="', 2)
                s = PyUnicode_AsUTF8AndSize(v, &n)
                escape_xml(&self.out, s, n, True)
                buf_byte(&self.out, b'"')
        self.open_start = True
        self.depth += 1
        return 0

    cdef int end(self, str tag) except -1:
        cdef const char* s
        cdef Py_ssize_t n
        self.depth -= 1
        if self.open_start:
            buf_add(&self.out, b"/>", 2)
            self.open_start = False
            return 0
        buf_add(&self.out, b"</", 2)
        s = PyUnicode_AsUTF8AndSize(tag, &n)
        buf_add(&self.out, s, n)
        buf_byte(&self.out, b'>')
        return 0

    cdef int append(self, const char* s, Py_ssize_t n) except -1:
        # _append_text: text at the current place (the last child's tail or the element's text)
        if n <= 0:
            return 0
        if not self.has_text and not all_space(s, n):
            self.has_text = True
        if self.depth == 0:
            buf_add(&self.pending, s, n)
        else:
            self._content()
            escape_xml(&self.out, s, n, False)
        return 0

    cdef int piece(self, const char* s, Py_ssize_t n) except -1:
        # self.text(): whitespace runs (space, tab, CR, LF) become one space outside <pre>
        cdef Py_ssize_t i
        cdef char c
        cdef bint space = False
        if self.pre:
            return self.append(s, n)
        self.collapsed.len = 0
        for i in range(n):
            c = s[i]
            if c == b' ' or c == b'\t' or c == b'\n' or c == b'\r':
                space = True
                continue
            if space:
                buf_byte(&self.collapsed, b' ')
                space = False
            buf_byte(&self.collapsed, c)
        if space:
            buf_byte(&self.collapsed, b' ')
        return self.append(self.collapsed.data, self.collapsed.len)

    # -- the twin's steps ------------------------------------------------------------------------

    cdef int add_text(self, str parent, xmlNode* start) except -1:
        """The text run beginning at ``start`` (an element's text or a node's tail) into ``parent``."""
        cdef xmlNode* t = text_or_skip(start)
        cdef const char* s
        cdef Py_ssize_t n, i
        if t == NULL:
            return 0
        if text_or_skip(t.next) == NULL:
            if t.content == NULL:
                return 0
            s = <const char*>t.content
            n = strlen(s)
        else:
            self.run.len = 0
            run_add(t, &self.run)
            s = self.run.data
            n = self.run.len
        if n == 0:
            return 0
        if parent in _NO_TEXT and all_space(s, n):
            return 0           # indentation between table rows or list items: not content
        if memchr(s, b'<', n) == NULL and (memchr(s, b'&', n) == NULL or not _has_nbsp(s, n)):
            return self.piece(s, n)
        # escaped markup: &nbsp; becomes a no-break space and an escaped <br> a real one
        value = s[:n].decode("utf-8").replace("&nbsp;", "\u00a0")
        for i, part in enumerate(_ESCAPED_BR.split(value)):
            if i:
                self.start("br", None)
                self.end("br")
            s = PyUnicode_AsUTF8AndSize(part, &n)
            self.piece(s, n)
        return 0

    cdef int child(self, xmlNode* c, str parent) except -1:
        if c.type == XML_ELEMENT_NODE:
            return self.copy(c, parent)
        return self.add_text(parent, c.next)   # comment, PI, entity: only its tail text stays

    cdef int copy(self, xmlNode* src, str parent) except -1:
        cdef str name = _local(src)
        cdef xmlNode* c
        cdef xmlNode* sub
        cdef bint drop
        drop, target = _target(name)
        if drop or target is None:
            return self.add_text(parent, src.next)
        if (target == "p" or target == "span") and _has_block(src):
            target = "div"       # XHTML p/span cannot hold lists, tables or paragraphs
        revised = get_attribute(src, b"revised") if name == "content" else None
        if revised == "delete":
            target = "s"         # FHIR narrative excludes HTML 4 ins/del: struck-through text instead
        elif name == "list" and (get_attribute(src, b"listType") or "").lower() == "ordered":
            target = "ol"
        if target == "caption":
            if src.parent == NULL or strcmp(<const char*>src.parent.name, b"table") != 0 \
                    or not _first_child_element(src):
                target = "b"     # XHTML allows caption only as a table's first child
        lists = target == "ul" or target == "ol"
        if lists:
            # a list's caption goes before the list, as a bold paragraph
            c = src.children
            while c != NULL:
                if c.type == XML_ELEMENT_NODE and strcmp(<const char*>c.name, b"caption") == 0:
                    self.start("p", None)
                    self.start("b", None)
                    self.add_text("b", c.children)
                    sub = c.children
                    while sub != NULL:
                        if is_element_like(sub):
                            self.child(sub, "b")
                        sub = sub.next
                    self.end("b")
                    self.end("p")
                c = c.next
        attributes = self.attributes(src, name, target)
        empty = target in _EMPTY
        if name == "renderMultiMedia" and not empty:
            # the image itself is a separate observationMedia entry; keep its caption
            attributes["class"] = (attributes.get("class", "") + " multimedia").strip()
        self.start(target, attributes)
        if target == "pre":
            self.pre += 1
        if empty:
            # br/hr/col have no content: whatever a sender put inside goes after them
            self.end(target)
            self.add_text(parent, src.children)
            c = src.children
            while c != NULL:
                if is_element_like(c):
                    self.child(c, parent)
                c = c.next
        else:
            self.add_text(target, src.children)
            c = src.children
            while c != NULL:
                if is_element_like(c):
                    if lists and c.type == XML_ELEMENT_NODE and strcmp(<const char*>c.name, b"caption") == 0:
                        self.add_text(target, c.next)
                    else:
                        self.child(c, target)
                c = c.next
            self.end(target)
        if target == "pre":
            self.pre -= 1
        return self.add_text(parent, src.next)

    cdef dict attributes(self, xmlNode* src, str name, str target):
        cdef dict out = {}
        cdef list classes = []
        cdef xmlAttr* a = src.properties
        cdef Py_ssize_t count = count_attributes(src)   # first: nothing is read past the limit
        if count > self.max_attributes:
            raise LimitError(f"element <{name}> has {count} attributes, over the limit of "
                             f"{self.max_attributes} at line {sourceline(src)}")
        while a != NULL:
            if a.type != XML_ATTRIBUTE_NODE:
                a = a.next
                continue
            k = PyUnicode_DecodeUTF8(<const char*>a.name, strlen(<const char*>a.name), NULL)
            v = attribute_value(src, a).strip()
            a = a.next
            if k.lower().startswith("on") or not v:
                continue
            if k in _KEEP_ATTRS and target != "br":
                out[k] = v
            elif k == "ID" or k == "id":
                if _NCNAME.match(v) and v not in self.ids and target != "br":
                    self.ids.add(v)
                    out["id"] = v
            elif k == "styleCode" and target != "br":
                classes += [_STYLE_CLASSES.get(t, t.lower()) for t in v.split() if _CLASS_TOKEN.match(t)]
            elif k == "class" and target != "br":
                classes += [t for t in v.split() if _CLASS_TOKEN.match(t)]
            elif k == "href" and target == "a":
                href = "".join(v.split())
                if _SAFE_HREF.match(href) and not _UNSAFE_IN_HREF.search(href):
                    out["href"] = href
            elif k == "IDREF" and name == "footnoteRef":
                out["class"] = "footnote-ref"
        if name == "footnote":
            classes.append("footnote")
        if name == "content":
            revised = get_attribute(src, b"revised")
            if revised == "delete" or revised == "insert":
                classes.append(f"revised-{revised}")
        if classes:
            out["class"] = " ".join(dict.fromkeys(classes))
        return out

    cdef object xhtml(self, xmlNode* text_el):
        cdef xmlNode* c
        buf_add(&self.out, _DIV_START, len(_DIV_START))
        self.open_start = True
        self.add_text("div", text_el.children)
        c = text_el.children
        while c != NULL:
            if is_element_like(c):
                self.child(c, "div")
            c = c.next
        self._flush(True)
        if not self.has_text:
            return None          # nothing readable survived (only scripts, say)
        self._content()
        buf_add(&self.out, b"</div>", 6)
        return buf_str(&self.out)


cdef bint _has_nbsp(const char* s, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i
    for i in range(n - 5):
        if s[i] == b'&' and s[i + 1] == b'n' and s[i + 2] == b'b' and s[i + 3] == b's' \
                and s[i + 4] == b'p' and s[i + 5] == b';':
            return True
    return False


cdef xmlNode* _node(text_el) except NULL:
    cdef cetree._Element element = text_el
    return element._c_node


def collect_ids(text_el, dict ids):
    """Record the text of every element with an ID (for <reference value="#id"/>)."""
    cdef xmlNode* top = _node(text_el)
    cdef xmlNode* c = top
    cdef Buf scratch
    scratch.data = NULL
    scratch.len = scratch.cap = 0
    try:
        while c != NULL:
            if c.type == XML_ELEMENT_NODE:
                ident = get_attribute(c, b"ID") or get_attribute(c, b"id")
                if ident and ident not in ids:
                    t = _text_of(c, &scratch)
                    if t:
                        ids[ident] = t
            c = next_in_subtree(c, top)
    finally:
        buf_free(&scratch)


def to_xhtml(text_el, int max_attributes=256):
    """FHIR narrative XHTML for a CDA section <text>; None when it holds no text.

    An element with more than ``max_attributes`` attributes raises LimitError (as the walker does).
    """
    cdef xmlNode* node
    cdef Buf scratch
    if text_el is None:
        return None
    node = _node(text_el)
    scratch.data = NULL
    scratch.len = scratch.cap = 0
    try:
        itertext_add(node, &scratch)
        if all_space(scratch.data, scratch.len):
            return None
    finally:
        buf_free(&scratch)
    return _Writer(max_attributes).xhtml(node)


def section_narrative(text_el, dict ids, int max_attributes=256):
    """The walker's narrative hook: record IDs, return the XHTML."""
    collect_ids(text_el, ids)
    return to_xhtml(text_el, max_attributes)
