"""One Provenance per document: targets, agents, and the source document as a US Core DocumentReference."""
from __future__ import annotations

import base64
import hashlib

import ccda2fhir
from tests.conftest import FIXTURES, SAMPLE_CCD, resolve, resources_of
from tests.support.wrap import wrap_fragment

EXAMPLES = FIXTURES / "hl7-c-cda-examples"
AGENT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"


def convert(xml: bytes, validate, **options) -> dict:
    bundle = ccda2fhir.convert(xml, "p1", **options)
    for r in resources_of(bundle):
        assert validate(r) == [], (r["resourceType"], validate(r)[:3])
    return bundle


def provenance_and_source(bundle: dict) -> tuple[dict, dict]:
    # the document's Provenance: the one with the source entity (statements have their own)
    (prov,) = [p for p in resources_of(bundle, "Provenance") if p.get("entity")]
    (entity,) = prov["entity"]
    assert entity["role"] == "source"
    source = resolve(bundle, entity["what"])
    assert source["resourceType"] == "DocumentReference"
    return prov, source


def test_targets_every_resource_but_patient_and_the_source(validate):
    bundle = convert(SAMPLE_CCD.read_bytes(), validate)
    prov, source = provenance_and_source(bundle)
    targets = [t["reference"] for t in prov["target"]]
    assert len(targets) == len(set(targets))
    everything = {f"{r['resourceType']}/{r['id']}" for r in resources_of(bundle)}
    # Our choice: the Patient (the caller's record, id = patient_id) is not a target: the document
    # is one source among many for that person; nor any Provenance or the source document itself.
    expected = {r for r in everything if not r.startswith("Provenance/")} - {
        "Patient/p1", f"DocumentReference/{source['id']}"}
    assert set(targets) == expected
    (comp,) = resources_of(bundle, "Composition")
    assert f"Composition/{comp['id']}" in targets
    assert prov["recorded"] == "2013-08-15T10:30:00-08:00"


def test_agents(validate):
    bundle = convert(SAMPLE_CCD.read_bytes(), validate)
    prov, _ = provenance_and_source(bundle)
    assert all(a["type"]["coding"][0]["system"] == AGENT_TYPE for a in prov["agent"])
    kinds = [a["type"]["coding"][0]["code"] for a in prov["agent"]]
    assert kinds == ["author", "custodian", "enterer"] + ["informant"] * 6 + ["legal", "attester"]
    author = resolve(bundle, prov["agent"][0]["who"])
    assert author["name"][0]["family"] == "Primary"
    custodian = resolve(bundle, prov["agent"][1]["who"])
    assert custodian["name"] == "Good Health HIE"
    # prov-3: onBehalfOf never on an agent that is itself an Organization
    for a in prov["agent"]:
        if a["who"]["reference"].startswith("Organization/"):
            assert "onBehalfOf" not in a


def test_author_on_behalf_of_organization(validate):
    xml = wrap_fragment('<section><code code="51848-0" codeSystem="2.16.840.1.113883.6.1"/><text>x</text></section>')
    xml = xml.replace("</assignedPerson></assignedAuthor>",
                      "</assignedPerson><representedOrganization><id root='2.16.840.1.113883.19.5' extension='org-7'/>"
                      "<name>Author Clinic</name></representedOrganization></assignedAuthor>")
    bundle = convert(xml.encode(), validate)
    prov, _ = provenance_and_source(bundle)
    (author,) = [a for a in prov["agent"] if a["type"]["coding"][0]["code"] == "author"]
    org = resolve(bundle, author["onBehalfOf"])
    assert org["name"] == "Author Clinic"
    assert org["identifier"] == [{"system": "urn:oid:2.16.840.1.113883.19.5", "value": "org-7"}]
    # date-only document time in the fragment header is 20240101120000-0500
    assert prov["recorded"] == "2024-01-01T12:00:00-05:00"


def test_date_only_effective_time_is_midnight_utc(validate):
    xml = wrap_fragment('<section><code code="51848-0" codeSystem="2.16.840.1.113883.6.1"/><text>x</text></section>')
    xml = xml.replace('<effectiveTime value="20240101120000-0500"/>', '<effectiveTime value="20240102"/>')
    prov, _ = provenance_and_source(convert(xml.encode(), validate))
    assert prov["recorded"] == "2024-01-02T00:00:00Z"


