# cython: language_level=3
"""Reading the libxml2 tree lxml parsed, at C level: shared by walker.pyx and narrative.pyx.

Only libxml2's public node structs are read (xmlNode, xmlAttr, xmlNs: the same layout in every
libxml2 2.x) and only lxml's public C API is called (etreepublic.pxd), so nothing here links
against libxml2 itself: lxml's copy of it built the tree. Each helper gives exactly what lxml's
Python API gives for the same node (``.text``, ``.tail``, ``.sourceline``, ``itertext()``),
without creating a Python proxy per node.
"""
cimport lxml.includes.etreepublic as cetree
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport strcmp, strlen
from lxml.includes.tree cimport (
    XML_ATTRIBUTE_NODE, XML_CDATA_SECTION_NODE, XML_COMMENT_NODE, XML_ELEMENT_NODE, XML_ENTITY_REF_NODE,
    XML_PI_NODE,
    XML_TEXT_NODE, XML_XINCLUDE_END, XML_XINCLUDE_START, const_xmlChar, xmlAttr, xmlNode)

from utf8 cimport Buf, buf_add, buf_byte

cdef extern from *:
    """
    /* xmlNode.psvi is not in lxml's tree.pxd; libxml2 keeps big line numbers of text nodes there. */
    #define CCDA_NODE_PSVI(n) ((n)->psvi)
    """
    void* CCDA_NODE_PSVI(xmlNode* n) nogil


cdef inline int import_lxml() except -1:
    """Bind lxml's C API; ImportError (so the pure-Python twin runs) if this lxml is not the one built against.

    import_lxml__etree() checks each function by name and signature. The struct layouts read here
    (lxml's _Element, libxml2's nodes) are not checked by it, so the lxml major version must be
    the one whose headers we compiled with.
    """
    from lxml import etree
    built = (<bytes>cetree.LXML_VERSION_STRING).decode().split(".")[0]
    running = str(etree.LXML_VERSION[0])
    if built != running:
        raise ImportError(f"built against lxml {built}.x, running with lxml {etree.__version__}")
    try:
        cetree.import_lxml__etree()
    except Exception as exc:
        raise ImportError(f"lxml's C API is not usable here: {exc}") from exc
    return 0


# -- nodes ----------------------------------------------------------------------------------------

cdef inline bint is_element_like(xmlNode* c) noexcept nogil:
    # lxml's _isElement: what iterating an element yields (elements, comments, PIs, entity refs)
    return (c.type == XML_ELEMENT_NODE or c.type == XML_COMMENT_NODE or
            c.type == XML_ENTITY_REF_NODE or c.type == XML_PI_NODE)


cdef inline bint is_text(xmlNode* c) noexcept nogil:
    return c.type == XML_TEXT_NODE or c.type == XML_CDATA_SECTION_NODE


cdef inline xmlNode* text_or_skip(xmlNode* c) noexcept nogil:
    # lxml's _textNodeOrSkip: the next text node of a run, stepping over XInclude markers
    while c != NULL:
        if is_text(c):
            return c
        if c.type == XML_XINCLUDE_START or c.type == XML_XINCLUDE_END:
            c = c.next
            continue
        return NULL
    return NULL


cdef inline int run_add(xmlNode* start, Buf* b) except -1:
    # lxml's .text / .tail: the text of the run of text nodes beginning at ``start``
    cdef xmlNode* c = text_or_skip(start)
    while c != NULL:
        if c.content != NULL:
            buf_add(b, <const char*>c.content, strlen(<const char*>c.content))
        c = text_or_skip(c.next)
    return 0


