"""Procedures (C-CDA on FHIR CF-procedures): Procedure Activity Procedure/Act -> US Core Procedure,
Procedure Activity Observation -> Observation, planned procedures -> ServiceRequest."""
from __future__ import annotations

import json
import re
from pathlib import Path

import ccda2fhir
from conftest import CORPUS, FIXTURES, needs_corpus, resolve, resources_of
from support.wrap import wrap_fragment

EX = FIXTURES / "hl7-c-cda-examples"
PROC = EX / "Procedures"


def load(path: Path, section_code: str = "47519-4") -> str:
    """A full document for an HL7 example: documents as they are; bare sections/entries, and the
    namespace-less 'stub' ClinicalDocuments some examples are, wrapped around their components."""
    txt = path.read_text(encoding="utf-8-sig")
    if "<ClinicalDocument" in txt and 'xmlns="urn:hl7-org:v3"' in txt:
        return txt
    body = re.sub(r"<!--.*?-->", "", txt, flags=re.S)
    body = re.sub(r"^\s*<\?xml[^>]*\?>", "", body).strip()
    m = re.search(r"<structuredBody>(.*)</structuredBody>", body, re.S)
    if m:
        body = m.group(1).strip()
    return wrap_fragment(body, section_code)


def convert(path: Path, section_code: str = "47519-4"):
    return ccda2fhir.convert(load(path, section_code), "test-patient", report=True)


def all_valid(bundle, validate):
    for r in resources_of(bundle):
        assert validate(r) == [], (r["resourceType"], validate(r))


def codes(cc):
    return [(c.get("system"), c["code"]) for c in cc.get("coding", [])]


def test_procedure_activity_procedure(validate):
    b, rep = convert(PROC / "Procedures Section Procedure Entry" / "Procedures Section Procedure(C-CDA2.1).xml")
    all_valid(b, validate)
    [p] = resources_of(b, "Procedure")
    assert p["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-procedure"]
    assert p["identifier"] == [{"system": "urn:ietf:rfc:3986",
                                "value": "urn:uuid:64af26d5-88ef-4169-ba16-c6ef16a1824f"}]
    assert p["status"] == "completed"
    assert codes(p["code"]) == [
        ("http://snomed.info/sct", "6025007"), ("http://www.ama-assn.org/go/cpt", "44970"),
        ("http://www.cms.gov/Medicare/Coding/ICD10", "0DTJ4ZZ"), ("http://hl7.org/fhir/sid/icd-9-cm", "47.01")]
    assert p["code"]["text"] == "Laparoscopic appendectomy"          # originalText -> narrative
    assert p["performedPeriod"] == {"start": "2014-02-03T09:22:05-07:00", "end": "2014-02-03T11:15:14-07:00"}
    assert "performedDateTime" not in p and "_performedDateTime" not in p
    assert codes(p["bodySite"][0]) == [("http://snomed.info/sct", "181255000")]
    assert p["extension"] == [{"url": "http://hl7.org/fhir/StructureDefinition/procedure-method",
                               "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct",
                                                                    "code": "51316009",
                                                                    "display": "Laparoscopic procedure"}],
                                                        "text": "Laparoscopic procedure"}}]
    assert p["subject"] == {"reference": "Patient/test-patient"}
    assert not rep.unmapped()


def test_procedure_refused_is_not_done_with_reason(validate):
    b, rep = convert(PROC / "Procedure Refused" / "Procedures Section Procedure Procedure Refused(C-CDA2.1).xml")
    all_valid(b, validate)
    [p] = resources_of(b, "Procedure")
    assert p["status"] == "not-done"
    assert codes(p["statusReason"]) == [("http://snomed.info/sct", "105480006")]
    assert p["performedDateTime"] == "2014-02-03T09:22:05-05:00"
    assert p["note"] == [{"text": "Not Done"}]
    # The reason observation is consumed by the Procedure, not a separate Observation.
    assert not [o for o in resources_of(b, "Observation") if "77301-0" in json.dumps(o)]


def test_procedure_unsuccessful_outcome(validate):
    b, _ = convert(PROC / "Procedure Unsuccessful" / "Procedures Section Procedure Procedure Unsuccessful(C-CDA2.1).xml")
    all_valid(b, validate)
    [p] = resources_of(b, "Procedure")
    assert p["status"] == "completed"
    assert codes(p["outcome"]) == [("http://snomed.info/sct", "103709008")]
    assert p["performedDateTime"] == "2022-03-31T16:49:01-05:00"
    assert codes(p["code"]) == [("http://snomed.info/sct", "168731009")]


def test_procedure_activity_act(validate):
    b, rep = convert(PROC / "Procedures Section Act Entry" / "Procedures Section Act(C-CDA2.1).xml")
    all_valid(b, validate)
    [p] = resources_of(b, "Procedure")
    assert p["identifier"][0]["value"] == "urn:uuid:9c0f070c-2e9e-4be1-a5b5-ff6d0f68123c"
    assert ("http://snomed.info/sct", "61310001") in codes(p["code"])
    assert ("http://www.ama-assn.org/go/cpt", "97802") in codes(p["code"])
    assert p["performedDateTime"] == "2014-03-29T10:45:13-05:00"
    assert p["status"] == "completed"
    assert not rep.unmapped()


