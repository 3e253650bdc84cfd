"""Problems -> Condition, per C-CDA on FHIR CF-problems, on the HL7 C-CDA examples (CC0)."""
from __future__ import annotations

import pytest

import ccda2fhir
from conftest import FIXTURES, resolve, resources_of
from support.wrap import wrap_file

PROBLEMS = FIXTURES / "hl7-c-cda-examples" / "Problems"
SNOMED, LOINC = "http://snomed.info/sct", "http://loinc.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def conditions(name: str, validate):
    bundle, report = ccda2fhir.convert(wrap_file(PROBLEMS / name), "p1", report=True)
    for r in resources_of(bundle):
        assert validate(r) == []
    return bundle, resources_of(bundle, "Condition"), report


def codes(cc: dict) -> list[tuple]:
    return [(c.get("system"), c["code"]) for c in cc.get("coding", [])]


def test_active_problem(validate):
    bundle, (c,), report = conditions("Active Problem(C-CDA2.1).xml", validate)
    assert codes(c["code"]) == [(SNOMED, "385093006")]
    assert c["code"]["coding"][0]["display"] == "Community acquired pneumonia"
    assert c["clinicalStatus"]["coding"] == [{"system": CLINICAL, "code": "active"}]  # concern statusCode
    assert c["category"][0]["coding"][0]["code"] == "problem-list-item"
    assert (SNOMED, "55607006") in codes(c["category"][1]) and (LOINC, "75326-9") in codes(c["category"][1])
    assert c["onsetDateTime"] == "2014-02-27"
    # 20140302124536 has no offset: a time without a zone drops to the date (IG)
    assert c["recordedDate"] == "2014-03-02"
    assert {"system": "urn:oid:1.3.6.1.4.1.22812.4.111.0.4.1.2.1", "value": "10241104348"} in c["identifier"]
    assert {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:102ca2e9-884c-4523-a2b4-1b6c3469c397"} \
        in c["identifier"]  # the concern act's id
    recorder = resolve(bundle, c["recorder"])
    assert recorder["resourceType"] == "Practitioner"
    assert recorder["identifier"] == [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "66666"}]
    assert recorder["name"][0]["family"] == "Sixer"
    assert c["subject"] == {"reference": "Patient/p1"}
    assert "abatementDateTime" not in c


def test_resolved_problem_keeps_translations_original_text_and_abatement(validate):
    _, (c,), _ = conditions("Resolved Problem(C-CDA2.1).xml", validate)
    assert codes(c["code"]) == [(SNOMED, "363746003"), ("http://hl7.org/fhir/sid/icd-9-cm", "462"),
                                ("http://hl7.org/fhir/sid/icd-10-cm", "J02.9")]
    assert c["code"]["text"]  # originalText resolved through the narrative reference
    assert c["abatementDateTime"] == "2014-04-05T23:59:59-05:00"
    assert c["onsetDateTime"] == "2014-04-02"
    # concern 'completed' maps to resolved (IG ConceptMap); an abated problem is never active
    assert c["clinicalStatus"]["coding"][0]["code"] in ("resolved", "inactive")


def test_no_known_problems_is_an_empty_list_not_a_condition(validate):
    """No Known Problems (HL7 example: negationInd on the value 55607006 'Problem'): it asserts no
    problem, so no Condition (a refuted 'Problem' with clinicalStatus active read as an active
    problem); a List whose emptyReason says nil known, keeping the codes, both ids and words."""
    bundle, conds, report = conditions("No Known Problems(C-CDA2.1).xml", validate)
    assert conds == []
    (lst,) = resources_of(bundle, "List")
    assert "entry" not in lst and lst["subject"] == {"reference": "Patient/p1"}
    assert lst["emptyReason"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason", "code": "nilknown",
        "display": "Nil Known"}
    assert lst["emptyReason"]["text"] == "No known problems"
    assert (SNOMED, "55607006") in codes(lst["code"]) and (LOINC, "75323-6") in codes(lst["code"])
    assert [i["value"] for i in lst["identifier"]] == ["urn:uuid:4adc1021-7b14-11db-9fe1-0800200c9a67",
                                                       "urn:uuid:36e3e930-7b14-11db-9fe1-0800200c9a66"]
    assert lst["date"] == "2013-06-07T16:05:06-04:00"          # the concern act's author time
    comp = resources_of(bundle, "Composition")[0]
    assert {"reference": f"List/{lst['id']}"} in comp["section"][0]["entry"]
    assert [i.level for i in report.issues if "nothing to report" in i.reason] == ["info"]


