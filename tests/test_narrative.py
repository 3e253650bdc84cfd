"""CDA section narrative -> FHIR XHTML (ccda2fhir.walk.narrative): mapping, hostile content, corpus sweep.

The fragment tests run on both twins: ccda2fhir.walk.narrative and the compiled ccda2fhir.walk._narrative.
"""
from __future__ import annotations

import re

import pytest
from lxml import etree

import ccda2fhir
from ccda2fhir.errors import InvalidXMLError, NotCCDAError
from ccda2fhir.walk import narrative as python_narrative
from tests.conftest import SAMPLE_CCD, corpus_documents, needs_corpus, resources_of
from tests.support.wrap import wrap_fragment

XHTML = "http://www.w3.org/1999/xhtml"
NS = {"h": XHTML}
# FHIR R4 narrative (txt-1): HTML 4 chapters 7-11 (not 9.4 ins/del) and 15, a, img (we drop img)
ALLOWED = {"div", "p", "span", "b", "i", "em", "strong", "u", "s", "sub", "sup", "br", "hr", "a",
           "ul", "ol", "li", "dl", "dt", "dd", "table", "caption", "thead", "tbody", "tfoot", "tr",
           "th", "td", "col", "colgroup", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "code", "small",
           "big", "tt", "blockquote", "q", "cite", "abbr", "acronym", "dfn", "kbd",
           "samp", "var", "address"}
SAFE_HREF = re.compile(r"^(https?://|mailto:|#)", re.I)


def _twins():
    try:
        from ccda2fhir.walk import _narrative
    except ImportError:
        return [pytest.param(python_narrative, id="python")]
    return [pytest.param(python_narrative, id="python"), pytest.param(_narrative, id="compiled")]


@pytest.fixture(params=_twins())
def nar(request):
    """The narrative module under test: the pure-Python twin or the compiled one."""
    return request.param


def cda_text(inner: str):
    return etree.fromstring(
        f'<text xmlns="urn:hl7-org:v3" xmlns:h="http://www.w3.org/1999/xhtml" '
        f'xmlns:xlink="http://www.w3.org/1999/xlink">{inner}</text>')


def check_div(div: str) -> etree._Element:
    """Parse a FHIR narrative div and assert FHIR's narrative rules; returns the root."""
    root = etree.fromstring(div.encode())
    assert root.tag == f"{{{XHTML}}}div"
    assert "".join(root.itertext()).strip(), "a narrative div is never empty"
    ids = []
    for el in root.iter():
        assert isinstance(el.tag, str)
        ns, local = el.tag[1:].split("}")
        assert ns == XHTML, el.tag
        assert local in ALLOWED, local
        for name, value in el.attrib.items():
            assert not name.startswith("{"), name          # no xlink: or other namespaced attributes
            assert not name.lower().startswith("on"), name
            assert name != "style"
            assert name not in ("src", "srcdoc", "action", "formaction", "background"), name
            if name == "href":
                assert SAFE_HREF.match(value), value
            if name == "id":
                assert re.match(r"^[A-Za-z_][A-Za-z0-9_.\-]*$", value)
                ids.append(value)
        if local in ("br", "hr", "col"):
            assert len(el) == 0 and not el.text
        if local in ("p", "span"):   # inline containers hold no block elements
            assert not any(isinstance(d.tag, str) and d.tag.split("}")[1] in ("ul", "ol", "table", "p", "div")
                           for d in el.iterdescendants()), local
    assert len(ids) == len(set(ids)), "ids are unique within a div"
    return root


