"""Convert time grows linearly with the input, along every dimension a document can grow in.

A hypothesis strategy picks a dimension (attributes, children per element, text size, ids,
entries per section, repeated references, narrative shapes, sections) and a variant of it, and
builds the document at n and at 8n units. The CPU time of convert() is divided by the CPU time of
lxml parsing the same bytes (a linear yardstick that absorbs the machine's speed); that ratio may
grow at most GROWTH_LIMIT times from n to 8n. A quadratic step (lxml's attrib.items(), text
appended piece by piece, a Python loop over everything made so far) makes it grow about 8 times.
Documents stay under about 4 MB; the whole module takes about 40 s of CPU. A quadratic step with
a tiny constant (a C-level list scan per entry, ~35 ns a pair) only shows past ~50,000 entries,
beyond what CI can afford: such steps are found by profiling (the section's entry list was one).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from lxml import etree

import ccda2fhir

GROWTH = 8
GROWTH_LIMIT = 3.0

HEADER = """<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<realmCode code="US"/><typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
<templateId root="2.16.840.1.113883.10.20.22.1.2" extension="2015-08-01"/><id root="1.2.3" extension="doc"/>
<code code="34133-9" codeSystem="2.16.840.1.113883.6.1"/><title>{title}</title>
<effectiveTime value="20240101120000-0500"/><confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
<recordTarget><patientRole><id root="1.2.3.9" extension="p"/><patient><name>{given}<family>Doe</family></name>
<administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="19700101"/></patient>
</patientRole></recordTarget>
<author><time value="20240101"/><assignedAuthor><id root="2.16.840.1.113883.4.6" extension="1234567893"/>
<assignedPerson><name><given>Ann</given><family>Author</family></name></assignedPerson></assignedAuthor></author>
<custodian><assignedCustodian><representedCustodianOrganization><id root="1.2.3.8"/><name>Clinic</name>
</representedCustodianOrganization></assignedCustodian></custodian>
"""


def document(body: str, *, title: str = "Growth", given: str = "<given>Jane</given>") -> bytes:
    return (HEADER.format(title=title, given=given) + body + "</ClinicalDocument>").encode()


def structured(sections: str) -> str:
    return f"<component><structuredBody>{sections}</structuredBody></component>"


def section(entries: str, text: str = "Problems", code: str = "11450-4",
            template: str = "2.16.840.1.113883.10.20.22.2.5.1") -> str:
    return (f'<component><section><templateId root="{template}" extension="2015-08-01"/>'
            f'<code code="{code}" codeSystem="2.16.840.1.113883.6.1"/><title>T</title><text>{text}</text>'
            f"{entries}</section></component>")


AUTHOR = ('<author><time value="20240101"/><assignedAuthor><id root="2.16.840.1.113883.4.6" extension="1234567893"/>'
          '<assignedPerson><name><given>Ann</given><family>Author</family></name></assignedPerson></assignedAuthor>'
          '</author>')


def problem(i: int, *, ids: str | None = None, inside: str = "", value_children: str = "", author: str = "",
            text: str = "", attrs: str = "") -> str:
    ids = ids if ids is not None else f'<id root="1.2.3.4" extension="o{i}"/>'
    return ('<entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.3" '
            f'extension="2015-08-01"/><id root="1.2.3.5" extension="c{i}"/><code code="CONC" '
            'codeSystem="2.16.840.1.113883.5.6"/><statusCode code="active"/><effectiveTime><low value="20200101"/>'
            f'</effectiveTime>{author}<entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN"'
            f'{attrs}><templateId root="2.16.840.1.113883.10.20.22.4.4" extension="2015-08-01"/>{ids}'
            f'<code code="55607006" codeSystem="2.16.840.1.113883.6.96"/>{text}<statusCode code="completed"/>'
            f'<effectiveTime><low value="2020{i % 12 + 1:02d}01"/></effectiveTime><value xsi:type="CD" '
            f'code="{195967001 + i}" codeSystem="2.16.840.1.113883.6.96" displayName="Finding {i}">{value_children}'
            f'</value>{inside}</observation></entryRelationship></act></entry>')


def generic(i: int) -> str:
    return (f'<entry><observation classCode="OBS" moodCode="EVN"><id root="1.2.3.6" extension="g{i}"/>'
            f'<code code="8302-2" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>'
            f'<effectiveTime value="20240101"/><value xsi:type="PQ" value="{150 + i % 50}" unit="cm"/>'
            '</observation></entry>')


def encounter(i: int) -> str:
    return (f'<entry><encounter classCode="ENC" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.49" '
            f'extension="2015-08-01"/><id root="1.2.3.7" extension="e{i}"/><code code="99213" '
            f'codeSystem="2.16.840.1.113883.6.12"/><effectiveTime value="2024010{i % 9 + 1}"/></encounter></entry>')


def one_problem(**kw) -> bytes:
    return document(structured(section(problem(0, **kw))))


def narrative(text: str) -> bytes:
    return document(structured(section(problem(0), text=text)))


@dataclass(frozen=True)
class Dimension:
    name: str
    unit: int                                    # n for the small document
    variants: dict[str, Callable[[int], bytes]]  # variant -> document of n units


DIMENSIONS = [
    Dimension("attributes", 20_000, {
        "observation": lambda n: one_problem(attrs=" " + " ".join(f'a{i}="x"' for i in range(n))),
        "narrative": lambda n: narrative("<paragraph " + " ".join(f'a{i}="x"' for i in range(n)) + ">x</paragraph>"),
        "header": lambda n: document(structured(section(problem(0))),
                                     title='x</title><title ' + " ".join(f'a{i}="x"' for i in range(n)) + '>y'),
    }),
    Dimension("children per element", 2_000, {
        "ids": lambda n: one_problem(ids="".join(f'<id root="1.2.3.4" extension="x{j}"/>' for j in range(n))),
        "translations": lambda n: one_problem(value_children="".join(
            f'<translation code="{j}" codeSystem="2.16.840.1.113883.6.90"/>' for j in range(n))),
        "entryRelationships": lambda n: one_problem(inside="".join(
            '<entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN"><templateId '
            'root="2.16.840.1.113883.10.20.22.4.6"/><code code="33999-4" codeSystem="2.16.840.1.113883.6.1"/>'
            f'<statusCode code="completed"/><value xsi:type="CD" code="{55561003 + j % 3}" '
            'codeSystem="2.16.840.1.113883.6.96"/></observation></entryRelationship>' for j in range(n // 4))),
        "given names": lambda n: document(structured(section(problem(0))),
                                          given="".join(f"<given>G{j}</given>" for j in range(n))),
    }),
    Dimension("text size", 40_000, {
        "narrative paragraph": lambda n: narrative("<paragraph>" + "word " * n + "</paragraph>"),
        "statement text": lambda n: one_problem(text="<text>" + "word " * n + "</text>"),
        "display name": lambda n: one_problem(value_children="", attrs="").replace(
            b'displayName="Finding 0"', b'displayName="' + b"word " * n + b'"'),
        "title": lambda n: document(structured(section(problem(0))), title="word " * n),
    }),
    Dimension("ids", 300, {
        "distinct": lambda n: document(structured(section("".join(problem(i) for i in range(n))))),
        "one id shared by every entry": lambda n: document(structured(section("".join(
            problem(i, ids='<id root="1.2.3.4" extension="same"/>') for i in range(n))))),
    }),
    Dimension("entries per section", 300, {
        "problems": lambda n: document(structured(section("".join(problem(i) for i in range(n))))),
        "untemplated observations": lambda n: document(structured(section("".join(generic(i) for i in range(n)),
                                                                          code="29762-2"))),
        "encounters": lambda n: document(structured(section("".join(encounter(i) for i in range(n)), code="46240-8",
                                                            template="2.16.840.1.113883.10.20.22.2.22.1"))),
    }),
    # A step that costs little per entry (a list scan per entry) shows only past thousands of entries.
    Dimension("entries per section, at scale", 1_500, {
        "untemplated observations": lambda n: document(structured(section("".join(generic(i) for i in range(n)),
                                                                          code="29762-2"))),
    }),
    Dimension("repeated references", 300, {
        "the same author": lambda n: document(structured(section("".join(
            problem(i, author=AUTHOR) for i in range(n))))),
        "the same narrative id": lambda n: document(structured(section("".join(
            problem(i, text='<text><reference value="#r1"/></text>') for i in range(n)),
            text='<content ID="r1">Asthma</content>'))),
    }),
    Dimension("narrative shapes", 4_000, {
        "sibling elements": lambda n: narrative("<paragraph>" + "<content>w</content> " * n + "</paragraph>"),
        "dropped elements with tails": lambda n: narrative("<paragraph>" + "<wbr/>word " * n + "</paragraph>"),
        "ids": lambda n: narrative("".join(f'<content ID="n{j}">x{j}</content>' for j in range(n))),
        "escaped line breaks": lambda n: narrative("<paragraph>" + "line&lt;br&gt;" * n + "</paragraph>"),
        "table rows": lambda n: narrative("<table><tbody>" + "<tr><td>a</td><td>b</td></tr>" * n + "</tbody></table>"),
    }),
    Dimension("sections", 200, {
        "one entry each": lambda n: document(structured("".join(section(problem(i)) for i in range(n)))),
    }),
]
BY_NAME = {d.name: d for d in DIMENSIONS}


def _cpu(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return max(best, 1e-6)


def _ratio(data: bytes) -> float:
    """CPU time of convert() over CPU time of lxml parsing the same bytes."""
    def convert():
        try:
            ccda2fhir.convert(data, "growth-1")
        except ccda2fhir.ConversionError:   # a refusal counts too: it must come as fast
            pass
    parser = etree.XMLParser(resolve_entities=False, huge_tree=True)
    return _cpu(convert, 2) / _cpu(lambda: etree.fromstring(data, parser), 5)


@st.composite
def growing_documents(draw):
    """(dimension name, variant name, n): one way a document grows, at its small size."""
    dim = draw(st.sampled_from(DIMENSIONS))
    variant = draw(st.sampled_from(sorted(dim.variants)))
    n = dim.unit * draw(st.sampled_from([1, 2]))
    return dim.name, variant, n


def _examples(test):
    for dim in DIMENSIONS:
        for variant in dim.variants:
            test = example((dim.name, variant, dim.unit))(test)
    return test


@settings(max_examples=4, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(growing_documents())
@_examples
def test_convert_time_stays_linear_in_input_size(case):
    name, variant, n = case
    build = BY_NAME[name].variants[variant]
    small, big = build(n), build(n * GROWTH)
    assert len(big) > 5 * len(small) and len(big) < 5_000_000
    ratio_small, ratio_big = _ratio(small), _ratio(big)
    growth = ratio_big / ratio_small
    assert growth < GROWTH_LIMIT, (f"{name} / {variant}: {len(small)} -> {len(big)} bytes, convert/parse "
                                   f"{ratio_small:.0f} -> {ratio_big:.0f} (x{growth:.1f}): superlinear")


def test_merging_many_mentions_of_one_participant_is_linear():
    from ccda2fhir.assemble.merge import Merger

    def mentions(n):
        practitioner, merger = {"telecom": []}, Merger()   # one Merger per conversion, as Conversion has
        for i in range(n):
            merger.merge(practitioner, {"telecom": [{"system": "phone", "value": f"tel:+1-555-{i:07d}"}]})
    small, big = _cpu(lambda: mentions(300), 2), _cpu(lambda: mentions(300 * GROWTH), 1)
    assert big / small < GROWTH * GROWTH_LIMIT
