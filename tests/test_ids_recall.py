"""Statement ids kept by faithful mappings: pointers by id (Entry Reference 4.122, Indication 4.19
with no coded problem) to entries NOT in the document become FHIR logical references
(Reference.identifier, no "reference"); pointers to entries in the document resolve as before and
make no logical reference; a Risk Concern Act's ids identify the Condition it holds."""
from __future__ import annotations

import ccda2fhir
from conftest import resolve, resources_of
from support.wrap import wrap_fragment
from test_procedures import all_valid, codes

HC_SECTION = ('<section><templateId root="2.16.840.1.113883.10.20.22.2.58"/>'
              '<code code="75310-3" codeSystem="2.16.840.1.113883.6.1"/><title>Health Concerns</title>{}</section>')
GOALS_SECTION = ('<section><templateId root="2.16.840.1.113883.10.20.22.2.60"/>'
                 '<code code="61146-7" codeSystem="2.16.840.1.113883.6.1"/><title>Goals</title>{}</section>')
PLAN_SECTION = ('<section><templateId root="2.16.840.1.113883.10.20.22.2.10"/>'
                '<code code="18776-5" codeSystem="2.16.840.1.113883.6.1"/><title>Plan</title>{}</section>')
PROBLEM_SECTION = """<component><section><templateId root="2.16.840.1.113883.10.20.22.2.5.1"/>
  <code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/><title>Problems</title>
  <entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.3"/>
    <id root="1.2.3" extension="pc1"/><code code="CONC" codeSystem="2.16.840.1.113883.5.6"/><statusCode code="active"/>
    <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="1.2.3" extension="po1"/>
      <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>
      <value xsi:type="CD" code="38341003" codeSystem="2.16.840.1.113883.6.96" displayName="Hypertension"/>
    </observation></entryRelationship></act></entry></section></component>"""


def entry_ref(ext, root="1.2.3"):
    return (f'<entryRelationship typeCode="REFR"><act classCode="ACT" moodCode="EVN">'
            f'<templateId root="2.16.840.1.113883.10.20.22.4.122"/><id root="{root}" extension="{ext}"/>'
            f'<code nullFlavor="NP"/><statusCode code="completed"/></act></entryRelationship>')


def section(template, body):
    return "<component>" + template.format(body) + "</component>"


def convert(xml):
    return ccda2fhir.convert(wrap_fragment(xml), "p", report=True)


def test_health_concern_entry_reference_outside_document_is_logical_evidence(validate):
    # the pattern of ONC's 170.315_b1_toc_amb_sample1: a concern act pointing at problems by id
    hc = ('<entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.132"/>'
          '<id root="4eab0e52-dd7d-4285-99eb-72d32ddb195c"/>'
          '<code code="75310-3" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="active"/>'
          + entry_ref("", root="ab1791b0-5c72-11db-b0de-0800200c9a68").replace(' extension=""', "")
          + entry_ref("po1") + '</act></entry>')
    b, rep = convert(PROBLEM_SECTION + section(HC_SECTION, hc))
    all_valid(b, validate)
    [concern] = [c for c in resources_of(b, "Condition")
                 if {"value": "urn:uuid:4eab0e52-dd7d-4285-99eb-72d32ddb195c", "system": "urn:ietf:rfc:3986"}
                 in c["identifier"]]
    detail = concern["evidence"][0]["detail"]
    assert {"identifier": {"system": "urn:ietf:rfc:3986",
                           "value": "urn:uuid:ab1791b0-5c72-11db-b0de-0800200c9a68"}} in detail
    # the problem in the document is a real reference, and gets no logical twin
    [real] = [d for d in detail if "reference" in d]
    assert ("http://snomed.info/sct", "38341003") in codes(resolve(b, real)["code"])
    assert len(detail) == 2
    assert not rep.unmapped()


def test_goal_addresses_entry_outside_document(validate):
    goal = ('<entry><observation classCode="OBS" moodCode="GOL">'
            '<templateId root="2.16.840.1.113883.10.20.22.4.121"/><id root="1.2.3" extension="g1"/>'
            '<code code="289169006" codeSystem="2.16.840.1.113883.6.96" displayName="Weight loss"/>'
            '<statusCode code="active"/>' + entry_ref("elsewhere") + entry_ref("po1") + '</observation></entry>')
    b, rep = convert(PROBLEM_SECTION + section(GOALS_SECTION, goal))
    all_valid(b, validate)
    [g] = resources_of(b, "Goal")
    assert g["identifier"] == [{"system": "urn:oid:1.2.3", "value": "g1"}]
    logical = [a for a in g["addresses"] if "reference" not in a]
    assert logical == [{"identifier": {"system": "urn:oid:1.2.3", "value": "elsewhere"}}]
    [real] = [a for a in g["addresses"] if "reference" in a]
    assert resolve(b, real)["resourceType"] == "Condition"


