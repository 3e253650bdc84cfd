"""ClinicalDocument -> Composition: header fields, one section per C-CDA section (nested), narrative, entries."""
from __future__ import annotations

import re

import pytest

import ccda2fhir
from tests.conftest import FIXTURES, SAMPLE_CCD, resolve, resources_of
from tests.support.wrap import wrap_fragment

EXAMPLES = FIXTURES / "hl7-c-cda-examples"
DOCS = EXAMPLES / "Documents"
LOINC = "http://loinc.org"


def convert(xml: bytes, validate):
    bundle, report = ccda2fhir.convert(xml, "p1", report=True)
    for r in resources_of(bundle):
        assert validate(r) == [], (r["resourceType"], validate(r)[:3])
    (comp,) = resources_of(bundle, "Composition")
    return bundle, comp, report


def walk_sections(sections):
    for s in sections:
        yield s
        yield from walk_sections(s.get("section", []))


def codes(section: dict) -> list[str]:
    return [c["code"] for c in section.get("code", {}).get("coding", [])]


SAMPLE_SECTIONS = [
    ("ADVANCE DIRECTIVES", "42348-3"), ("ALLERGIES AND ADVERSE REACTIONS", "48765-2"),
    ("ENCOUNTERS", "46240-8"), ("FAMILY HISTORY", "10157-6"), ("FUNCTIONAL STATUS", "47420-5"),
    ("IMMUNIZATIONS", "11369-6"), ("MEDICAL EQUIPMENT", "46264-8"), ("MEDICATIONS", "10160-0"),
    ("INSURANCE PROVIDERS", "48768-6"), ("TREATMENT PLAN", "18776-5"), ("PROBLEMS", "11450-4"),
    ("PROCEDURES", "47519-4"), ("RESULTS", "30954-2"), ("SOCIAL HISTORY", "29762-2"),
    ("VITAL SIGNS", "8716-3")]
# which resource types a section's entries may reference (others engineers' mappings may add types,
# but a problem must never become, say, an Immunization)
SECTION_TYPES = {
    "11450-4": {"Condition", "Observation"},
    "48765-2": {"AllergyIntolerance"},
    "10160-0": {"MedicationStatement", "MedicationRequest", "MedicationDispense", "MedicationAdministration"},
    "11369-6": {"Immunization", "ImmunizationRecommendation"},
    "8716-3": {"Observation"},
    "30954-2": {"DiagnosticReport", "Observation"},
    "47519-4": {"Procedure", "Observation", "ServiceRequest"},
    "46240-8": {"Encounter"},
}


def test_sample_ccd_composition_header(validate):
    bundle, comp, _ = convert(SAMPLE_CCD.read_bytes(), validate)
    assert comp["identifier"] == {"system": "urn:oid:2.16.840.1.113883.19.5.99999.1", "value": "TT988"}
    assert comp["status"] == "final"
    assert comp["type"]["coding"] == [{"system": LOINC, "code": "34133-9", "display": "Summary of episode note"}]
    assert comp["subject"] == {"reference": "Patient/p1"}
    assert comp["date"] == "2013-08-15T10:30:00-08:00"
    assert comp["title"] == "Patient Chart Summary"
    assert comp["confidentiality"] == "N"
    assert comp["language"] == "en-US"
    assert {"url": "http://hl7.org/fhir/us/ccda/StructureDefinition/VersionNumber", "valueInteger": 1} \
        in comp["extension"]
    assert "relatesTo" not in comp