def test_broken_author_time_is_reported_not_invented(validate):
    bundle, (c,), report = conditions("Patient Does Not Have Diabetes(C-CDA2.1).xml", validate)
    assert c["verificationStatus"]["coding"][0]["code"] == "refuted"
    assert any("2015120171605" in i.reason for i in report.issues)
    assert "2015120171605" not in str(bundle)


def test_target_site_and_translation(validate):
    _, (c,), _ = conditions("Problem TargetSiteCode Qualifier(C-CDAR2.1).xml", validate)
    assert (SNOMED, "30021000") in codes(c["bodySite"][0])
    assert ("http://hl7.org/fhir/sid/icd-9-cm", "V49.75") in codes(c["code"])


@pytest.mark.parametrize("name", sorted(p.name for p in PROBLEMS.glob("*.xml")))
def test_every_problem_example_maps_every_problem_observation(name, validate):
    bundle, conds, report = conditions(name, validate)
    from lxml import etree
    from support.wrap import wrap_file as wrap
    root = etree.fromstring(wrap(PROBLEMS / name).encode())
    problem_obs = root.xpath("//v3:observation[v3:templateId/@root='2.16.840.1.113883.10.20.22.4.4']",
                             namespaces={"v3": "urn:hl7-org:v3"})
    # one Condition per problem observation; one that says there is no problem is an empty List
    empty = [lst for lst in resources_of(bundle, "List") if "emptyReason" in lst]
    assert problem_obs and len(conds) + len(empty) == len(problem_obs)
    assert not [i for i in report.issues if i.level == "error"]
    comp = resources_of(bundle, "Composition")[0]
    listed = {e["reference"] for s in comp["section"] for e in s.get("entry", [])}
    assert {f"Condition/{c['id']}" for c in conds} | {f"List/{x['id']}" for x in empty} <= listed


def test_completed_concern_dates_fill_what_the_observation_lacks(validate):
    import re
    text = (PROBLEMS / "Resolved Problem(C-CDA2.1).xml").read_text()
    text = text.replace('<high value="20140405235959-0500"/>', "")
    text = re.sub(r"<author>.*?</author>", "", text, flags=re.S)
    from support.wrap import wrap_fragment
    bundle = ccda2fhir.convert(wrap_fragment(text), "p1")
    (c,) = resources_of(bundle, "Condition")
    assert validate(c) == []
    assert c["abatementDateTime"] == "2014-04-07T10:25:16-05:00"   # the completed concern's high
    assert c["recordedDate"] == "2014-04-03T12:45:36-05:00"        # no author: when the concern began


CONCERN_PERIOD = "http://ccda2fhir.org/fhir/StructureDefinition/concern-period"


def test_concern_period_keeps_the_concern_dates_beside_the_problems_own(validate):
    """Resolved Problem (HL7 example): the observation's low/high are onset/abatement; the completed
    concern's low/high (when it was authored and closed in the chart) are kept, as written, in the
    concern-period extension, not in place of the problem's own dates."""
    _, (c,), _ = conditions("Resolved Problem(C-CDA2.1).xml", validate)
    assert c["onsetDateTime"] == "2014-04-02"
    assert c["abatementDateTime"] == "2014-04-05T23:59:59-05:00"
    assert c["extension"] == [{"url": CONCERN_PERIOD, "valuePeriod": {
        "start": "2014-04-03T12:45:36-05:00", "end": "2014-04-07T10:25:16-05:00"}}]