def test_goal_entry_reference_to_unaddressable_entry_in_document_makes_nothing(validate):
    # a goal pointing at another goal of the document: Goal.addresses cannot hold a Goal, and the
    # other goal keeps its own id; no logical reference is made for an entry that is present
    goals = ('<entry><observation classCode="OBS" moodCode="GOL">'
             '<templateId root="2.16.840.1.113883.10.20.22.4.121"/><id root="1.2.3" extension="g1"/>'
             '<code code="289169006" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="active"/>'
             + entry_ref("g2") + '</observation></entry>'
             '<entry><observation classCode="OBS" moodCode="GOL">'
             '<templateId root="2.16.840.1.113883.10.20.22.4.121"/><id root="1.2.3" extension="g2"/>'
             '<code code="129006008" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="active"/>'
             '</observation></entry>')
    b, _ = convert(section(GOALS_SECTION, goals))
    all_valid(b, validate)
    by_id = {g["identifier"][0]["value"]: g for g in resources_of(b, "Goal")}
    assert set(by_id) == {"g1", "g2"}
    assert "addresses" not in by_id["g1"]


def _planned_encounter(indication):
    return ('<entry><encounter classCode="ENC" moodCode="INT">'
            '<templateId root="2.16.840.1.113883.10.20.22.4.40"/><id root="1.2.3" extension="e1"/>'
            '<code code="185349003" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="active"/>'
            '<effectiveTime value="20240301"/>'
            '<entryRelationship typeCode="RSON">' + indication + '</entryRelationship></encounter></entry>')


def test_uncoded_indication_is_a_logical_reason_reference(validate):
    # ONC 170.315_b1_toc_amb_sample2: an Indication with an id, no value (code misused, text only)
    ind = ('<observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.19"/>'
           '<id root="1.3.6.1.4.1.42424242.4.12354.4.4.4.5.4"/>'
           '<code code="404684003" codeSystem="2.16.840.1.113883.6.96"/>'
           '<text>Schedule a visit for next year.</text><statusCode code="completed"/></observation>')
    b, rep = convert(section(PLAN_SECTION, _planned_encounter(ind)))
    all_valid(b, validate)
    [enc] = resources_of(b, "Encounter")
    assert enc["reasonReference"] == [{"identifier": {"system": "urn:ietf:rfc:3986",
                                                      "value": "urn:oid:1.3.6.1.4.1.42424242.4.12354.4.4.4.5.4"}}]


def test_uncoded_indication_naming_a_problem_in_document_resolves(validate):
    ind = ('<observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.19"/>'
           '<id root="1.2.3" extension="po1"/><code code="404684003" codeSystem="2.16.840.1.113883.6.96"/>'
           '<statusCode code="completed"/><value xsi:type="CD" nullFlavor="NI"/></observation>')
    b, _ = convert(PROBLEM_SECTION + section(PLAN_SECTION, _planned_encounter(ind)))
    all_valid(b, validate)
    [enc] = resources_of(b, "Encounter")
    [reason] = enc["reasonReference"]
    assert "identifier" not in reason
    assert ("http://snomed.info/sct", "38341003") in codes(resolve(b, reason)["code"])


