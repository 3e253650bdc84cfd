"""Advance Directive Observation / Organizer -> Consent (scope adr) + the directive's
DocumentReference."""
from __future__ import annotations


import ccda2fhir
from tests.conftest import CORPUS, FIXTURES, needs_corpus, resolve, resources_of
from tests.support.fragments import convert_example

GUIDE = FIXTURES / "hl7-c-cda-examples" / "Guide Examples"
OBS = GUIDE / "Advance Directive Observation (V3)_2.16.840.1.113883.10.20.22.4.48" / \
    "Advance Directive Observation (V3) Example.xml"
SNOMED = "http://snomed.info/sct"


def convert_text(text: str):
    return convert_example(text, "42348-3", report=True)


def test_advance_directive_observation(validate):
    bundle, report = convert_text(OBS.read_text(encoding="utf-8-sig"))
    (consent,) = resources_of(bundle, "Consent")
    assert validate(consent) == []
    assert consent["identifier"] == [{"system": "urn:ietf:rfc:3986",
                                      "value": "urn:uuid:9b54c3c9-1673-49c7-aef9-b037ed72ed27"}]
    assert consent["status"] == "active"
    assert consent["scope"]["coding"][0]["code"] == "adr"
    assert consent["category"][0]["coding"] == [
        {"system": SNOMED, "code": "304251008", "display": "Resuscitation status"},
        {"system": "http://loinc.org", "code": "75320-2", "display": "Advance Directive"}]
    assert consent["patient"] == {"reference": "Patient/p1"}
    assert consent["dateTime"] == "2013-08-01T12:35:00-08:00"
    assert consent["provision"]["period"] == {"start": "2011-02-13"}
    assert consent["provision"]["code"] == [{"coding": [{"system": SNOMED, "code": "304253006",
                                                         "display": "Not for resuscitation"}],
                                             "text": "Do not resuscitate"}]
    # the healthcare agent (CST, the mother) is an actor of the provision
    (actor,) = consent["provision"]["actor"]
    assert actor["role"]["coding"][0]["code"] == "MTH"
    agent = resolve(bundle, actor["reference"])
    assert agent["resourceType"] == "RelatedPerson" and agent["name"][0]["family"] == "Jones"
    assert consent["verification"] == [{"verified": True}]     # VRF time '201302013' is not a date
    assert consent["sourceAttachment"] == {
        "contentType": "application/pdf", "url": "AdvanceDirective.b50b7910-7ffb-4f4c-bbe4-177ed68cbbf3.pdf"}
    assert resolve(bundle, consent["organization"][0])["name"] == "Good Health Hospital"
    # the directive document itself
    docs = [d for d in resources_of(bundle, "DocumentReference")
            if d.get("masterIdentifier", {}).get("value") == "urn:uuid:b50b7910-7ffb-4f4c-bbe4-177ed68cbbf3"]
    assert len(docs) == 1
    assert validate(docs[0]) == []
    assert docs[0]["content"] == [{"attachment": {
        "url": "AdvanceDirective.b50b7910-7ffb-4f4c-bbe4-177ed68cbbf3.pdf", "contentType": "application/pdf"}}]
    assert docs[0]["subject"] == {"reference": "Patient/p1"}
    assert not [i for i in report.issues if i.level in ("unmapped", "error")]


def test_ended_directive_is_inactive(validate):
    text = OBS.read_text(encoding="utf-8-sig").replace('<high nullFlavor="NA" />', '<high value="20120101" />')
    bundle, _ = convert_text(text)
    (consent,) = resources_of(bundle, "Consent")
    assert consent["status"] == "inactive"
    assert consent["provision"]["period"] == {"start": "2011-02-13", "end": "2012-01-01"}
    assert validate(consent) == []


