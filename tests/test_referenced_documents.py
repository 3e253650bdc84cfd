"""An act that holds only a reference to an external document -> DocumentReference to that document
(HL7 Care Plan example, Health Status Evaluations/Outcomes section), instead of being reported unmapped."""
from __future__ import annotations

import ccda2fhir
from tests.conftest import FIXTURES, resources_of
from tests.support.wrap import wrap_fragment

CARE_PLAN = FIXTURES / "hl7-c-cda-examples" / "Documents" / "Care Plan" / "Care_Plan.xml"


def test_care_plan_discharge_summary_reference_becomes_document_reference():
    bundle, report = ccda2fhir.convert_with_report(CARE_PLAN.read_bytes(), "p1")
    docs = [d for d in resources_of(bundle, "DocumentReference")
            if d.get("masterIdentifier", {}).get("value") == "20060828170821659"]
    assert len(docs) == 1
    doc = docs[0]
    assert doc["masterIdentifier"]["system"] == "urn:oid:1.2.840.113619.2.62.994044785528.12"
    assert doc["type"]["coding"][0] == {"system": "http://loinc.org", "code": "18842-5", "display": "Discharge summary"}
    assert doc["status"] == "current" and doc["subject"] == {"reference": "Patient/p1"}
    assert "category" not in doc  # not an advance directive
    assert "meta" not in doc      # no category, so not claimed as US Core DocumentReference
    # listed in its Composition section, and reported as a generic (partial) mapping, not unmapped
    comp = resources_of(bundle, "Composition")[0]
    section = next(s for s in comp["section"] if s["code"]["coding"][0]["code"] == "11383-7")
    assert {"reference": f"DocumentReference/{doc['id']}"} in section["entry"]
    lines = [i.line for i in report.issues if i.level == "unmapped"]
    assert 1331 not in lines
    assert any(i.line == 1331 and "DocumentReference" in i.reason for i in report.issues)


def test_act_without_reference_is_still_reported_unmapped():
    xml = wrap_fragment("""<entry><act classCode="ACT" moodCode="EVN">
      <code code="DOCCLIN" codeSystem="2.16.840.1.113883.5.6"/></act></entry>""", "11383-7")
    bundle, report = ccda2fhir.convert_with_report(xml.encode(), "p1")
    # the only DocumentReference is the one describing the source document itself
    assert [d["masterIdentifier"]["value"] for d in resources_of(bundle, "DocumentReference")] == ["fragment-test"]
    assert any(i.level == "unmapped" and i.element == "act" for i in report.issues)


def test_same_document_referenced_twice_is_one_resource():
    ref = """<entry><act classCode="ACT" moodCode="EVN">
      <code code="DOCCLIN" codeSystem="2.16.840.1.113883.5.6"/>
      <reference typeCode="REFR"><externalDocument classCode="DOCCLIN" moodCode="EVN">
        <id root="1.2.3.999" extension="doc-7"/>
        <code code="11506-3" codeSystem="2.16.840.1.113883.6.1" displayName="Progress note"/>
        <text mediaType="application/pdf"><reference value="https://example.org/doc-7.pdf"/></text>
      </externalDocument></reference></act></entry>"""
    bundle = ccda2fhir.convert(wrap_fragment(ref + ref, "11383-7").encode(), "p1")
    docs = [d for d in resources_of(bundle, "DocumentReference") if d["masterIdentifier"]["value"] == "doc-7"]
    assert len(docs) == 1
    assert docs[0]["content"] == [{"attachment": {"url": "https://example.org/doc-7.pdf",
                                                  "contentType": "application/pdf"}}]
    assert docs[0]["type"]["coding"][0]["code"] == "11506-3"