def test_encounter_diagnosis_with_indication_template_is_not_a_pointer(validate):
    # ONC 170.315_b1_toc_amb_sample1: an Encounter Diagnosis act also carrying the 4.19 templateId
    # holds its problem; it is no pointer to an entry elsewhere, so no logical reference is made
    xml = ('<entry><encounter classCode="ENC" moodCode="EVN">'
           '<templateId root="2.16.840.1.113883.10.20.22.4.49"/><id root="1.2.3" extension="e1"/>'
           '<code code="99213" codeSystem="2.16.840.1.113883.6.12"/><effectiveTime value="20240301"/>'
           '<entryRelationship typeCode="SUBJ"><act classCode="ACT" moodCode="EVN">'
           '<templateId root="2.16.840.1.113883.10.20.22.4.80"/><templateId root="2.16.840.1.113883.10.20.22.4.19"/>'
           '<id root="5a784260-6857-4f38-9638-80c751aff2fb"/>'
           '<code code="29308-4" codeSystem="2.16.840.1.113883.6.1"/>'
           '<entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">'
           '<templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="1.2.3" extension="dx1"/>'
           '<code code="282291009" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>'
           '<value xsi:type="CD" code="38341003" codeSystem="2.16.840.1.113883.6.96"/></observation>'
           '</entryRelationship></act></entryRelationship></encounter></entry>')
    b, _ = convert(xml)
    all_valid(b, validate)
    [enc] = resources_of(b, "Encounter")
    assert all("reference" in r for r in enc.get("reasonReference", []))


def test_risk_concern_act_ids_identify_its_condition(validate):
    # HL7 Care_Plan.xml: Risk Concern Act 4.136 holding a Problem Observation (REFR)
    rc = ('<entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.136"/>'
          '<id root="cbcbf20a-d011-449f-87d1-a23cc3e5f7cf"/>'
          '<code code="281694009" codeSystem="2.16.840.1.113883.6.96" displayName="Finding of at risk"/>'
          '<statusCode code="active"/><effectiveTime value="20130616"/>'
          '<entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">'
          '<templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="8dfacd73-1682-4cc4-9351-e54ccea83612"/>'
          '<code code="281694009" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>'
          '<effectiveTime><low value="20130613"/></effectiveTime>'
          '<value xsi:type="CD" code="409623005" codeSystem="2.16.840.1.113883.6.96"/></observation>'
          '</entryRelationship></act></entry>')
    b, _ = convert(section(HC_SECTION, rc))
    all_valid(b, validate)
    [cond] = resources_of(b, "Condition")
    assert cond["identifier"] == [
        {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:8dfacd73-1682-4cc4-9351-e54ccea83612"},
        {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:cbcbf20a-d011-449f-87d1-a23cc3e5f7cf"}]
    assert ("http://snomed.info/sct", "409623005") in codes(cond["code"])


def test_concern_act_holding_one_problem_gives_it_the_entry_references_as_evidence(validate):
    # ONC 170.315_b1_toc_inp_sample1: a Health Concern Act with one Problem Observation and Entry
    # References to problems not in the document; the Condition (which carries the act's id) is
    # the concern, so they are its evidence, as logical references
    hc = ('<entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.132"/>'
          '<id root="1.2.3" extension="hc1"/><code code="75310-3" codeSystem="2.16.840.1.113883.6.1"/>'
          '<statusCode code="active"/>' + entry_ref("gone") + entry_ref("ob1") +
          '<entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">'
          '<templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="1.2.3" extension="ob1"/>'
          '<code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>'
          '<value xsi:type="CD" code="238131007" codeSystem="2.16.840.1.113883.6.96"/></observation>'
          '</entryRelationship></act></entry>')
    b, rep = convert(section(HC_SECTION, hc))
    all_valid(b, validate)
    [cond] = resources_of(b, "Condition")
    assert [i["value"] for i in cond["identifier"]] == ["ob1", "hc1"]
    # the Entry Reference naming the observation itself is no evidence of itself
    assert cond["evidence"] == [{"detail": [{"identifier": {"system": "urn:oid:1.2.3", "value": "gone"}}]}]


def test_concern_act_holding_two_problems_gives_no_evidence(validate):
    # with two Problem Observations, neither Condition alone is the concern: no evidence is guessed
    obs = ('<entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">'
           '<templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="1.2.3" extension="{}"/>'
           '<code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>'
           '<value xsi:type="CD" code="{}" codeSystem="2.16.840.1.113883.6.96"/></observation></entryRelationship>')
    hc = ('<entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.132"/>'
          '<id root="1.2.3" extension="hc1"/><code code="75310-3" codeSystem="2.16.840.1.113883.6.1"/>'
          '<statusCode code="active"/>' + entry_ref("gone") + obs.format("ob1", "238131007")
          + obs.format("ob2", "38341003") + '</act></entry>')
    b, _ = convert(section(HC_SECTION, hc))
    all_valid(b, validate)
    conds = resources_of(b, "Condition")
    assert len(conds) == 2 and all("evidence" not in c for c in conds)
