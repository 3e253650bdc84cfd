# cython: language_level=3
"""UTF-8 text at C level, as Python's str methods and libxml2's serialiser would treat it.

A growable byte buffer; str.isspace()/strip() semantics (Unicode whitespace) on UTF-8 bytes
without decoding; the XML escaping libxml2 applies when lxml serialises text and attribute
values. Shared by walker.pyx, narrative.pyx and nodes.pxd.
"""
from cpython.unicode cimport PyUnicode_DecodeUTF8, Py_UNICODE_ISSPACE
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy, strlen


# -- a growable byte buffer ---------------------------------------------------------------------

cdef struct Buf:
    char* data
    Py_ssize_t len
    Py_ssize_t cap


cdef inline int buf_reserve(Buf* b, Py_ssize_t extra) except -1:
    cdef Py_ssize_t cap
    cdef char* grown
    if b.len + extra <= b.cap:
        return 0
    cap = b.cap * 2 if b.cap else 256
    while cap < b.len + extra:
        cap *= 2
    grown = <char*>realloc(b.data, cap)
    if grown == NULL:
        raise MemoryError()
    b.data = grown
    b.cap = cap
    return 0


cdef inline int buf_add(Buf* b, const char* s, Py_ssize_t n) except -1:
    if n <= 0:
        return 0
    if b.len + n > b.cap:
        buf_reserve(b, n)
    memcpy(b.data + b.len, s, n)
    b.len += n
    return 0


cdef inline int buf_byte(Buf* b, char c) except -1:
    if b.len + 1 > b.cap:
        buf_reserve(b, 1)
    b.data[b.len] = c
    b.len += 1
    return 0


cdef inline void buf_free(Buf* b) noexcept:
    free(b.data)
    b.data = NULL
    b.len = b.cap = 0


cdef inline str buf_str(Buf* b, Py_ssize_t start=0):
    return PyUnicode_DecodeUTF8(b.data + start, b.len - start, NULL)


# -- text tests (Python's str.isspace / str.split semantics on UTF-8) ----------------------------

cdef inline Py_UCS4 utf8_char(const unsigned char* s, Py_ssize_t* i) noexcept nogil:
    # one code point of valid UTF-8 (libxml2 checked it), advancing ``i``
    cdef unsigned char c = s[i[0]]
    cdef Py_UCS4 cp
    if c < 0x80:
        i[0] += 1
        return c
    if c < 0xE0:
        cp = ((c & 0x1F) << 6) | (s[i[0] + 1] & 0x3F)
        i[0] += 2
    elif c < 0xF0:
        cp = ((c & 0x0F) << 12) | ((s[i[0] + 1] & 0x3F) << 6) | (s[i[0] + 2] & 0x3F)
        i[0] += 3
    else:
        cp = (((c & 0x07) << 18) | ((s[i[0] + 1] & 0x3F) << 12) | ((s[i[0] + 2] & 0x3F) << 6)
              | (s[i[0] + 3] & 0x3F))
        i[0] += 4
    return cp


cdef inline bint all_space(const char* s, Py_ssize_t n) noexcept:
    # str.isspace() or empty, without decoding
    cdef Py_ssize_t i = 0
    cdef Py_UCS4 c
    while i < n:
        c = utf8_char(<const unsigned char*>s, &i)   # apart: Py_UNICODE_ISSPACE is a macro
        if not Py_UNICODE_ISSPACE(c):
            return False
    return True


cdef inline bint xml_blank(const char* s, Py_ssize_t n) noexcept nogil:
    # only XML whitespace (the indentation between elements): the common case, checked bytewise
    cdef Py_ssize_t i
    cdef char c
    for i in range(n):
        c = s[i]
        if c != b' ' and c != b'\n' and c != b'\t' and c != b'\r':
            return False
    return True


cdef inline bint xml_blank_cstr(const char* s) noexcept nogil:
    # xml_blank for a NUL-terminated string, in one pass (no strlen first)
    cdef char c
    while True:
        c = s[0]
        if c == 0:
            return True
        if c != b' ' and c != b'\n' and c != b'\t' and c != b'\r':
            return False
        s += 1


cdef inline Py_ssize_t char_len(char lead) noexcept nogil:
    cdef unsigned char c = <unsigned char>lead
    if c < 0x80:
        return 1
    if c < 0xE0:
        return 2
    if c < 0xF0:
        return 3
    return 4


cdef inline Py_ssize_t lstrip_space(const char* s, Py_ssize_t n) noexcept:
    # bytes of leading str.isspace() characters
    cdef Py_ssize_t i = 0, width
    while i < n:
        width = char_len(s[i])
        if not all_space(s + i, width):
            return i
        i += width
    return n


cdef inline Py_ssize_t rstrip_space(const char* s, Py_ssize_t n) noexcept:
    # length without the trailing str.isspace() characters
    cdef Py_ssize_t end = n, start
    while end > 0:
        start = end - 1
        while start > 0 and (<unsigned char>s[start] & 0xC0) == 0x80:
            start -= 1
        if not all_space(s + start, end - start):
            return end
        end = start
    return 0


cdef inline int escape_xml(Buf* out, const char* s, Py_ssize_t n, bint attribute) except -1:
    # libxml2's serialisation: &, <, > and CR always; in attribute values also ", TAB and LF
    cdef Py_ssize_t i, start = 0
    cdef char c
    cdef const char* rep
    for i in range(n):
        c = s[i]
        if c == b'&':
            rep = b"&amp;"
        elif c == b'<':
            rep = b"&lt;"
        elif c == b'>':
            rep = b"&gt;"
        elif c == b'\r':
            rep = b"&#13;"
        elif attribute and c == b'"':
            rep = b"&quot;"
        elif attribute and c == b'\n':
            rep = b"&#10;"
        elif attribute and c == b'\t':
            rep = b"&#9;"
        else:
            continue
        buf_add(out, s + start, i - start)
        buf_add(out, rep, strlen(rep))
        start = i + 1
    buf_add(out, s + start, n - start)
    return 0