def test_procedure_activity_observation_is_an_observation(validate):
    b, _ = convert(PROC / "Procedures Section Observation Entry" / "Procedures Section Observation(C-CDA2.1).xml")
    all_valid(b, validate)
    assert resources_of(b, "Procedure") == []
    [o] = [o for o in resources_of(b, "Observation")
           if o.get("identifier", [{}])[0].get("value") == "urn:uuid:c03e5445-af1b-4911-a419-e2782f21448c"]
    assert ("http://snomed.info/sct", "268400002") in codes(o["code"])
    assert codes(o["valueCodeableConcept"]) == [("http://snomed.info/sct", "251135002")]


def test_planned_procedure_in_procedure_alternatives(validate):
    b, _ = convert(PROC / "Procedure Alternatives" / "Procedure Alternatives(C-CDA2.1).xml", "18776-5")
    all_valid(b, validate)
    [sr] = [r for r in resources_of(b, "ServiceRequest") if r["intent"] == "plan"]
    # the proposed alternatives (untemplated, moodCode PRP) are proposals, never done Procedures
    alternatives = [r for r in resources_of(b, "ServiceRequest") if r is not sr]
    assert sorted(codes(r["code"])[0][1] for r in alternatives) == ["44960", "44970"]
    assert all(r["intent"] == "proposal" for r in alternatives)
    assert not resources_of(b, "Procedure")
    assert sr["intent"] == "plan" and sr["status"] == "active"
    assert sr["identifier"] == [{"system": "urn:oid:1.2.840.114350.1.13.861.1.7.1.1988.2", "value": "237181-1-1"}]
    assert codes(sr["code"]) == [("http://www.ama-assn.org/go/cpt", "44950"), ("http://snomed.info/sct", "80146002")]
    assert sr["occurrencePeriod"] == {"start": "2022-04-30T21:00:00-05:00", "end": "2022-04-30T21:32:00-05:00"}
    assert ("http://snomed.info/sct", "74400008") in codes(sr["reasonCode"][0])      # Indication


def test_performer_and_focal_device(validate):
    b, _ = convert(EX / "Documents" / "Operative Note" / "Operative_Note.xml")
    all_valid(b, validate)
    [p] = [p for p in resources_of(b, "Procedure") if codes(p["code"]) == [("http://snomed.info/sct", "73761001")]]
    assert p["performedDateTime"] == "2012-05-12"
    actor = resolve(b, p["performer"][0]["actor"])
    assert {"system": "urn:oid:2.16.840.1.113883.19.5.9999.456", "value": "2981823"} in actor["identifier"]
    dev = resolve(b, p["focalDevice"][0]["manipulated"])
    assert dev["resourceType"] == "Device"
    assert ("http://snomed.info/sct", "90412006") in codes(dev["type"])
    # the procedure's specimen is kept as a Specimen collected at the procedure's time
    [spec] = [r for r in resources_of(b, "Specimen")
              if r.get("identifier", [{}])[0].get("value") == "urn:uuid:c2ee9ee9-ae31-4628-a919-fec1cbb58683"]
    assert codes(spec["type"]) == [("http://snomed.info/sct", "309226005")]
    assert spec["collection"]["collectedDateTime"] == "2012-05-12"


def test_every_procedures_example_is_valid(validate):
    for path in sorted(PROC.rglob("*.xml")):
        b, rep = convert(path)
        all_valid(b, validate)
        assert not [i for i in rep.issues if i.level == "error"], path


@needs_corpus
def test_ig_procedure_example_matches_recommended_output():
    base = CORPUS / "hl7-ccda-on-fhir" / "input" / "resources"
    expected = json.loads((base / "procedure" / "CF-procedure.json").read_text())
    b, _ = ccda2fhir.convert(wrap_fragment((base / "binary" / "CF-procedure.xml").read_text()), "p", report=True)
    [p] = resources_of(b, "Procedure")
    assert sorted((i["system"], i["value"]) for i in p["identifier"]) == \
        sorted((i["system"], i["value"]) for i in expected["identifier"])
    assert p["status"] == expected["status"]
    assert p["performedDateTime"] == expected["performedDateTime"]
    assert [c["code"] for c in p["code"]["coding"]] == [c["code"] for c in expected["code"]["coding"]]
    # SNOMED matches; the IG example gives 2.16.840.1.113883.6.90 (ICD-10-CM) the ICD-10-PCS URI,
    # we keep the OID's own system.
    assert p["code"]["coding"][0]["system"] == expected["code"]["coding"][0]["system"]
    assert p["code"]["coding"][1]["system"] == "http://hl7.org/fhir/sid/icd-10-cm"


@needs_corpus
def test_rec_procedure_myra_jones():
    folder = CORPUS / "hl7-ccda-on-fhir" / "mappings" / "examples" / "CDAtoFHIRExamples"
    rec = json.loads(re.sub(r"^\s*//.*$", "", (folder / "Rec_Output" / "Rec_procedure.jsonc").read_text(),
                            flags=re.M))["resource"]
    b = ccda2fhir.convert((folder / "Input" / "Myra Jones v2.xml").read_bytes(), "p")
    [p] = [p for p in resources_of(b, "Procedure")
           if {"system": "urn:oid:1.3.6.1.4.1.22812.3.2009316.3.4.7", "value": "545069400001"} in p.get("identifier", [])]
    assert [(i["system"], i["value"]) for i in p["identifier"]] == [(i["system"], i["value"]) for i in rec["identifier"]]
    assert p["status"] == rec["status"]
    assert codes(p["code"]) == codes(rec["code"])
    assert p["code"]["text"] == rec["code"]["text"]
    assert p["performedDateTime"] == rec["performedDateTime"]