def test_encounter_diagnosis_is_no_concern(validate):
    from support.wrap import wrap_fragment
    xml = """<entry><act classCode="ACT" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.80" extension="2015-08-01"/>
      <code code="29308-4" codeSystem="2.16.840.1.113883.6.1"/>
      <statusCode code="active"/><effectiveTime><low value="20200101"/><high value="20200105"/></effectiveTime>
      <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.22.4.4" extension="2015-08-01"/>
        <id root="2.16.840.1.113883.19" extension="dx1"/>
        <code code="282291009" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>
        <effectiveTime><low value="20200102"/></effectiveTime>
        <value xsi:type="CD" code="233604007" codeSystem="2.16.840.1.113883.6.96" displayName="Pneumonia"/>
      </observation></entryRelationship></act></entry>"""
    bundle = ccda2fhir.convert(wrap_fragment(xml, "46240-8"), "p1")
    (c,) = resources_of(bundle, "Condition")
    assert validate(c) == []
    assert c["onsetDateTime"] == "2020-01-02"
    assert "extension" not in c


def test_concern_act_author_is_a_provenance_of_the_condition(validate):
    """Only the Problem Concern Act has an author; IG: concern authors are mapped to the
    Condition (recorder) and so to its Provenance. (No Known Problems, HL7 example, with its
    negation and its 'No known' words removed so that it states a problem.)"""
    from support.wrap import wrap_fragment
    xml = (PROBLEMS / "No Known Problems(C-CDA2.1).xml").read_text() \
        .replace(' negationInd="true"', "").replace("No known <content", "<content")
    bundle = ccda2fhir.convert(wrap_fragment(xml), "p1")
    (c,) = resources_of(bundle, "Condition")
    assert validate(c) == []
    target = {"reference": f"Condition/{c['id']}"}
    # (the document Provenance, with its source entity, targets every resource)
    (prov,) = [p for p in resources_of(bundle, "Provenance") if target in p["target"] and not p.get("entity")]
    assert prov["recorded"] == "2013-06-07T16:05:06-04:00"
    (agent,) = prov["agent"]
    assert agent["type"]["coding"][0]["code"] == "author"
    assert agent["who"] == c["recorder"]
    assert resolve(bundle, agent["who"])["name"][0]["family"] == "Sixer"


def test_concern_act_author_is_a_provenance_of_the_empty_list(validate):
    """The same concern author when the concern says 'no known problems': the List made instead
    of a Condition has it as its Provenance."""
    bundle, _, _ = conditions("No Known Problems(C-CDA2.1).xml", validate)
    (lst,) = resources_of(bundle, "List")
    target = {"reference": f"List/{lst['id']}"}
    (prov,) = [p for p in resources_of(bundle, "Provenance") if target in p["target"] and not p.get("entity")]
    assert prov["recorded"] == "2013-06-07T16:05:06-04:00"
    assert resolve(bundle, prov["agent"][0]["who"])["name"][0]["family"] == "Sixer"


def test_age_at_onset_beside_an_onset_date_is_kept(validate):
    """HL7 Operative Note: Pneumonia with onset 2008-01-03 and an Age Observation (57 a). The IG
    allows one of onsetDateTime / onsetAge and maps the date; the age is kept in the
    converter-defined condition-onset-age extension, not dropped. An age alone is onsetAge."""
    path = FIXTURES / "hl7-c-cda-examples" / "Documents" / "Operative Note" / "Operative_Note.xml"
    bundle = ccda2fhir.convert(path.read_bytes(), "p1")
    [c] = [c for c in resources_of(bundle, "Condition") if codes(c["code"]) == [(SNOMED, "233604007")]]
    assert validate(c) == []
    assert c["onsetDateTime"] == "2008-01-03" and "onsetAge" not in c
    age = {"value": 57, "unit": "year", "system": "http://unitsofmeasure.org", "code": "a"}
    assert {"url": "http://ccda2fhir.org/fhir/StructureDefinition/condition-onset-age", "valueAge": age} \
        in c["extension"]
    xml = path.read_text(encoding="utf-8")
    undated = xml.replace("""<effectiveTime>
								<low value="20080103"/>
							</effectiveTime>
							<value xsi:type="CD" code="233604007\"""", """<value xsi:type="CD" code="233604007\"""", 1)
    assert undated != xml
    bundle = ccda2fhir.convert(undated.encode(), "p1")
    [c] = [c for c in resources_of(bundle, "Condition") if codes(c["code"]) == [(SNOMED, "233604007")]]
    assert c["onsetAge"] == age and "onsetDateTime" not in c
    assert not [e for e in c.get("extension", []) if e["url"].endswith("condition-onset-age")]
