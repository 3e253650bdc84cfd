# cython: language_level=3
"""Compiled walker: the one pass over a parsed ClinicalDocument into plain data.

Built by setup.py as ccda2fhir._walker. It must give exactly what the
pure-Python twin (ccda2fhir/walk/pywalker.py) gives; tests/test_walker_twins.py
converts the corpus with both and compares. The speed comes from typed locals
and C-level string and dict handling in the per-element loop, which runs once
for every element of the document.
"""
from ccda2fhir.walk.pywalker import DepthError, LimitError
from ccda2fhir.walk.shape import NS_PREFIX, load

cdef frozenset _REPEAT
cdef dict _REPEAT_BY_PARENT
_REPEAT, _REPEAT_BY_PARENT, _ = load()
cdef frozenset _EMPTY = frozenset()
cdef dict _NS_PREFIX = dict(NS_PREFIX)
cdef str _V3_TEMPLATE = "{urn:hl7-org:v3}templateId"
cdef dict _NAMES = {}


cdef str _name(str tag):
    # '{ns}local' -> 'local', with a prefix for the sdtc and xsi namespaces; memoized.
    cdef str out = _NAMES.get(tag)
    cdef Py_ssize_t close
    if out is None:
        if tag[0] == "{":
            close = tag.find("}")
            out = _NS_PREFIX.get(tag[1:close], "") + tag[close + 1:]
        else:
            out = tag
        _NAMES[tag] = out
    return out


cdef object _too_many_attributes(el, Py_ssize_t count, int max_attributes):
    return LimitError(f"element <{_name(el.tag)}> has {count} attributes, over the limit of "
                      f"{max_attributes} at line {el.sourceline}")


cdef str _collapse(str s):
    return " ".join(s.split())


cpdef dict plain(el, int max_depth=200, int depth=0, int max_attributes=256):
    """One element as plain data: attributes, '_text', '_line', children by name."""
    cdef dict d
    cdef list parts
    cdef list lst
    cdef str key
    cdef object tag, text, tail, value, attrib
    cdef frozenset repeat_here
    cdef Py_ssize_t count
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
    parts = [text] if text is not None and not text.isspace() and text != "" else []
    repeat_here = _REPEAT_BY_PARENT.get(_name(el.tag), _EMPTY)
    for child in el:
        tail = child.tail
        if tail is not None and tail != "" and not tail.isspace():
            parts.append(tail)
        tag = child.tag
        if type(tag) is not str:
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
        d["_text"] = " ".join([_collapse(p) for p in parts])
    return d


cdef list _roots(el):
    return [t.get("root") for t in el if t.tag == _V3_TEMPLATE and t.get("root")]


cdef int _section(sec, parent_key, int depth, narrative, dict ids, list out, int max_depth,
                  int max_attributes) except -1:
    code = sec.find("{urn:hl7-org:v3}code")
    title = sec.find("{urn:hl7-org:v3}title")
    text = sec.find("{urn:hl7-org:v3}text")
    cdef list templates = _roots(sec)
    code_plain = plain(code, max_depth, 0, max_attributes) if code is not None else None
    loinc = code.get("code") if code is not None else None
    key = templates[0] if templates else (loinc or "")
    cdef dict info = {
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
    cdef str local
    for child in sec:
        tag = child.tag
        if type(tag) is not str:
            continue
        local = _name(tag)
        if local == "entry":
            info["entries"].append(plain(child, max_depth, depth + 2, max_attributes))
        elif local == "component":
            for sub in child:
                if type(sub.tag) is str and _name(sub.tag) == "section":
                    info["subsections"].append(len(out))
                    _section(sub, key, depth + 1, narrative, ids, out, max_depth, max_attributes)
        elif local not in ("code", "title", "text", "templateId"):
            info["attributes"].setdefault(local, []).append(plain(child, max_depth, depth + 2, max_attributes))
    return 0


def walk(root, narrative, int max_depth=200, int max_attributes=256):
    """Walk a parsed ClinicalDocument once; returns header, sections and narrative ids."""
    cdef dict header = {"_line": root.sourceline}
    cdef list sections = []
    cdef dict ids = {}
    cdef str key, bname
    attrib = root.attrib
    if len(attrib) > max_attributes:
        raise _too_many_attributes(root, len(attrib), max_attributes)
    for k, v in attrib.items():
        header[_name(k)] = v
    body = None
    nonxml = None
    for child in root:
        tag = child.tag
        if type(tag) is not str:
            continue
        key = _name(tag)
        if key == "component":
            for b in child:
                if type(b.tag) is not str:
                    continue
                bname = _name(b.tag)
                if bname == "structuredBody":
                    body = "structured"
                    for comp in b:
                        if type(comp.tag) is not str or _name(comp.tag) != "component":
                            continue
                        for sec in comp:
                            if type(sec.tag) is str and _name(sec.tag) == "section":
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