cdef inline long _line_internal(xmlNode* node, int depth) noexcept nogil:
    # libxml2's xmlGetLineNo (what lxml's .sourceline reads): lines past 65535 live in a text
    # node's psvi, and an element on such a line borrows its first child's or a sibling's
    cdef long result = -1
    if depth >= 5 or node == NULL:
        return -1
    if (node.type == XML_ELEMENT_NODE or node.type == XML_TEXT_NODE or
            node.type == XML_COMMENT_NODE or node.type == XML_PI_NODE):
        if node.line == 65535:
            if node.type == XML_TEXT_NODE and CCDA_NODE_PSVI(node) != NULL:
                result = <long>(<Py_ssize_t>CCDA_NODE_PSVI(node))
            elif node.type == XML_ELEMENT_NODE and node.children != NULL:
                result = _line_internal(node.children, depth + 1)
            elif node.next != NULL:
                result = _line_internal(node.next, depth + 1)
            elif node.prev != NULL:
                result = _line_internal(node.prev, depth + 1)
        if result == -1 or result == 65535:
            result = node.line
    elif node.prev != NULL and (node.prev.type == XML_ELEMENT_NODE or node.prev.type == XML_TEXT_NODE or
                                node.prev.type == XML_COMMENT_NODE or node.prev.type == XML_PI_NODE):
        result = _line_internal(node.prev, depth + 1)
    elif node.parent != NULL and node.parent.type == XML_ELEMENT_NODE:
        result = _line_internal(node.parent, depth + 1)
    return result


cdef inline object sourceline(xmlNode* node):
    cdef long line = _line_internal(node, 0)
    return line if line > 0 else None


cdef inline xmlNode* next_in_subtree(xmlNode* c, xmlNode* top) noexcept nogil:
    # document order within ``top``'s subtree, into elements' children only
    if c.type == XML_ELEMENT_NODE and c.children != NULL:
        return c.children
    while c != top:
        if c.next != NULL:
            return c.next
        c = c.parent
    return NULL


cdef inline int itertext_add(xmlNode* el, Buf* b) except -1:
    # "".join(el.itertext()): el's text, then every descendant element's text and every
    # descendant's tail (comments and PIs give their tail only, an unexpanded entity reference
    # its '&name;' too; el's own tail is not included)
    cdef xmlNode* c = el.children
    while c != NULL:
        if is_text(c) and c.content != NULL:
            buf_add(b, <const char*>c.content, strlen(<const char*>c.content))
        elif c.type == XML_ENTITY_REF_NODE:
            buf_byte(b, b'&')
            buf_add(b, <const char*>c.name, strlen(<const char*>c.name))
            buf_byte(b, b';')
        c = next_in_subtree(c, el)
    return 0


cdef inline Py_ssize_t count_attributes(xmlNode* el) noexcept nogil:
    # len(el.attrib)
    cdef xmlAttr* a = el.properties
    cdef Py_ssize_t count = 0
    while a != NULL:
        if a.type == XML_ATTRIBUTE_NODE:
            count += 1
        a = a.next
    return count


cdef inline object get_attribute(xmlNode* el, const char* name):
    # lxml's el.get(name) for a name without namespace (DTD defaults included, as lxml does)
    return cetree.attributeValueFromNsName(el, NULL, <const_xmlChar*>name)


cdef inline object attribute_value(xmlNode* el, xmlAttr* a):
    # the value lxml's attrib.items() gives for ``a``
    cdef xmlNode* c = a.children
    if c != NULL and c.next == NULL and is_text(c) and c.content != NULL:
        return PyUnicode_DecodeUTF8(<const char*>c.content, strlen(<const char*>c.content), NULL)
    return cetree.attributeValue(el, a)


cdef inline bint has_tag(xmlNode* c, const char* href, const char* local) noexcept nogil:
    # c.tag == '{href}local' (an element in that namespace with that local name)
    return (c.type == XML_ELEMENT_NODE and c.ns != NULL and c.ns.href != NULL
            and strcmp(<const char*>c.name, local) == 0 and strcmp(<const char*>c.ns.href, href) == 0)


cdef inline xmlNode* find_child(xmlNode* el, const char* href, const char* local) noexcept nogil:
    # el.find('{href}local'): the first such child element, or NULL
    cdef xmlNode* c = el.children
    while c != NULL:
        if has_tag(c, href, local):
            return c
        c = c.next
    return NULL