def test_cda_elements_map_to_xhtml(nar):
    div = nar.to_xhtml(cda_text("""
      <paragraph styleCode="Bold">Para <content styleCode="Italics Underline" ID="c1">styled</content>
        <sub>2</sub><sup>3</sup><br/>next line</paragraph>
      <list listType="ordered"><caption>Steps</caption><item>one</item><item>two</item></list>
      <list><item>bullet</item></list>
      <table border="1"><caption>Vitals</caption><colgroup><col width="10"/></colgroup>
        <thead><tr><th colspan="2">Name</th></tr></thead>
        <tbody><tr><td ID="r1" styleCode="Botrule">BP<footnoteRef IDREF="fn1"/></td><td>120</td></tr></tbody>
        <tfoot><tr><td>foot</td></tr></tfoot></table>
      <footnote ID="fn1">measured sitting</footnote>
      <linkHtml href="https://example.org/info">more</linkHtml>
      <content revised="delete">old</content><content revised="insert">new</content>"""))
    root = check_div(div)
    p = root.find("h:p", NS)
    assert p.get("class") == "bold"
    span = p.find("h:span", NS)
    assert span.get("class") == "italics underline" and span.get("id") == "c1" and span.text == "styled"
    assert p.find("h:sub", NS).text == "2" and p.find("h:sup", NS).text == "3"
    assert p.find("h:br", NS).tail.strip() == "next line"
    ol = root.find("h:ol", NS)
    assert [li.text for li in ol.findall("h:li", NS)] == ["one", "two"]
    # a list caption is not allowed inside ul/ol: it becomes a bold paragraph before the list
    assert ol.getprevious().find("h:b", NS).text == "Steps"
    assert root.find("h:ul/h:li", NS).text == "bullet"
    table = root.find("h:table", NS)
    assert table[0].tag == f"{{{XHTML}}}caption" and table[0].text == "Vitals"
    assert table.get("border") == "1"
    assert table.find("h:thead/h:tr/h:th", NS).get("colspan") == "2"
    td = table.find("h:tbody/h:tr/h:td", NS)
    assert td.get("id") == "r1" and td.get("class") == "botrule"
    assert table.find("h:tfoot/h:tr/h:td", NS).text == "foot"
    assert root.find("h:span[@id='fn1']", NS).get("class") == "footnote"
    a = root.find("h:a", NS)
    assert a.get("href") == "https://example.org/info" and a.text == "more"
    # revised content: no ins/del in FHIR narrative; deleted text is struck through
    deleted = root.find("h:s", NS)
    assert deleted.text == "old" and deleted.get("class") == "revised-delete"
    assert root.find("h:span[@class='revised-insert']", NS).text == "new"


def test_hostile_narrative_is_neutralised(nar):
    div = nar.to_xhtml(cda_text("""
      <paragraph onclick="steal()" onmouseover="x()" style="background:url(javascript:x)">Hello</paragraph>
      <h:script>alert('x')</h:script>
      <h:iframe src="https://evil.example/"><h:p>inside frame</h:p></h:iframe>
      <h:object data="x.swf">obj</h:object><h:embed src="x"/><h:form action="https://evil"><h:input name="a"/>form</h:form>
      <h:base href="https://evil/"/><h:link rel="stylesheet" href="https://evil/x.css"/><h:meta http-equiv="refresh"/>
      <h:img src="https://evil.example/pixel.gif" onerror="x()"/>
      <h:style>body{display:none}</h:style>
      <linkHtml href="javascript:alert(1)">js</linkHtml>
      <linkHtml href="  JaVaScRiPt:alert(1)">js2</linkHtml>
      <linkHtml href="java&#9;script:alert(1)">js3</linkHtml>
      <linkHtml href="data:text/html;base64,PHNjcmlwdD4=">data</linkHtml>
      <linkHtml href="vbscript:msgbox">vb</linkHtml>
      <linkHtml href="https://ok.example/?q=&quot;x&quot;">quote</linkHtml>
      <h:a xlink:href="javascript:x()" href="#local">local</h:a>
      <content ID="dup">one</content><content ID="dup">two</content><content ID="9bad">three</content>
      <h:svg><h:script>x</h:script></h:svg>tail text"""))
    root = check_div(div)
    text = "".join(root.itertext())
    for gone in ("alert", "inside frame", "obj", "form", "display:none", "steal"):
        assert gone not in text
    assert "Hello" in text and "tail text" in text
    assert root.find("h:p", NS).attrib == {}
    hrefs = [a.get("href") for a in root.iter(f"{{{XHTML}}}a")]
    assert hrefs == [None, None, None, None, None, None, "#local"]
    assert [a.text for a in root.iter(f"{{{XHTML}}}a")] == ["js", "js2", "js3", "data", "vb", "quote", "local"]
    ids = [el.get("id") for el in root.iter() if el.get("id")]
    assert ids == ["dup"]                     # the repeated and the invalid ID are dropped


def test_escaped_html_and_whitespace(nar):
    div = nar.to_xhtml(cda_text("Line one&lt;br&gt;line   two&lt;BR /&gt;&lt;b&gt;not bold&lt;/b&gt;&amp;nbsp;end\n\n   "
                            "<paragraph>  a\n\t b  </paragraph>"))
    root = check_div(div)
    assert root.text == "Line one"
    brs = root.findall("h:br", NS)
    assert len(brs) == 2
    assert brs[0].tail == "line two"
    # other escaped markup stays visible text, never markup
    assert brs[1].tail.startswith("<b>not bold</b>\u00a0end")
    assert root.find("h:b", NS) is None
    assert root.find("h:p", NS).text == " a b "


