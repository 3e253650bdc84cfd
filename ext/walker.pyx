# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled walker: the one pass over a parsed ClinicalDocument into plain data.

Built by setup.py as ccda2fhir.walk._walker. It must give exactly what the pure-Python twin
(ccda2fhir/walk/pywalker.py) gives; tests/test_walker_twins.py walks and converts the corpus
with both and compares. It reads libxml2's nodes under lxml's root element directly (see
nodes.pxd), so no Python object is made per element except the plain data itself: names come
from a per-walk table keyed by libxml2's interned name pointers, and short attribute values
from a small content-keyed cache, so repeated keys and values are one str each.
"""
cimport lxml.includes.etreepublic as cetree
from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeUTF8, PyUnicode_InternFromString
from libc.stdint cimport uintptr_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcmp, strlen
from lxml.includes.tree cimport XML_ATTRIBUTE_NODE, XML_ELEMENT_NODE, const_xmlChar, xmlAttr, xmlNode, xmlNs

from nodes cimport (count_attributes, find_child, get_attribute, has_tag, import_lxml, is_element_like, is_text,
                    itertext_add, run_add, sourceline, text_or_skip)
from utf8 cimport Buf, buf_free, buf_str, xml_blank, xml_blank_cstr

cdef extern from "Python.h":
    int PyGC_Enable()
    int PyGC_Disable()

from ccda2fhir.walk.pywalker import DepthError, LimitError
from ccda2fhir.walk.shape import NS_PREFIX, load

import_lxml()

cdef frozenset _REPEAT
cdef dict _REPEAT_BY_PARENT
_REPEAT, _REPEAT_BY_PARENT, _ = load()
cdef dict _NS_PREFIX = dict(NS_PREFIX)
cdef const char* _V3 = b"urn:hl7-org:v3"   # CDA
cdef str _LINE = "_line"
cdef str _TEXT = "_text"
cdef str _SPACE = " "


# -- short attribute values: one str per distinct value ----------------------------------------
# Direct-mapped and content-keyed: a slot holds the last value that hashed there, so memory is
# bounded and a stale slot only costs a decode. Codes, OIDs, moods and units repeat endlessly.
cdef enum:
    VALUE_SLOTS = 8192
    VALUE_MAX_LEN = 48

cdef PyObject* _values[VALUE_SLOTS]


cdef inline object _value(const char* s, Py_ssize_t n):
    cdef uintptr_t h = 2166136261
    cdef Py_ssize_t i, m
    cdef PyObject* cur
    cdef const char* have
    if n > VALUE_MAX_LEN:
        return PyUnicode_DecodeUTF8(s, n, NULL)
    for i in range(n):
        h = (h ^ <unsigned char>s[i]) * 16777619
    h &= VALUE_SLOTS - 1
    cur = _values[h]
    if cur != NULL:
        have = PyUnicode_AsUTF8AndSize(<object>cur, &m)
        if m == n and memcmp(have, s, n) == 0:
            return <object>cur
    value = PyUnicode_DecodeUTF8(s, n, NULL)
    Py_INCREF(value)
    _values[h] = <PyObject*>value
    Py_XDECREF(cur)
    return value


cdef inline object _attr_value(xmlNode* el, xmlAttr* a):
    # what lxml's attrib.items() gives: one text child is the rule, anything else asks lxml
    cdef xmlNode* c = a.children
    if c != NULL and c.next == NULL and is_text(c) and c.content != NULL:
        return _value(<const char*>c.content, strlen(<const char*>c.content))
    return cetree.attributeValue(el, a)


# -- names: '{ns}local' -> 'local' (sdtc_/xsi_ prefixed), with the repeat rules for that name --

cdef struct Name:
    const_xmlChar* name
    const_xmlChar* href
    PyObject* key          # interned str, owned
    PyObject* by_parent    # frozenset in _REPEAT_BY_PARENT (lives as long as the module) or NULL
    bint repeat            # key in _REPEAT


cdef class _Walk:
    """The state of one walk: options, the name table, the narrative index."""
    cdef Name* names
    cdef Py_ssize_t mask, used
    cdef int max_depth, max_attributes
    cdef cetree._Document doc
    cdef object narrative
    cdef dict ids
    cdef list sections
    cdef Buf buf

    def __cinit__(self, int max_depth, int max_attributes):
        self.mask = 255
        self.names = <Name*>calloc(self.mask + 1, sizeof(Name))
        if self.names == NULL:
            raise MemoryError()
        self.max_depth = max_depth
        self.max_attributes = max_attributes
        self.ids = {}
        self.sections = []

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.names != NULL:
            for i in range(self.mask + 1):
                Py_XDECREF(self.names[i].key)
            free(self.names)
        buf_free(&self.buf)

    cdef int _grow(self) except -1:
        cdef Name* old = self.names
        cdef Py_ssize_t old_size = self.mask + 1, i, h
        cdef Name* table = <Name*>calloc(old_size * 2, sizeof(Name))
        if table == NULL:
            raise MemoryError()
        self.names = table
        self.mask = old_size * 2 - 1
        for i in range(old_size):
            if old[i].key != NULL:
                h = _slot(old[i].name, old[i].href) & self.mask
                while table[h].key != NULL:
                    h = (h + 1) & self.mask
                table[h] = old[i]
        free(old)
        return 0

    cdef Name* name(self, const_xmlChar* name, xmlNs* ns) except NULL:
        """The table entry for a node's name; valid until the next call (the table may grow)."""
        cdef const_xmlChar* href = ns.href if ns != NULL else NULL
        cdef Py_ssize_t h = _slot(name, href) & self.mask
        cdef Name* e
        while True:
            e = &self.names[h]
            if e.key == NULL:
                break
            if e.name == name and e.href == href:
                return e
            h = (h + 1) & self.mask
        if (self.used + 1) * 2 > self.mask + 1:
            self._grow()
            return self.name(name, ns)
        local = PyUnicode_DecodeUTF8(<const char*>name, strlen(<const char*>name), NULL)
        if href != NULL:
            prefix = _NS_PREFIX.get(PyUnicode_DecodeUTF8(<const char*>href, strlen(<const char*>href), NULL))
            if prefix is not None:
                local = prefix + local
        key = PyUnicode_InternFromString(local.encode("utf-8"))
        Py_INCREF(key)
        e.key = <PyObject*>key
        e.name = name
        e.href = href
        e.repeat = key in _REPEAT
        e.by_parent = PyDict_GetItem(_REPEAT_BY_PARENT, key)
        self.used += 1
        return e

    cdef object _text_run(self, xmlNode* start):
        # the text (or tail) beginning at ``start`` as a str, or None when blank
        cdef xmlNode* t = text_or_skip(start)
        cdef const char* s
        if t == NULL:
            return None
        if text_or_skip(t.next) == NULL:
            if t.content == NULL:
                return None
            s = <const char*>t.content
            if xml_blank_cstr(s):    # the indentation between elements: most text nodes
                return None
            p = PyUnicode_DecodeUTF8(s, strlen(s), NULL)
        else:
            self.buf.len = 0
            run_add(t, &self.buf)
            if self.buf.len == 0 or xml_blank(self.buf.data, self.buf.len):
                return None
            p = buf_str(&self.buf)
        return None if p.isspace() else p

    cdef int _attributes(self, xmlNode* el, dict d) except -1:
        cdef xmlAttr* a
        cdef Py_ssize_t count = count_attributes(el)   # first: nothing is read past the limit
        if count > self.max_attributes:
            raise LimitError(f"element <{self.local(el)}> has {count} attributes, over the limit of "
                             f"{self.max_attributes} at line {sourceline(el)}")
        a = el.properties
        while a != NULL:
            if a.type == XML_ATTRIBUTE_NODE:
                d[<object>self.name(a.name, a.ns).key] = _attr_value(el, a)
            a = a.next
        return 0

    cdef dict plain(self, xmlNode* el, PyObject* repeat_here, int depth):
        """One element as plain data: attributes, '_text', '_line', children by name."""
        cdef dict d
        cdef list parts = None
        cdef xmlNode* c
        cdef Name* e
        cdef PyObject* have
        cdef bint repeat
        cdef PyObject* child_repeat
        if depth > self.max_depth:
            raise DepthError(f"element nested deeper than {self.max_depth} levels at line {sourceline(el)}")
        d = {_LINE: sourceline(el)}
        self._attributes(el, d)
        p = self._text_run(el.children)
        if p is not None:
            parts = [p]
        c = el.children
        while c != NULL:
            if is_element_like(c):
                p = self._text_run(c.next)
                if p is not None:
                    if parts is None:
                        parts = [p]
                    else:
                        parts.append(p)
                if c.type == XML_ELEMENT_NODE:
                    e = self.name(c.name, c.ns)
                    key = <object>e.key
                    repeat = e.repeat or (repeat_here != NULL and key in <frozenset>repeat_here)
                    child_repeat = e.by_parent
                    value = self.plain(c, child_repeat, depth + 1)
                    if repeat:
                        have = PyDict_GetItem(d, key)
                        if have == NULL:
                            d[key] = [value]
                        elif type(<object>have) is list:
                            (<list>have).append(value)
                        # else an attribute of that name came first and keeps it (as a single child would)
                    elif key not in d:
                        d[key] = value
            c = c.next
        if parts is not None:
            d[_TEXT] = _SPACE.join([_SPACE.join(p.split()) for p in parts])
        return d

    cdef str local(self, xmlNode* c):
        return <str>self.name(c.name, c.ns).key

    cdef object itertext(self, xmlNode* el):
        # " ".join("".join(el.itertext()).split())
        self.buf.len = 0
        itertext_add(el, &self.buf)
        return _SPACE.join(buf_str(&self.buf).split())

    cdef list roots(self, xmlNode* sec):
        cdef list out = []
        cdef xmlNode* c = sec.children
        while c != NULL:
            if has_tag(c, _V3, b"templateId"):
                root = get_attribute(c, b"root")
                if root:
                    out.append(root)
            c = c.next
        return out

    cdef int section(self, xmlNode* sec, parent_key, int depth) except -1:
        cdef xmlNode* code = find_child(sec, _V3, b"code")
        cdef xmlNode* title = find_child(sec, _V3, b"title")
        cdef xmlNode* text = find_child(sec, _V3, b"text")
        cdef list templates = self.roots(sec)
        cdef xmlNode* c
        cdef xmlNode* sub
        cdef Name* e
        cdef list entries = [], subsections = []
        cdef dict attributes = {}
        code_plain = self.plain(code, self.name(code.name, code.ns).by_parent, 0) if code != NULL else None
        loinc = get_attribute(code, b"code") if code != NULL else None
        key = templates[0] if templates else (loinc or "")
        info = {
            "key": key,
            "templateIds": templates,
            "code": code_plain,
            "title": self.itertext(title) if title != NULL else None,
            "line": sourceline(sec),
            "depth": depth,
            "parent": parent_key,
            "nullFlavor": get_attribute(sec, b"nullFlavor"),
            "xhtml": None,
            "entries": entries,
            "subsections": subsections,
            "attributes": attributes,
        }
        if text != NULL:
            info["xhtml"] = self.narrative(cetree.elementFactory(self.doc, text), self.ids)
        self.sections.append(info)
        c = sec.children
        while c != NULL:
            if c.type == XML_ELEMENT_NODE:
                e = self.name(c.name, c.ns)
                local = <str>e.key
                if local == "entry":
                    entries.append(self.plain(c, e.by_parent, depth + 2))
                elif local == "component":
                    sub = c.children
                    while sub != NULL:
                        if sub.type == XML_ELEMENT_NODE and self.local(sub) == "section":
                            subsections.append(len(self.sections))
                            self.section(sub, key, depth + 1)
                        sub = sub.next
                elif local not in ("code", "title", "text", "templateId"):
                    lst = attributes.get(local)
                    if lst is None:
                        attributes[local] = lst = []
                    lst.append(self.plain(c, e.by_parent, depth + 2))
            c = c.next
        return 0


