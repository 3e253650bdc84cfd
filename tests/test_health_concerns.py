"""Health Concerns section: Health Concern Act (4.132) -> its Problem Observations become
Conditions of category health-concern; Entry References are consumed; a concern act holding
nothing mappable is reported, not dropped silently."""
from __future__ import annotations

import ccda2fhir
from conftest import FIXTURES, resources_of
from test_procedures import all_valid, codes, load

HC = FIXTURES / "hl7-c-cda-examples" / "Health Concerns"
HEALTH_CONCERN = ("http://hl7.org/fhir/us/core/CodeSystem/condition-category", "health-concern")


def convert(name):
    [path] = list((HC / name).glob("*.xml"))
    return ccda2fhir.convert(load(path, "75310-3"), "test-patient", report=True)


def category(cond):
    c = cond["category"][0]["coding"][0]
    return c["system"], c["code"]


def test_health_concern_linked_to_problem(validate):
    for name in ("Health Concerns Link to Problems Section", "Health Concerns Link to Problems Section with linkHTML"):
        b, rep = convert(name)
        all_valid(b, validate)
        conds = {c["identifier"][0]["value"]: c for c in resources_of(b, "Condition")}
        concern = conds["urn:uuid:59c5ca3e-662f-4e33-943f-2777ebc6227e"]
        assert category(concern) == HEALTH_CONCERN
        assert concern["meta"]["profile"] == [
            "http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition-problems-health-concerns"]
        assert concern["code"]["text"].startswith("Patient is concerned about")   # value nullFlavor OTH, originalText
        assert concern["onsetDateTime"] == "2014-03-02"
        problem = conds["urn:uuid:49c5ca3e-662f-4e33-948f-2777ebc6727e"]
        assert category(problem)[1] == "problem-list-item"
        assert ("http://snomed.info/sct", "385093006") in codes(problem["code"])
        assert len(conds) == 2                          # the Entry Reference made nothing of its own
        assert not rep.unmapped(), rep.unmapped()


def test_care_plan_health_concerns(validate):
    b, rep = ccda2fhir.convert((FIXTURES / "hl7-c-cda-examples" / "Documents" / "Care Plan" / "Care_Plan.xml")
                               .read_bytes(), "p", report=True)
    hc = [c for c in resources_of(b, "Condition") if category(c) == HEALTH_CONCERN]
    for c in hc:
        assert validate(c) == []
    assert {"409623005", "233604007"} <= {cd for c in hc for _, cd in codes(c["code"])}
    # no 4.132 / 4.136 act or entry reference reported unmapped
    assert not [i for i in rep.unmapped() if i.template_id in (
        "2.16.840.1.113883.10.20.22.4.132", "2.16.840.1.113883.10.20.22.4.136", "2.16.840.1.113883.10.20.22.4.122")]


def test_narrative_only_concern_is_a_health_concern_condition(validate):
    b, rep = convert("Health Concerns Narrative Only")
    all_valid(b, validate)
    [c] = resources_of(b, "Condition")
    assert category(c) == HEALTH_CONCERN
    assert c["code"] == {"text": "On March 1, 2014, the patient expressed concern about spreading "
                                 "their Community Acquired Pneumonia."}
    assert c["clinicalStatus"]["coding"][0]["code"] == "active"
    assert "identifier" not in c                                          # id nullFlavor UNK
    assert not rep.unmapped()


def test_no_known_health_concerns_is_an_empty_list_not_a_condition(validate):
    """A negated Health Concern Act ('No Known Health Concerns'): no Condition is invented; the
    statement is kept as what it says, a List empty because nil known, and the report says so."""
    b, rep = convert("No Known Health Concerns")
    all_valid(b, validate)
    assert resources_of(b, "Condition") == []
    [lst] = resources_of(b, "List")
    assert lst["emptyReason"]["coding"][0]["code"] == "nilknown"
    assert lst["emptyReason"]["text"].startswith("No Known Health Concerns")
    assert lst["identifier"] == [{"system": "urn:ietf:rfc:3986",
                                  "value": "urn:uuid:4eab0e52-dd7d-4285-99eb-72d32ddb195d"}]
    assert lst["code"]["coding"] == [{"system": "http://loinc.org", "code": "75310-3",
                                      "display": "Health Concern"}]
    assert not rep.unmapped()
    [issue] = [i for i in rep.issues if i.level == "info"]
    assert issue.template_id == "2.16.840.1.113883.10.20.22.4.132"
    assert "says there is nothing to report" in issue.reason and "not a HealthConcernAct" in issue.reason


def test_empty_concern_is_reported_with_its_reason(validate):
    """An act with only the generic code and a date names no concern: reported once, saying why."""
    from support.wrap import wrap_fragment
    xml = wrap_fragment("""<entry><act classCode="ACT" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.132" extension="2015-08-01"/>
      <id root="4eab0e52-dd7d-4285-99eb-72d32ddb195c"/>
      <code code="75310-3" codeSystem="2.16.840.1.113883.6.1" displayName="Health Concern"/>
      <statusCode code="active"/><effectiveTime value="20200622"/></act></entry>""", "75310-3")
    b, rep = ccda2fhir.convert(xml, "test-patient", report=True)
    assert resources_of(b, "Condition") == []
    [issue] = rep.unmapped()
    assert issue.template_id == "2.16.840.1.113883.10.20.22.4.132"
    assert "names no concern" in issue.reason


