"""The compiled walker (ext/walker.pyx -> ccda2fhir.walk._walker) and its pure-Python twin agree exactly.

Every full document of ../shared/corpus (the fixtures when it is absent) is walked by both and the
plain data compared, then converted with the compiled walker and narrative and with both twins, and
the Bundles compared byte for byte. (The narratives alone: tests/test_narrative_twins.py.)
"""
from __future__ import annotations

import importlib
import importlib.util
import re

import orjson
from lxml import etree
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ccda2fhir
from ccda2fhir import ConversionError
from ccda2fhir.walk.narrative import section_narrative
from ccda2fhir.parse import parse
from ccda2fhir.walk import pywalker
from tests.conftest import CORPUS, SAMPLE_CCD, twin_documents

convert_module = importlib.import_module("ccda2fhir.pipeline")
HAVE_EXTENSION = importlib.util.find_spec("ccda2fhir.walk._walker") is not None
needs_extension = pytest.mark.skipif(
    not HAVE_EXTENSION,
    reason="the compiled walker ccda2fhir.walk._walker is not built here (no C compiler or Cython at install "
           "time; build it with `python setup.py build_ext --inplace`)")



DOCUMENTS = twin_documents()
FIXTURE_CCD = SAMPLE_CCD.read_bytes()


def test_there_are_documents_to_compare():
    assert DOCUMENTS
    if CORPUS.is_dir():
        assert len(DOCUMENTS) > 100


@needs_extension
def test_compiled_flag_and_default_walker():
    from ccda2fhir.walk import _narrative, _walker
    import ccda2fhir.walk as walk_pkg
    assert ccda2fhir.compiled is True
    assert walk_pkg.walk is _walker.walk
    assert convert_module.walk is _walker.walk
    assert _walker.walk is not pywalker.walk
    assert walk_pkg.section_narrative is convert_module.section_narrative is _narrative.section_narrative
    assert _narrative.section_narrative is not section_narrative


@pytest.mark.parametrize("missing", ["ccda2fhir.walk._walker", "ccda2fhir.walk._narrative"])
def test_pure_python_is_used_when_the_extension_is_missing(monkeypatch, missing):
    """ccda2fhir.walk falls back to the twin, and says so with compiled=False."""
    import sys
    import ccda2fhir.walk as walk_pkg
    monkeypatch.setitem(sys.modules, missing, None)  # makes the import fail
    fresh = importlib.reload(walk_pkg)
    try:
        assert fresh.compiled is False
        if missing == "ccda2fhir.walk._walker":
            assert fresh.walk is pywalker.walk
        else:
            assert fresh.section_narrative is section_narrative
    finally:
        monkeypatch.undo()
        importlib.reload(walk_pkg)
    assert walk_pkg.compiled is HAVE_EXTENSION


def _walk_both(root, max_depth=200):
    from ccda2fhir.walk import _walker
    compiled = _walker.walk(root, section_narrative, max_depth)
    python = pywalker.walk(root, section_narrative, max_depth)
    return compiled, python


@needs_extension
@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(p.parents[2])) if len(p.parents) > 2 else p.name)
def test_twins_walk_and_convert_identically(path, monkeypatch):
    from ccda2fhir.walk import _walker
    data = path.read_bytes()
    try:
        root = parse(data)
    except ConversionError:
        pytest.skip("not a parseable ClinicalDocument")
    compiled, python = _walk_both(root)
    assert compiled == python
    # the same data, to the byte (dict order and types included)
    assert orjson.dumps(compiled) == orjson.dumps(python)

    # the whole conversion: compiled walker and narrative, then both pure-Python twins
    from ccda2fhir.walk import _narrative
    monkeypatch.setattr(convert_module, "walk", _walker.walk)
    monkeypatch.setattr(convert_module, "section_narrative", _narrative.section_narrative)
    with_compiled = ccda2fhir.convert_to_json(data, "p1")
    monkeypatch.setattr(convert_module, "walk", pywalker.walk)
    monkeypatch.setattr(convert_module, "section_narrative", section_narrative)
    with_python = ccda2fhir.convert_to_json(data, "p1")
    assert with_compiled == with_python


@needs_extension
@pytest.mark.parametrize("max_depth", [0, 1, 3, 8])
def test_twins_agree_on_depth_limits(max_depth):
    from ccda2fhir.walk import _walker
    root = parse(DOCUMENTS[0].read_bytes())
    outcomes = []
    for walker in (_walker.walk, pywalker.walk):
        try:
            outcomes.append(("ok", orjson.dumps(walker(root, section_narrative, max_depth))))
        except pywalker.DepthError as exc:
            outcomes.append(("depth", str(exc)))
    assert outcomes[0] == outcomes[1]