cdef inline Py_ssize_t _slot(const_xmlChar* name, const_xmlChar* href) noexcept:
    cdef uintptr_t h = (<uintptr_t>name) * 0x9E3779B1u ^ (<uintptr_t>href) * 0x85EBCA77u
    return <Py_ssize_t>((h >> 4) ^ (h >> 16))


def plain(el, int max_depth=200, int depth=0, int max_attributes=256):
    """One element as plain data: attributes, '_text', '_line', children by name."""
    cdef cetree._Element element = el
    cdef _Walk w = _Walk(max_depth, max_attributes)
    cdef xmlNode* node = element._c_node
    return w.plain(node, w.name(node.name, node.ns).by_parent, depth)


def walk(root, narrative, int max_depth=200, int max_attributes=256):
    """Walk a parsed ClinicalDocument once; returns header, sections and narrative ids.

    ``narrative(text_element, ids)`` converts a section's <text> to FHIR XHTML and records its
    ID'd elements' text into ``ids``. An element nested deeper than ``max_depth`` raises
    DepthError; one with more than ``max_attributes`` attributes, LimitError.
    """
    # The plain data is a tree (no cycles) of tens of thousands of dicts and lists for a large
    # document; the cyclic collector's passes over them while they are built would cost more
    # than the walk itself, so it pauses until the walk is done.
    cdef int collecting = PyGC_Disable()
    try:
        return _walk(root, narrative, max_depth, max_attributes)
    finally:
        if collecting:
            PyGC_Enable()