def test_sample_ccd_sections(validate):
    bundle, comp, _ = convert(SAMPLE_CCD.read_bytes(), validate)
    assert [(s["title"], codes(s)[0]) for s in comp["section"]] == SAMPLE_SECTIONS
    assert all(s["code"]["coding"][0]["system"] == LOINC for s in comp["section"])
    for s in comp["section"]:
        assert s["text"]["status"] == "generated"
        assert s["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
        assert s.get("entry"), s["title"]                 # every sample section has entries
        assert "emptyReason" not in s
        made = [resolve(bundle, e) for e in s["entry"]]   # every entry reference resolves
        allowed = SECTION_TYPES.get(codes(s)[0])
        if allowed:
            assert {r["resourceType"] for r in made} <= allowed, s["title"]
    # each resource made from a section entry is referenced by exactly one section
    refs = [e["reference"] for s in walk_sections(comp["section"]) for e in s.get("entry", [])]
    assert len(refs) == len(set(refs))


def test_narrative_only_sections_keep_their_text(validate):
    _, comp, _ = convert((DOCS / "Discharge Summary" / "Discharge_Summary.xml").read_bytes(), validate)
    by_code = {codes(s)[0]: s for s in comp["section"]}
    for code in ("10164-2", "8648-8", "8653-8", "10187-3", "46239-0", "11348-0"):
        s = by_code[code]   # HPI, hospital course, discharge instructions, ROS, chief complaint, PMH
        assert "entry" not in s and "emptyReason" not in s
        assert len(s["text"]["div"]) > 60
    assert "Hospital Course" in by_code["8648-8"]["title"].title()
    # the chief complaint text itself is there
    assert by_code["46239-0"]["text"]["div"] == '<div xmlns="http://www.w3.org/1999/xhtml"><p>Dark stools.</p></div>'


def test_subsections_are_nested(validate):
    bundle, comp, _ = convert((DOCS / "Referral Note" / "Referral_Note.xml").read_bytes(), validate)
    (exam,) = [s for s in comp["section"] if codes(s) == ["29545-1"]]
    (skin,) = exam["section"]
    assert codes(skin) == ["8709-8"] and skin["title"] == "SKIN, PHYSICAL FINDING"
    assert skin["entry"] and all(resolve(bundle, e) for e in skin["entry"])
    # the subsection is only nested, not repeated at the top level
    assert ["8709-8"] not in [codes(s) for s in comp["section"]]
    assert "text" in exam and "emptyReason" not in exam


def test_assessment_and_plan_narratives(validate):
    _, comp, _ = convert((DOCS / "Consultation Note" / "Consultation_Note.xml").read_bytes(), validate)
    titles = [s["title"] for s in comp["section"]]
    assert "ASSESSMENT" in titles and "HISTORY OF PRESENT ILLNESS" in titles and "REASON FOR REFERRAL" in titles
    (assessment,) = [s for s in comp["section"] if s["title"] == "ASSESSMENT"]
    assert "entry" not in assessment and assessment["text"]["div"].count("<") > 2


def test_null_flavored_section_has_empty_reason(validate):
    path = EXAMPLES / "General" / "No Section Information Problems" / "No Information Problems(C-CDA2.1).xml"
    fragment = re.sub(r"^\s*(<!--.*?-->\s*)*", "", path.read_text(), flags=re.S)
    _, comp, _ = convert(wrap_fragment(fragment).encode(), validate)
    (s,) = comp["section"]
    assert s["title"] == "PROBLEMS" and codes(s) == ["11450-4"]
    assert s["emptyReason"]["coding"] == [{"system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                                           "code": "unavailable", "display": "Unavailable"}]
    assert "No Information" in s["text"]["div"]
    assert "entry" not in s


def test_section_without_text_or_entries(validate):
    xml = wrap_fragment('<section nullFlavor="NASK"><code code="10164-2" codeSystem="2.16.840.1.113883.6.1"/>'
                        '<title>HPI</title></section>')
    _, comp, _ = convert(xml.encode(), validate)
    (s,) = comp["section"]
    assert s["emptyReason"]["coding"][0]["code"] == "notasked"
    assert s["text"]["div"] == '<div xmlns="http://www.w3.org/1999/xhtml">No information</div>'


def test_relates_to_replaced_document(validate):
    path = EXAMPLES / "General" / "Parent Document Replace Relationship" / "CCD Parent Document Replace (C-CDAR2.1).xml"
    _, comp, _ = convert(path.read_bytes(), validate)
    assert comp["relatesTo"] == [{"code": "replaces", "targetIdentifier": {
        "system": "urn:oid:2.16.840.1.113883.19.5.99999.1", "value": "TT661"}}]


def _undated(extra_header: str = "") -> str:
    xml = wrap_fragment('<section><code code="51848-0" codeSystem="2.16.840.1.113883.6.1"/><text>x</text></section>')
    xml = xml.replace('<effectiveTime value="20240101120000-0500"/>', "")
    xml = xml.replace('<author><time value="20240101"/>', "<author><time nullFlavor='UNK'/>")
    return xml.replace("<title>Fragment test document</title>",
                       "<title>Fragment test document</title>" + extra_header)


def test_undated_document_is_dated_by_its_signature_and_status_from_sdtc(validate):
    xml = _undated('<sdtc:statusCode code="nullified"/>')
    xml = xml.replace("<component><structuredBody>",
                      "<legalAuthenticator><time value='20240105093000-0500'/><signatureCode code='S'/>"
                      "<assignedEntity><id root='2.16.840.1.113883.4.6' extension='1234567890'/></assignedEntity>"
                      "</legalAuthenticator><component><structuredBody>")
    bundle, comp, _ = convert(xml.encode(), validate)
    assert comp["date"] == "2024-01-05T09:30:00-05:00"
    assert comp["status"] == "entered-in-error"
    (prov,) = [p for p in resources_of(bundle, "Provenance") if p.get("entity")]
    assert prov["recorded"] == "2024-01-05T09:30:00-05:00"


def test_document_with_no_time_at_all_is_reported(validate):
    bundle, report = ccda2fhir.convert(_undated().encode(), "p1", report=True)
    # Composition.date is required and nothing in the document dates it: the Composition is made
    # with a data-absent date (never an invented one), and the report says the document is undated
    (comp,) = resources_of(bundle, "Composition")
    assert "date" not in comp
    assert comp["_date"]["extension"][0]["url"] == "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
    assert validate(comp) == []
    assert any("date" in i.reason for i in report.issues)


@pytest.mark.parametrize("conf, expected", [("R", "R"), ("V", "V"), ("XX", None)])
def test_confidentiality(validate, conf, expected):
    xml = wrap_fragment('<section><code code="51848-0" codeSystem="2.16.840.1.113883.6.1"/><text>x</text></section>')
    xml = xml.replace('<confidentialityCode code="N"', f'<confidentialityCode code="{conf}"')
    _, comp, _ = convert(xml.encode(), validate)
    assert comp.get("confidentiality") == expected


def test_section_author(validate):
    xml = wrap_fragment('<section><code code="51848-0" codeSystem="2.16.840.1.113883.6.1"/><title>A</title>'
                        '<text>Stable</text><author><time value="20240101"/><assignedAuthor>'
                        '<id root="2.16.840.1.113883.4.6" extension="9999999999"/><assignedPerson><name>'
                        '<given>Sam</given><family>Section</family></name></assignedPerson></assignedAuthor>'
                        '</author></section>')
    bundle, comp, _ = convert(xml.encode(), validate)
    (s,) = comp["section"]
    (author,) = s["author"]
    assert resolve(bundle, author)["name"] == [{"family": "Section", "given": ["Sam"]}]


def test_section_without_code_gets_its_template_code(validate):
    xml = wrap_fragment('<section><templateId root="2.16.840.1.113883.10.20.22.2.21.1"/>'
                        '<title>Advance Directives</title><text>None on file</text></section>')
    _, comp, _ = convert(xml.encode(), validate)
    (s,) = comp["section"]
    assert s["code"] == {"coding": [{"system": LOINC, "code": "42348-3", "display": "Advance directives"}]}