@needs_extension
def test_twins_agree_on_odd_shapes():
    """Mixed content, sdtc/xsi names, repeated single children, comments and PIs, no namespace."""
    from ccda2fhir.walk import _walker
    xml = """<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:sdtc="urn:hl7-org:sdtc"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <id root="1.2.3"/><id root="1.2.4"/>
      <recordTarget><patientRole><patient><name>Dr. <given>A</given> middle <given>B</given>
        <family>C</family>  tail  </name><sdtc:raceCode code="1"/><raceCode code="2"/></patient></patientRole></recordTarget>
      <title>T<!-- c --> itle</title>
      <component><structuredBody><component><section><templateId root="2.16.840.1.113883.10.20.22.2.5.1"/>
        <code code="11450-4"/><title>Problems</title><text><paragraph ID="p1">x</paragraph></text>
        <entry><act><entryRelationship><observation><value xsi:type="CD" code="1"/><value xsi:type="PQ" value="2"/>
          <code code="a"/><code code="b"/></observation></entryRelationship></act></entry>
        <component><section><title>Sub</title><entry><observation/></entry></section></component>
        <author><time value="2020"/></author>
      </section></component></structuredBody></component>
    </ClinicalDocument>"""
    root = parse(xml)
    compiled = _walker.walk(root, section_narrative, 200)
    python = pywalker.walk(root, section_narrative, 200)
    assert orjson.dumps(compiled) == orjson.dumps(python)
    header = python["header"]
    assert [i["root"] for i in header["id"]] == ["1.2.3", "1.2.4"]
    patient = header["recordTarget"][0]["patientRole"]["patient"]
    from ccda2fhir.map.datatypes.navigation import one
    assert one(patient["sdtc_raceCode"])["code"] == "1" and one(patient["raceCode"])["code"] == "2"
    assert patient["name"][0]["_text"] == "Dr. middle tail"
    assert python["sections"][1]["parent"] == python["sections"][0]["key"]
    obs = python["sections"][0]["entries"][0]["act"]["entryRelationship"][0]["observation"]
    assert [v["xsi_type"] for v in obs["value"]] == ["CD", "PQ"]
    assert obs["code"]["code"] == "a"  # a single-valued child keeps its first occurrence

    nxml = _walker.walk(parse("<ClinicalDocument><component><nonXMLBody><text>abc</text></nonXMLBody>"
                              "</component></ClinicalDocument>"), section_narrative, 200)
    assert nxml["body"] == "nonxml" and nxml == pywalker.walk(
        parse("<ClinicalDocument><component><nonXMLBody><text>abc</text></nonXMLBody></component></ClinicalDocument>"),
        section_narrative, 200)


@needs_extension
@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=10),
       st.text(alphabet=" \t\nab<>&;x", max_size=6))
def test_twins_agree_on_mutated_documents(moves, junk):
    """Elements copied to odd places and text dropped between them: both walkers still agree."""
    from ccda2fhir.walk import _walker
    data = FIXTURE_CCD
    spots = [(m.start(), m.end()) for m in re.finditer(rb"<(\w+)[^<>]*?/>", data)]
    plan = sorted(((spots[min(int(b * len(spots)), len(spots) - 1)][1], spots[min(int(a * len(spots)), len(spots) - 1)])
                   for a, b in moves), reverse=True)
    out = bytearray(data)
    safe = junk.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()
    for target, (start, end) in plan:
        out[target:target] = data[start:end] + safe
    root = parse(bytes(out))
    assert orjson.dumps(_walker.walk(root, section_narrative, 200)) == \
        orjson.dumps(pywalker.walk(root, section_narrative, 200))


def _many_attributes(n: int, line_of_element: int = 3) -> str:
    attrs = " ".join(f'a{i}="{i}"' for i in range(n))
    pad = "\n" * (line_of_element - 2)
    return (f'<ClinicalDocument xmlns="urn:hl7-org:v3">\n{pad}<title {attrs}>T</title>'
            f'<component><structuredBody><component><section><code code="1"/>'
            f'<entry><act classCode="ACT" moodCode="EVN"/></entry></section></component></structuredBody>'
            f'</component></ClinicalDocument>')


@pytest.mark.parametrize("walker", ["python", "compiled"])
def test_an_element_with_too_many_attributes_is_refused(walker):
    if walker == "compiled" and not HAVE_EXTENSION:
        pytest.skip("the compiled walker is not built here")
    from ccda2fhir.walk import LimitError
    walk = pywalker.walk if walker == "python" else importlib.import_module("ccda2fhir.walk._walker").walk
    root = parse(_many_attributes(300, line_of_element=7))
    with pytest.raises(LimitError) as caught:
        walk(root, section_narrative, 200, 256)
    assert caught.value.what == "element <title> has 300 attributes, over the limit of 256"
    assert caught.value.line == 7
    assert walk(root, section_narrative, 200, 300)["header"]["title"]["a299"] == "299"
    assert not isinstance(caught.value, pywalker.DepthError)
    assert issubclass(pywalker.DepthError, LimitError)


def test_too_many_attributes_is_input_too_large():
    with pytest.raises(ccda2fhir.InputTooLargeError) as caught:
        ccda2fhir.convert(_many_attributes(257), "p1")
    assert "has 257 attributes, over the limit of 256" in str(caught.value) and caught.value.line == 3
    assert ccda2fhir.convert(_many_attributes(256), "p1")["entry"]