cdef dict _walk(root, narrative, int max_depth, int max_attributes):
    cdef cetree._Element element = root
    cdef _Walk w = _Walk(max_depth, max_attributes)
    cdef xmlNode* top = element._c_node
    cdef xmlNode* child
    cdef xmlNode* b
    cdef xmlNode* comp
    cdef xmlNode* sec
    cdef Name* e
    cdef PyObject* have
    cdef str key, bname
    w.doc = element._doc
    w.narrative = narrative
    cdef dict header = {_LINE: sourceline(top)}
    w._attributes(top, header)
    body = None
    nonxml = None
    child = top.children
    while child != NULL:
        if child.type != XML_ELEMENT_NODE:
            child = child.next
            continue
        e = w.name(child.name, child.ns)
        key = <str>e.key
        if key == "component":
            b = child.children
            while b != NULL:
                if b.type == XML_ELEMENT_NODE:
                    e = w.name(b.name, b.ns)
                    bname = <str>e.key
                    if bname == "structuredBody":
                        body = "structured"
                        comp = b.children
                        while comp != NULL:
                            if comp.type == XML_ELEMENT_NODE and w.local(comp) == "component":
                                sec = comp.children
                                while sec != NULL:
                                    if sec.type == XML_ELEMENT_NODE and w.local(sec) == "section":
                                        w.section(sec, None, 0)
                                    sec = sec.next
                            comp = comp.next
                    elif bname == "nonXMLBody":
                        body = "nonxml"
                        nonxml = w.plain(b, e.by_parent, 0)
                b = b.next
            child = child.next
            continue
        repeat = e.repeat
        value = w.plain(child, e.by_parent, 1)
        if repeat:
            have = PyDict_GetItem(header, key)
            if have == NULL:
                header[key] = [value]
            elif type(<object>have) is list:
                (<list>have).append(value)
        elif key not in header:
            header[key] = value
        child = child.next
    return {"header": header, "body": body, "nonxml": nonxml, "sections": w.sections,
            "narrative": w.ids}