def test_source_document_reference_is_us_core(validate):
    bundle = convert(SAMPLE_CCD.read_bytes(), validate)
    _, doc = provenance_and_source(bundle)
    assert doc["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-documentreference"]
    # US Core DocumentReference: status, type, category, subject, content(attachment url|data, format)
    assert doc["status"] == "current"
    assert doc["masterIdentifier"] == {"system": "urn:oid:2.16.840.1.113883.19.5.99999.1", "value": "TT988"}
    assert doc["identifier"] == [{"system": "urn:oid:2.16.840.1.113883.19.5.99999.19", "value": "sTT988"}]
    assert doc["type"]["coding"][0] == {"system": "http://loinc.org", "code": "34133-9",
                                        "display": "Summary of episode note"}
    assert doc["category"][0]["coding"][0]["code"] == "clinical-note"
    assert doc["subject"] == {"reference": "Patient/p1"}
    assert doc["date"] == "2013-08-15T10:30:00-08:00"
    (comp,) = resources_of(bundle, "Composition")
    assert doc["author"] == comp["author"] and doc["custodian"] == comp["custodian"]
    assert doc["authenticator"] == comp["attester"][0]["party"]
    assert doc["context"]["period"] == {"start": "1975-05-01", "end": "2013-08-15"}
    (content,) = doc["content"]
    att = content["attachment"]
    assert att["contentType"] == "application/hl7-cda+xml"
    assert att["url"] == "urn:hl7ii:2.16.840.1.113883.19.5.99999.1:TT988"
    assert "data" not in att                      # not embedded unless asked
    assert att["language"] == "en-US" and att["title"] == "Patient Chart Summary"
    assert content["format"] == {"system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
                                 "code": "urn:hl7-org:sdwg:ccda-structuredBody:2.1"}


def test_embed_source(validate):
    data = SAMPLE_CCD.read_bytes()
    plain = convert(data, validate)
    bundle = convert(data, validate, embed_source=True)
    _, doc = provenance_and_source(bundle)
    att = doc["content"][0]["attachment"]
    assert base64.b64decode(att["data"]) == data
    assert att["size"] == len(data)
    assert att["hash"] == base64.b64encode(hashlib.sha1(data).digest()).decode()
    assert "url" not in att
    # the same resource ids either way
    assert [e["fullUrl"] for e in bundle["entry"]] == [e["fullUrl"] for e in plain["entry"]]


def test_embed_source_from_a_path(validate):
    bundle = convert(SAMPLE_CCD, validate, embed_source=True)
    _, doc = provenance_and_source(bundle)
    assert base64.b64decode(doc["content"][0]["attachment"]["data"]) == SAMPLE_CCD.read_bytes()


def test_nonxml_body_text_and_reference(validate):
    text_doc = EXAMPLES / "Unstructured" / "CDA with Embedded Text plain" / "CDA_Embedded_Text_Plain_Surgical_Consult.xml"
    _, doc = provenance_and_source(convert(text_doc.read_bytes(), validate))
    cda, body = doc["content"]
    assert cda["format"]["code"] == "urn:hl7-org:sdwg:ccda-nonXMLBody:2.1"
    assert body["attachment"]["contentType"] == "text/plain"
    assert base64.b64decode(body["attachment"]["data"]).startswith(b"LOCAL TITLE: SURGICAL CONSULT")
    ref_doc = EXAMPLES / "Unstructured" / "CDA reference PDF" / "Unstructured_Document_reference.xml"
    _, doc = provenance_and_source(convert(ref_doc.read_bytes(), validate))
    assert doc["content"][1]["attachment"] == {"contentType": "application/pdf", "url": "UD_sample.pdf"}


def test_r11_document_format_code(validate):
    xml = wrap_fragment('<section><code code="51848-0" codeSystem="2.16.840.1.113883.6.1"/><text>x</text></section>')
    xml = xml.replace('<templateId root="2.16.840.1.113883.10.20.22.1.1" extension="2015-08-01"/>',
                      '<templateId root="2.16.840.1.113883.10.20.22.1.1"/>')
    _, doc = provenance_and_source(convert(xml.encode(), validate))
    assert doc["content"][0]["format"]["code"] == "urn:hl7-org:sdwg:ccda-structuredBody:1.1"
    assert doc["content"][0]["attachment"]["url"] == "urn:hl7ii:2.16.840.1.113883.19.5.99999.1:fragment-test"


def test_dated_authoring_by_an_unidentified_author_keeps_its_time(validate):
    """An entry author with a time but only nullFlavored ids and names (e.g. ONC test documents'
    smoking status): the entry Provenance still records when, its agent says who is unknown."""
    xml = wrap_fragment("""<entry><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.78" extension="2014-06-09"/>
      <id root="1.2.3.4" extension="smoke-1"/>
      <code code="72166-2" codeSystem="2.16.840.1.113883.6.1" displayName="Tobacco smoking status"/>
      <statusCode code="completed"/><effectiveTime value="20120925"/>
      <value xsi:type="CD" code="8517006" codeSystem="2.16.840.1.113883.6.96" displayName="Former smoker"/>
      <author><time value="20120925100051-0400"/>
        <assignedAuthor><id nullFlavor="UNK"/><addr nullFlavor="UNK"/><telecom nullFlavor="UNK"/>
          <assignedPerson><name nullFlavor="UNK"/></assignedPerson></assignedAuthor></author>
    </observation></entry>""", "29762-2")
    bundle = ccda2fhir.convert(xml.encode(), "p1")
    [obs] = resources_of(bundle, "Observation")
    provs = [p for p in resources_of(bundle, "Provenance")
             if p["target"] == [{"reference": f"Observation/{obs['id']}"}]]
    assert len(provs) == 1
    assert validate(provs[0]) == []
    assert provs[0]["recorded"] == "2012-09-25T10:00:51-04:00"
    [agent] = provs[0]["agent"]
    assert agent["who"] == {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                                           "valueCode": "unknown"}]}
    assert agent["type"]["coding"][0]["code"] == "author"