def test_pre_keeps_whitespace_and_br_content_moves_out(nar):
    root = check_div(nar.to_xhtml(cda_text("<h:pre>a\n   b</h:pre><br>oops</br>after")))
    assert root.find("h:pre", NS).text == "a\n   b"
    br = root.find("h:br", NS)
    assert br.tail == "oopsafter"


def test_render_multimedia_keeps_caption_only(nar):
    root = check_div(nar.to_xhtml(cda_text(
        'See <renderMultiMedia referencedObject="MM1"><caption>Chest X-ray</caption></renderMultiMedia>.')))
    span = root.find("h:span", NS)
    assert span.get("class") == "multimedia" and span.find("h:b", NS).text == "Chest X-ray"
    assert root.find(".//h:img", NS) is None


def test_empty_or_script_only_narrative_is_none(nar):
    assert nar.to_xhtml(cda_text("   ")) is None
    assert nar.to_xhtml(cda_text("<h:script>alert(1)</h:script><paragraph/>")) is None
    assert nar.to_xhtml(None) is None


def test_table_indentation_is_not_content(nar):
    root = check_div(nar.to_xhtml(cda_text("<table>\n  <tbody>\n    <tr>\n      <td>x</td>\n    </tr>\n  </tbody>\n</table>")))
    table = root.find("h:table", NS)
    assert table.text is None and table.find("h:tbody", NS).text is None
    assert table.find("h:tbody/h:tr", NS).text is None


def test_collect_ids_records_text_of_referenced_elements(nar):
    ids: dict = {}
    nar.collect_ids(cda_text('<content ID="a">  Aspirin\n 81 mg </content><td ID="b"><content>x</content></td>'), ids)
    assert ids == {"a": "Aspirin 81 mg", "b": "x"}


def _sections(sections):
    for s in sections:
        yield s
        yield from _sections(s.get("section", []))


def test_hostile_section_in_a_document(validate):
    section = ('<section><code code="51848-0" codeSystem="2.16.840.1.113883.6.1"/><title>Assessment</title>'
               '<text><paragraph onclick="x()">Stable.<linkHtml href="javascript:x()">click</linkHtml></paragraph>'
               '<script xmlns="http://www.w3.org/1999/xhtml">alert(1)</script></text></section>')
    bundle = ccda2fhir.convert(wrap_fragment(section).encode(), "p1")
    comp = resources_of(bundle, "Composition")[0]
    assert validate(comp) == []
    (sec,) = comp["section"]
    root = check_div(sec["text"]["div"])
    assert "".join(root.itertext()) == "Stable.click"
    assert "emptyReason" not in sec            # a narrative-only section is not empty


def test_sample_ccd_narratives_are_valid():
    bundle = ccda2fhir.convert(SAMPLE_CCD.read_bytes(), "p1")
    comp = resources_of(bundle, "Composition")[0]
    divs = [s["text"]["div"] for s in _sections(comp["section"]) if "text" in s]
    assert len(divs) == len(list(_sections(comp["section"])))
    for div in divs:
        check_div(div)


@needs_corpus
@pytest.mark.parametrize("path", corpus_documents(), ids=lambda p: p.name)
def test_every_corpus_narrative_is_fhir_xhtml(path):
    try:
        bundle = ccda2fhir.convert(path.read_bytes(), "p1")
    except (InvalidXMLError, NotCCDAError) as exc:   # not a (well-formed) CDA document: no narrative
        pytest.skip(str(exc))
    for comp in resources_of(bundle, "Composition"):
        for s in _sections(comp.get("section", [])):
            if "text" in s:
                assert s["text"]["status"] in ("generated", "additional", "extensions", "empty")
                check_div(s["text"]["div"])


def test_blocks_inside_inline_content_make_a_div(nar):
    root = check_div(nar.to_xhtml(cda_text(
        '<paragraph>Meds:<list><item>a</item></list></paragraph>'
        '<content styleCode="Bold">T<table><tbody><tr><td>1</td></tr></tbody></table></content>')))
    first, second = list(root)
    assert first.tag == f"{{{XHTML}}}div" and first.find("h:ul/h:li", NS).text == "a"
    assert second.tag == f"{{{XHTML}}}div" and second.get("class") == "bold"
    assert second.find("h:table", NS) is not None
    # no p or span holds a block element
    for el in root.iter(f"{{{XHTML}}}p", f"{{{XHTML}}}span"):
        assert not any(d.tag.split("}")[1] in ("ul", "ol", "table", "p", "div") for d in el.iterdescendants())
