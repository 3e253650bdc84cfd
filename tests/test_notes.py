"""Note Activity (anywhere in the document) -> US Core DocumentReference (CF-notes)."""
from __future__ import annotations

import base64
from pathlib import Path

import pytest

import ccda2fhir
from tests.conftest import FIXTURES, needs_corpus, resolve, resources_of
from tests.support.wrap import wrap_fragment
from tests.support.fragments import convert_example

NOTES = FIXTURES / "hl7-c-cda-examples" / "Notes"
LOINC = "http://loinc.org"
CATEGORY = {"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                        "code": "clinical-note", "display": "Clinical Note"}]}


def convert_fragment(path: Path, section_code: str = "11450-4"):
    return convert_example(Path(path), section_code, report=True)


def notes_of(bundle):
    return [r for r in resources_of(bundle, "DocumentReference")
            if r.get("category") == [CATEGORY] and r["content"][0]["attachment"].get("contentType")
            != "application/hl7-cda+xml"]


def test_consultation_note(validate):
    bundle, report = convert_fragment(NOTES / "Single Consultation Note" / "Single Consultation Note(C-CDA R2.1).xml")
    (note,) = notes_of(bundle)
    assert validate(note) == []
    assert note["status"] == "current"
    assert note["type"]["coding"] == [{"system": LOINC, "code": "34109-9", "display": "Note"},
                                      {"system": LOINC, "code": "11488-4", "display": "Consult note"}]
    assert note["category"] == [CATEGORY]
    assert note["subject"] == {"reference": "Patient/p1"}
    assert note["date"] == "2016-09-08T08:32:15-05:00"
    assert note["context"]["period"] == {"start": "2016-09-08"}
    author = resolve(bundle, note["author"][0])
    assert author["resourceType"] == "Practitioner" and author["name"][0]["family"] == "Specialist"
    att = note["content"][0]["attachment"]
    assert att["contentType"] == "text/plain"
    text = base64.b64decode(att["data"]).decode()
    assert text.startswith("Dr. Specialist - September 8, 2016 Dear Dr. Henry Leven")
    assert "lifelong gluten-free diet" in text
    assert not [i for i in report.issues if i.level in ("unmapped", "error")]


def test_rtf_note_keeps_its_base64(validate):
    path = NOTES / "RTF Note" / "RTF Note (C-CDA R2.1).xml"
    bundle, _ = convert_fragment(path)
    (note,) = notes_of(bundle)
    assert validate(note) == []
    att = note["content"][0]["attachment"]
    assert att["contentType"] == "text/rtf"
    assert base64.b64decode(att["data"]).startswith(b"{\\rtf1")
    assert {"system": LOINC, "code": "34746-8", "display": "Nurse Note"} in note["type"]["coding"]


def test_note_nested_in_a_procedure_is_mapped(validate):
    bundle, report = convert_fragment(NOTES / "Note directly attached to a Procedure" /
                                      "Note directly attached to a Procedure(C-CDAR2.1).xml")
    (note,) = notes_of(bundle)
    assert validate(note) == []
    assert {"system": LOINC, "code": "28570-0", "display": "Procedure note"} in note["type"]["coding"]
    assert note["date"] == "2014-02-04T08:32:15-05:00"
    assert base64.b64decode(note["content"][0]["attachment"]["data"]).decode().startswith("Dr. Physician - 03 Feb 2014")
    # the note's <encounter> only points at id 1.2.3.4, which no Encounter Activity carries:
    # no thin Encounter is invented from it
    assert "encounter" not in note.get("context", {})
    assert not [r for r in resources_of(bundle, "Encounter")
                if any(i.get("value") == "urn:oid:1.2.3.4" for i in r.get("identifier", []))]
    # the procedure is still mapped beside the note
    assert resources_of(bundle, "Procedure")


ENCOUNTER_AND_NOTE = """<section>
  <templateId root="2.16.840.1.113883.10.20.22.2.65" extension="2016-11-01"/>
  <code code="34109-9" codeSystem="2.16.840.1.113883.6.1"/>
  <title>Notes</title>
  <text><paragraph ID="n1">Patient seen for follow-up.</paragraph></text>
  <entry><encounter classCode="ENC" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.49" extension="2015-08-01"/>
    <id root="2.16.840.1.113883.19.5" extension="enc-77"/>
    <code code="99213" codeSystem="2.16.840.1.113883.6.12"/>
    <effectiveTime value="20200302"/></encounter></entry>
  <entry><act classCode="ACT" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.202" extension="2016-11-01"/>
    <id root="2.16.840.1.113883.19.5" extension="note-1"/>
    <code code="34109-9" codeSystem="2.16.840.1.113883.6.1" displayName="Note"/>
    <text><reference value="#n1"/></text>
    <statusCode code="completed"/>
    <effectiveTime value="20200302"/>
    <author><time value="2020030210"/><assignedAuthor><id root="2.16.840.1.113883.4.6" extension="111"/></assignedAuthor></author>
    <entryRelationship typeCode="COMP" inversionInd="true">
      <encounter classCode="ENC" moodCode="EVN"><id root="2.16.840.1.113883.19.5" extension="enc-77"/></encounter>
    </entryRelationship>
    <reference typeCode="REFR"><externalDocument><id root="4dc41c26-43a4-48d9-b17e-067890006b29"/></externalDocument></reference>
  </act></entry>
</section>"""


def test_note_encounter_reference_resolves(validate):
    bundle, report = ccda2fhir.convert(wrap_fragment(ENCOUNTER_AND_NOTE).encode(), "p1", report=True)
    (note,) = notes_of(bundle)
    assert validate(note) == []
    assert note["identifier"] == [{"system": "urn:oid:2.16.840.1.113883.19.5", "value": "note-1"}]
    enc = resolve(bundle, note["context"]["encounter"][0])
    assert enc["resourceType"] == "Encounter"
    assert {"system": "urn:oid:2.16.840.1.113883.19.5", "value": "enc-77"} in enc["identifier"]
    assert len(resources_of(bundle, "Encounter")) == 1     # the pointer made no second Encounter
    # an author time without UTC offset is no instant: no date
    assert "date" not in note
    assert note["type"]["coding"] == [{"system": LOINC, "code": "34109-9", "display": "Note"}]
    assert note["relatesTo"] == [{"code": "appends", "target": {"identifier": {
        "system": "urn:ietf:rfc:3986", "value": "urn:uuid:4dc41c26-43a4-48d9-b17e-067890006b29"}}}]
    assert base64.b64decode(note["content"][0]["attachment"]["data"]).decode() == "Patient seen for follow-up."


NESTED_NOTE = """<entryRelationship typeCode="COMP"><act classCode="ACT" moodCode="EVN">
 <templateId root="2.16.840.1.113883.10.20.22.4.202" extension="2016-11-01"/>
 <id root="2.16.840.1.113883.19.5" extension="note-%s"/>
 <code code="34109-9" codeSystem="2.16.840.1.113883.6.1" displayName="Note"/>
 <text>Inline note %s</text><statusCode code="completed"/></act></entryRelationship>"""
NESTING = {
 "result": ("30954-2", """<entry><organizer classCode="BATTERY" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.1" extension="2015-08-01"/>
 <id root="1.2.3" extension="org"/><code code="57021-8" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/><effectiveTime value="20200101"/>
 <component><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
 <id root="1.2.3" extension="obs"/><code code="718-7" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/><effectiveTime value="20200101"/>
 <value xsi:type="PQ" value="13" unit="g/dL"/>%s</observation></component></organizer></entry>"""),
 "problem": ("11450-4", """<entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.3" extension="2015-08-01"/>
 <id root="1.2.3" extension="conc"/><code code="CONC" codeSystem="2.16.840.1.113883.5.6"/><statusCode code="active"/><effectiveTime><low value="2020"/></effectiveTime>
 <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.4" extension="2015-08-01"/>
 <id root="1.2.3" extension="prob"/><code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/><effectiveTime><low value="2020"/></effectiveTime>
 <value xsi:type="CD" code="38341003" codeSystem="2.16.840.1.113883.6.96"/>%s</observation></entryRelationship></act></entry>"""),
 "vitals": ("8716-3", """<entry><organizer classCode="CLUSTER" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.26" extension="2015-08-01"/>
 <id root="1.2.3" extension="vorg"/><code code="46680005" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/><effectiveTime value="20200101"/>
 <component><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.27" extension="2014-06-09"/>
 <id root="1.2.3" extension="vs"/><code code="8867-4" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/><effectiveTime value="20200101"/>
 <value xsi:type="PQ" value="80" unit="/min"/>%s</observation></component></organizer></entry>"""),
 "encounter": ("46240-8", """<entry><encounter classCode="ENC" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.49" extension="2015-08-01"/>
 <id root="1.2.3" extension="enc"/><code code="99213" codeSystem="2.16.840.1.113883.6.12"/><effectiveTime value="20200101"/>%s</encounter></entry>"""),
 "procedure": ("47519-4", """<entry><procedure classCode="PROC" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.14" extension="2014-06-09"/>
 <id root="1.2.3" extension="proc"/><code code="80146002" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/><effectiveTime value="20200101"/>%s</procedure></entry>"""),
 "medication": ("10160-0", """<entry><substanceAdministration classCode="SBADM" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.16" extension="2014-06-09"/>
 <id root="1.2.3" extension="med"/><statusCode code="active"/><effectiveTime xsi:type="IVL_TS"><low value="2020"/></effectiveTime>
 <consumable><manufacturedProduct><templateId root="2.16.840.1.113883.10.20.22.4.23"/><manufacturedMaterial><code code="197361" codeSystem="2.16.840.1.113883.6.88"/></manufacturedMaterial></manufacturedProduct></consumable>%s</substanceAdministration></entry>"""),
}


@pytest.mark.parametrize("name", sorted(NESTING))
def test_note_nested_in_other_entries_is_not_absorbed(name, validate):
    """A Note Activity under a result, problem, vital sign, encounter, procedure or medication is
    still a DocumentReference (no other route swallows it)."""
    code, frag = NESTING[name]
    bundle, report = ccda2fhir.convert(
        wrap_fragment(frag % (NESTED_NOTE % (name, name)), code).encode(), "p1", report=True)
    notes = [r for r in resources_of(bundle, "DocumentReference")
             if any(i.get("value") == f"note-{name}" for i in r.get("identifier", []))]
    assert len(notes) == 1, report.summary()
    note = notes[0]
    assert validate(note) == []
    # inline text without mediaType: text/plain, base64 of the text
    assert base64.b64decode(note["content"][0]["attachment"]["data"]).decode() == f"Inline note {name}"
    if name == "encounter":   # the enclosing Encounter Activity is the note's context
        enc = resolve(bundle, note["context"]["encounter"][0])
        assert {"system": "urn:oid:1.2.3", "value": "enc"} in enc["identifier"]


@needs_corpus
def test_corpus_notes_are_valid(validate):
    """Every Note Activity in the corpus documents becomes one valid clinical-note DocumentReference."""
    from lxml import etree
    from ccda2fhir.errors import InvalidXMLError, NotCCDAError
    from tests.conftest import corpus_documents
    checked = 0
    for path in corpus_documents():
        raw = path.read_bytes()
        if b"2.16.840.1.113883.10.20.22.4.202" not in raw:
            continue
        try:
            tree = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            continue
        n_src = len(tree.xpath("//*[local-name()='templateId'][@root='2.16.840.1.113883.10.20.22.4.202']/.."))
        try:
            bundle = ccda2fhir.convert(raw, "p1")
        except (NotCCDAError, InvalidXMLError):
            continue
        notes = notes_of(bundle)
        assert notes, path
        assert len(notes) <= n_src
        for r in notes:
            assert validate(r) == [], path
        checked += 1
    assert checked > 5