@needs_corpus
def test_ccd_r21_advance_directives(validate):
    path = CORPUS / "hl7-cda-ccda-2.1" / "examples" / "C-CDA_R2-1_CCD.xml"
    bundle, report = ccda2fhir.convert(path.read_bytes(), "p1", report=True)
    (consent,) = resources_of(bundle, "Consent")
    assert validate(consent) == []
    # the organizer's code (living will) is the second category
    assert consent["category"][1]["coding"][0]["code"] == "45473-6"
    assert consent["provision"]["code"][0]["coding"][0]["code"] == "304253006"
    assert consent["provision"]["period"] == {"start": "2011-02-19"}
    # the attachment wins the source[x] choice; the document is a DocumentReference too
    assert consent["sourceAttachment"]["url"] == "AdvanceDirective.b50b7910.pdf"
    assert "sourceReference" not in consent
    assert [d for d in resources_of(bundle, "DocumentReference")
            if d.get("masterIdentifier", {}).get("value") == "urn:uuid:b50b7910-7ffb-4f4c-bbe4-177ed68cbbf3"]
    assert not [i for i in report.issues if "4.48" in (i.template_id or "") and i.level in ("unmapped", "error")]
    # the organizer is a List of its Consents, with its id, code and author
    (group,) = [r for r in resources_of(bundle, "List")
                if r["identifier"][0]["value"] == "urn:uuid:af6ebdf2-d996-11e2-a5b8-f23c91aec05e"]
    assert validate(group) == []
    assert group["code"]["coding"][0]["code"] == "45473-6"
    assert group["entry"] == [{"item": {"reference": f"Consent/{consent['id']}"}}]
    assert resolve(bundle, group["source"])["resourceType"] in ("Practitioner", "PractitionerRole")


@needs_corpus
def test_r11_advance_directives(validate):
    path = CORPUS / "amida-blue-button" / "example" / "C32.xml"
    bundle = ccda2fhir.convert(path.read_bytes(), "p1")
    consents = resources_of(bundle, "Consent")
    assert consents
    for c in consents:
        assert validate(c) == []
        assert c["scope"]["coding"][0]["code"] == "adr"


def test_ended_is_judged_as_of_the_document_not_the_clock():
    """A directive that ended before the document was written is inactive; one still in force
    when it was written stays active, whenever it is converted (deterministic output)."""
    text = OBS.read_text(encoding="utf-8-sig")
    assert '<high nullFlavor="NA" />' in text

    def status(high: str) -> str:
        t = text.replace('<high nullFlavor="NA" />', f'<high value="{high}"/>', 1)
        return resources_of(convert_text(t)[0], "Consent")[0]["status"]
    assert status("20120101") == "inactive"
    assert status("20300101") == "active"
    # the wrapper document is dated 2024-01-01: a directive ending a month later was in force
    # then, though the clock may say otherwise
    assert status("20240201") == "active"


def _r11_directive(status_value: str, high: str = '<high nullFlavor="UNK"/>') -> str:
    """A CCD 1.0 Advance Directive Observation (1.17) with its Advance Directive Status Observation."""
    return f"""<entry><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.1.17"/>
      <id root="1.2.3.4" extension="adr-r11"/>
      <code code="304251008" codeSystem="2.16.840.1.113883.6.96" displayName="Resuscitation status"/>
      <statusCode code="completed"/>
      <effectiveTime><low value="20100101"/>{high}</effectiveTime>
      <value xsi:type="CD" code="304253006" codeSystem="2.16.840.1.113883.6.96" displayName="Do not resuscitate"/>
      <entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.1.37"/>
        <code code="33999-4" codeSystem="2.16.840.1.113883.6.1" displayName="Status"/>
        <statusCode code="completed"/>
        <value xsi:type="CE" code="{status_value}" codeSystem="2.16.840.1.113883.6.96"/>
      </observation></entryRelationship>
    </observation></entry>"""


def test_r11_directive_status_value_kept_beside_the_consent_status(validate):
    """CCD 1.0 Advance Directive Status Observation: 'No longer active' makes the Consent inactive;
    'Current and verified' agrees with active. Either way its SNOMED coding is kept in HL7's
    alternate-codes extension on _status; a value the map does not know is not attached."""
    alt = "http://hl7.org/fhir/StructureDefinition/alternate-codes"
    for value, expected in (("15240007", "active"), ("73425007", "inactive")):
        bundle, _ = convert_text(_r11_directive(value))
        (consent,) = resources_of(bundle, "Consent")
        assert validate(consent) == []
        assert consent["status"] == expected
        [ext] = consent["_status"]["extension"]
        assert ext["url"] == alt
        assert ext["valueCodeableConcept"]["coding"] == [{"system": SNOMED, "code": value}]
    # 'current and verified', but the directive ended before the document: inactive, value not attached
    bundle, _ = convert_text(_r11_directive("15240007", '<high value="20120101"/>'))
    (consent,) = resources_of(bundle, "Consent")
    assert consent["status"] == "inactive" and "_status" not in consent
    bundle, _ = convert_text(_r11_directive("425392003"))
    (consent,) = resources_of(bundle, "Consent")
    assert consent["status"] == "active" and "_status" not in consent