def test_concern_pointing_at_problems_has_them_as_evidence(validate):
    """A concern act holding only Entry References: a health-concern Condition whose evidence is
    the referenced problem's Condition."""
    from support.wrap import wrap_fragment
    xml = """<component><section><templateId root="2.16.840.1.113883.10.20.22.2.5.1"/>
      <code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/><title>Problems</title>
      <entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.3"/>
        <id root="1.2.3" extension="pc1"/><code code="CONC" codeSystem="2.16.840.1.113883.5.6"/><statusCode code="active"/>
        <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
          <templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="1.2.3" extension="po1"/>
          <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>
          <effectiveTime><low value="20200101"/></effectiveTime>
          <value xsi:type="CD" code="38341003" codeSystem="2.16.840.1.113883.6.96" displayName="Hypertension"/>
        </observation></entryRelationship></act></entry></section></component>
      <component><section><templateId root="2.16.840.1.113883.10.20.22.2.58"/>
      <code code="75310-3" codeSystem="2.16.840.1.113883.6.1"/><title>Health Concerns</title>
      <text><paragraph ID="hc1">Worried about blood pressure</paragraph></text>
      <entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.132"/>
        <id root="1.2.3" extension="hc1"/><code code="75310-3" codeSystem="2.16.840.1.113883.6.1"/>
        <text><reference value="#hc1"/></text><statusCode code="active"/><effectiveTime value="20210301"/>
        <entryRelationship typeCode="REFR"><act classCode="ACT" moodCode="EVN">
          <templateId root="2.16.840.1.113883.10.20.22.4.122"/><id root="1.2.3" extension="po1"/>
          <code nullFlavor="NP"/><statusCode code="completed"/></act></entryRelationship>
      </act></entry></section></component>"""
    b, rep = ccda2fhir.convert(wrap_fragment(xml), "p", report=True)
    all_valid(b, validate)
    conds = {c["identifier"][0]["value"]: c for c in resources_of(b, "Condition")}
    hc = conds["hc1"]
    assert category(hc) == HEALTH_CONCERN and hc["code"] == {"text": "Worried about blood pressure"}
    assert hc["onsetDateTime"] == "2021-03-01"
    [ev] = hc["evidence"][0]["detail"]
    from conftest import resolve
    problem = resolve(b, ev)
    assert ("http://snomed.info/sct", "38341003") in codes(problem["code"])
    assert category(problem)[1] == "problem-list-item"
    assert len(resources_of(b, "Condition")) == 2                          # the problem once
    assert not rep.unmapped()


def test_concern_with_only_entry_references(validate):
    """No narrative, generic code, only pointers (ONC b1 test data pattern): the act's own code,
    its id, and the resolved problem as evidence."""
    from support.wrap import wrap_fragment
    from conftest import resolve
    xml = """<component><section><templateId root="2.16.840.1.113883.10.20.22.2.5.1"/>
      <code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/><title>Problems</title>
      <entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.3"/>
        <id root="1.2.3" extension="pc1"/><code code="CONC" codeSystem="2.16.840.1.113883.5.6"/><statusCode code="active"/>
        <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
          <templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="1.2.3" extension="po1"/>
          <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>
          <value xsi:type="CD" code="38341003" codeSystem="2.16.840.1.113883.6.96" displayName="Hypertension"/>
        </observation></entryRelationship></act></entry></section></component>
      <component><section><templateId root="2.16.840.1.113883.10.20.22.2.58"/>
      <code code="75310-3" codeSystem="2.16.840.1.113883.6.1"/><title>Health Concerns</title>
      <entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.132"/>
        <id root="1.2.3" extension="hc2"/>
        <code code="75310-3" codeSystem="2.16.840.1.113883.6.1" displayName="Health Concern"/>
        <statusCode code="completed"/>
        <entryRelationship typeCode="REFR"><act classCode="ACT" moodCode="EVN">
          <templateId root="2.16.840.1.113883.10.20.22.4.122"/><id root="1.2.3" extension="po1"/>
          <code nullFlavor="NP"/><statusCode code="completed"/></act></entryRelationship>
        <entryRelationship typeCode="REFR"><act classCode="ACT" moodCode="EVN">
          <templateId root="2.16.840.1.113883.10.20.22.4.122"/><id root="1.2.3" extension="not-in-document"/>
          <code nullFlavor="NP"/><statusCode code="completed"/></act></entryRelationship>
      </act></entry></section></component>"""
    b, rep = ccda2fhir.convert(wrap_fragment(xml), "p", report=True)
    all_valid(b, validate)
    [hc] = [c for c in resources_of(b, "Condition") if category(c) == HEALTH_CONCERN]
    assert hc["identifier"] == [{"system": "urn:oid:1.2.3", "value": "hc2"}]
    assert codes(hc["code"]) == [("http://loinc.org", "75310-3")]
    assert hc["clinicalStatus"]["coding"][0]["code"] == "inactive"           # concern completed
    # the entry in the document is resolved; the one not in it stays a logical reference (its id)
    [ev, elsewhere] = hc["evidence"][0]["detail"]
    assert ("http://snomed.info/sct", "38341003") in codes(resolve(b, ev)["code"])
    assert elsewhere == {"identifier": {"system": "urn:oid:1.2.3", "value": "not-in-document"}}
    assert not rep.unmapped()
