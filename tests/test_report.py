"""Nothing dropped silently: what is not mapped is reported with section, templateId and line."""
from __future__ import annotations

import ccda2fhir
from support.wrap import wrap_fragment

UNKNOWN_ENTRY = """<section><templateId root="2.16.840.1.113883.10.20.22.2.5.1"/>
<code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/><title>Problems</title>
<entry><act classCode="ACT" moodCode="EVN"><templateId root="9.9.9.9.9"/>
<code nullFlavor="NI"/></act></entry>
<entry><observation classCode="OBS" moodCode="EVN"><templateId root="9.9.9.9.8"/>
<code code="1234-5" codeSystem="2.16.840.1.113883.6.1"/><value xsi:type="ST">free text</value></observation></entry>
</section>"""


def test_unknown_entries_are_reported_with_where():
    bundle, report = ccda2fhir.convert(wrap_fragment(UNKNOWN_ENTRY), "r-1", report=True)
    unmapped = [i for i in report.issues if i.level == "unmapped"]
    assert len(unmapped) == 1
    issue = unmapped[0]
    assert issue.template_id == "9.9.9.9.9" and issue.element == "act"
    assert issue.section.startswith("2.16.840.1.113883.10.20.22.2.5.1") and "Problems" in issue.section
    assert isinstance(issue.line, int) and issue.line > 1
    assert "9.9.9.9.9" in str(issue) and f"line {issue.line}" in str(issue)
    # the unknown observation is kept as a generic Observation, and that is reported too
    generic = [i for i in report.issues if i.level == "partial" and i.template_id == "9.9.9.9.8"]
    assert generic and "generic" in generic[0].reason
    obs = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert obs[0]["code"]["coding"][0]["code"] == "1234-5"
    assert report.entries_seen == 2
    assert "2 entries" in report.summary()
    assert report.as_dict()["issues"][0]["level"]


def test_convert_with_report_matches_convert():
    xml = wrap_fragment(UNKNOWN_ENTRY)
    bundle, report = ccda2fhir.convert_with_report(xml, "r-2")
    assert bundle == ccda2fhir.convert(xml, "r-2")
    assert report.unmapped()


def test_untemplated_planned_procedure_is_a_request_not_a_done_procedure():
    xml = wrap_fragment("""<section><code code="18776-5" codeSystem="2.16.840.1.113883.6.1"/><title>Plan</title>
      <entry><procedure classCode="PROC" moodCode="RQO"><id root="1.2.3.4" extension="alt-1"/>
      <code code="80146002" codeSystem="2.16.840.1.113883.6.96" displayName="Appendectomy"/>
      <statusCode code="new"/></procedure></entry></section>""")
    bundle, report = ccda2fhir.convert(xml, "r-3", report=True)
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert "Procedure" not in types
    sr = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest"]
    assert sr and sr[0]["code"]["coding"][0]["code"] == "80146002"
    assert any(i.level == "partial" and "generic" in i.reason for i in report.issues)


def test_integer_past_64_bits_does_not_fail_the_document():
    from conftest import SAMPLE_CCD
    xml = SAMPLE_CCD.read_text().replace("<title>", '<versionNumber value="99999999999999999999"/><title>', 1)
    bundle = ccda2fhir.convert(xml, "big")
    comp = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Composition"][0]
    assert "99999999999999999999" not in str(comp)


def test_a_wrapper_act_lends_its_ids_to_the_one_resource_it_holds():
    xml = wrap_fragment("""<section><code code="10183-2" codeSystem="2.16.840.1.113883.6.1"/><title>Discharge meds</title>
      <entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.35"/>
        <id root="6B7689C8-7636-11EB-80DE-0050568B6B1A"/><code code="10183-2" codeSystem="2.16.840.1.113883.6.1"/>
        <entryRelationship typeCode="SUBJ"><substanceAdministration classCode="SBADM" moodCode="EVN">
          <templateId root="2.16.840.1.113883.10.20.22.4.16"/><id root="1.2.3" extension="med-1"/>
          <consumable><manufacturedProduct><manufacturedMaterial>
            <code code="197361" codeSystem="2.16.840.1.113883.6.88"/></manufacturedMaterial></manufacturedProduct></consumable>
        </substanceAdministration></entryRelationship></act></entry>
      <entry><act classCode="ACT" moodCode="EVN"><templateId root="9.8.7"/><id nullFlavor="NI"/>
        <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN"><id root="1.2.3" extension="o-1"/>
          <code code="1234-5" codeSystem="2.16.840.1.113883.6.1"/></observation></entryRelationship></act></entry>
      </section>""", "10183-2")
    bundle = ccda2fhir.convert(xml, "w")
    [med] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationStatement"]
    assert med["identifier"] == [{"system": "urn:oid:1.2.3", "value": "med-1"},
                                 {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:6b7689c8-7636-11eb-80de-0050568b6b1a"}]
    [obs] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert obs["identifier"] == [{"system": "urn:oid:1.2.3", "value": "o-1"}]  # a nullFlavor id lends nothing


def test_engine_tells_which_resource_a_statement_became_and_waits_for_one_still_rendering():
    from ccda2fhir.map.state import Conversion
    doc = {"header": {}, "narrative": {}, "sections": [], "body": None}
    stmt = {"templateId": [{"root": "2.16.840.1.113883.10.20.22.4.4"}], "id": [{"root": "1.2.3", "extension": "x"}],
            "value": [{"xsi_type": "CD", "code": "233604007", "codeSystem": "2.16.840.1.113883.6.96"}]}
    seen = []
    with Conversion(doc, "p") as conv:
        assert conv.resource_of(stmt) is None
        conv.when_made(stmt, lambda res: seen.append(res["resourceType"]))
        ref = conv.emit("resource/Condition", src=stmt, parents=[], element="observation")
        assert conv.resource_of(stmt) == ref and seen == ["Condition"]
        conv.when_made(stmt, lambda res: seen.append(res["id"]))  # already made: at once
        assert seen == ["Condition", ref["reference"].split("/")[1]]