@needs_extension
@pytest.mark.parametrize("max_attributes", [0, 1, 2, 5, 256])
def test_twins_agree_on_attribute_limits(max_attributes):
    from ccda2fhir.walk import _walker
    root = parse(DOCUMENTS[0].read_bytes())
    outcomes = []
    for walker in (_walker.walk, pywalker.walk):
        try:
            outcomes.append(("ok", orjson.dumps(walker(root, section_narrative, 200, max_attributes))))
        except pywalker.LimitError as exc:
            outcomes.append((type(exc).__name__, str(exc)))
    assert outcomes[0] == outcomes[1]
    if max_attributes < 3:
        assert outcomes[0][0] == "LimitError"


@pytest.mark.parametrize("walker", ["python", "compiled"])
def test_an_attribute_named_like_a_repeating_child_keeps_its_place(walker):
    """<ClinicalDocument id="..."><id/> or <observation value="..."><value/>: the attribute (first
    in document order) keeps the key, as it does before a single child; nothing crashes."""
    if walker == "compiled" and not HAVE_EXTENSION:
        pytest.skip("the compiled walker is not built here")
    walk = pywalker.walk if walker == "python" else importlib.import_module("ccda2fhir.walk._walker").walk
    xml = ('<ClinicalDocument xmlns="urn:hl7-org:v3" id="junk"><id root="1.2.3"/><id root="1.2.4"/>'
           '<component><structuredBody><component><section><code code="1"/><entry>'
           '<observation classCode="OBS" moodCode="EVN" value="x"><value code="1"/><value code="2"/>'
           '</observation></entry></section></component></structuredBody></component></ClinicalDocument>')
    doc = walk(parse(xml), section_narrative, 200)
    assert doc["header"]["id"] == "junk"
    assert doc["sections"][0]["entries"][0]["observation"]["value"] == "x"
    bad = FIXTURE_CCD.replace(b"<ClinicalDocument ", b'<ClinicalDocument id="junk" ', 1)
    assert ccda2fhir.convert(bad, "p1")["entry"]


ODD_NODES = b'''<!DOCTYPE ClinicalDocument [<!ENTITY e "ent&#160;text">]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><?pi x?><!-- c --><title>a<![CDATA[ b <c> ]]>&e;d<!-- x -->e<?p?>f</title>
<code code="x">&#160;&#x3000;</code><name>&#160; <given>A</given>&#x2003;</name><id root="r" extension=""/>
<component><structuredBody><component><section><title>T<![CDATA[x]]>&e;<!--c-->y</title>
<text ID="a">x<![CDATA[y]]>&e;<!-- c -->z<content ID="b">q&e;</content></text>
<entry><act><text>&e;</text><code code="1">  <![CDATA[   ]]>  </code></act></entry></section></component>
</structuredBody></component></ClinicalDocument>'''


@needs_extension
@pytest.mark.parametrize("options", [dict(resolve_entities=False, strip_cdata=False), dict(strip_cdata=False), {}],
                         ids=["entity-refs-and-cdata", "cdata", "lxml-defaults"])
def test_twins_agree_on_nodes_our_parser_never_leaves(options):
    """Comments, PIs, CDATA sections and entity references (parse() removes or refuses them; a
    caller's own lxml tree may have them), Unicode-only whitespace, empty attributes."""
    from ccda2fhir.walk import _walker
    root = etree.fromstring(ODD_NODES, etree.XMLParser(**options))
    compiled, python = _walker.walk(root, section_narrative, 200), pywalker.walk(root, section_narrative, 200)
    assert orjson.dumps(compiled) == orjson.dumps(python)
    assert "code" in python["header"] and "_text" not in python["header"]["code"]   # only whitespace
    if options.get("resolve_entities") is False:
        assert python["header"]["title"]["_text"] == "a b <c> d e f"   # the entity's tail only
        assert python["sections"][0]["title"] == "Tx&e;y"              # lxml's itertext names it
    else:
        assert python["header"]["title"]["_text"] == "a b <c> ent textd e f"


@needs_extension
def test_line_numbers_past_65535_are_lxmls():
    """libxml2 keeps lines past 65535 out of the element (in a text node next to it)."""
    from ccda2fhir.walk import _walker
    data = FIXTURE_CCD.replace(b"<component>", b"\n" * 70000 + b"<component>", 1)
    data = data.replace(b"</title>", b"</title>" + b"\n" * 2, 1)
    root = parse(data)
    compiled, python = _walker.walk(root, section_narrative, 200), pywalker.walk(root, section_narrative, 200)
    assert orjson.dumps(compiled) == orjson.dumps(python)
    lines = [s["line"] for s in python["sections"]]
    assert min(lines) > 70000 and lines == sorted(lines)
    leaf = [el for el in root.iter("{urn:hl7-org:v3}code") if el.sourceline > 70000][-1]
    assert _walker.plain(leaf)["_line"] == leaf.sourceline == pywalker.plain(leaf)["_line"]
