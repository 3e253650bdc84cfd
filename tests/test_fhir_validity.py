"""Issue 7 §4 and issue 13: what used to break an R4 invariant, a reference target type or a US Core
profile claim, now mapped at the root. Each fragment reproduces a shape found in the shared corpus
(named beside it); every Bundle here passes ccda2fhir.validate whole."""
from __future__ import annotations

import ccda2fhir
from ccda2fhir.validate import check_bundle
from tests.conftest import resources_of
from tests.support.wrap import wrap_fragment

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
DAR = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
UNKNOWN = {"extension": [{"url": DAR, "valueCode": "unknown"}]}


def convert(xml: str, section: str = "11450-4"):
    bundle, report = ccda2fhir.convert(wrap_fragment(xml, section).encode(), "p-1", report=True)
    assert [str(p) for p in check_bundle(bundle)] == []
    return bundle, report


def reasons(report) -> list[str]:
    return [i.reason for i in report.issues]


# Problems whose author is an organization only (amida-blue-button CCD_1.xml and others):
# Condition.recorder may not point at an Organization.
PROBLEM_BY_ORG = """<entry><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.3" extension="2015-08-01"/><id root="1.2.3" extension="c1"/>
  <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/><statusCode code="active"/>
  <effectiveTime><low value="20200101"/></effectiveTime>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.4" extension="2015-08-01"/><id root="1.2.3" extension="o1"/>
    <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>
    <effectiveTime><low value="20200101"/></effectiveTime>
    <value xsi:type="CD" code="38341003" codeSystem="2.16.840.1.113883.6.96" displayName="Hypertension"/>
    <author><time value="20200102"/><assignedAuthor><id nullFlavor="NI"/>
      <representedOrganization><id root="1.2.3.9" extension="org"/><name>Good Clinic</name>
      <telecom use="HP" value="tel:+1-555-555-1000"/><addr use="H"><streetAddressLine>1 Main St</streetAddressLine>
      <city>Town</city></addr></representedOrganization></assignedAuthor></author>
  </observation></entryRelationship></act></entry>"""


def test_an_organization_author_is_no_recorder_and_the_provenance_keeps_it():
    b, report = convert(PROBLEM_BY_ORG)
    [cond] = resources_of(b, "Condition")
    assert "recorder" not in cond
    [org] = [o for o in resources_of(b, "Organization") if o.get("name") == "Good Clinic"]
    prov = [p for p in resources_of(b, "Provenance") if p["target"] == [{"reference": f"Condition/{cond['id']}"}]]
    assert prov and prov[0]["agent"][0]["who"] == {"reference": f"Organization/{org['id']}"}
    assert "Condition.recorder left out 1 time: the participant is a Organization, which R4 does not " \
           "allow there" in reasons(report)


def test_an_organization_address_and_telecom_are_never_home():
    """org-2 / org-3 (22 / 10 claims in the corpus): the value stays, the 'home' use goes."""
    b, _ = convert(PROBLEM_BY_ORG)
    [org] = [o for o in resources_of(b, "Organization") if o.get("name") == "Good Clinic"]
    assert org["telecom"] == [{"system": "phone", "value": "+1-555-555-1000"}]
    assert org["address"][0]["line"] == ["1 Main St"] and "use" not in org["address"][0]


# A goal whose code is nullFlavored and whose value is text (onc-content-validator SITE_4555.xml)
GOAL = """<entry><observation classCode="OBS" moodCode="GOL"><templateId root="2.16.840.1.113883.10.20.22.4.121"/>
  <id root="1.2.3" extension="g1"/><code nullFlavor="UNK"/><statusCode code="active"/>
  <effectiveTime value="20250121"/>
  <value xsi:type="ST">Get rid of intermittent fever</value></observation></entry>"""


def test_a_goal_target_without_a_coded_measure_has_an_unknown_one():
    b, _ = convert(GOAL, "61146-7")
    [goal] = resources_of(b, "Goal")
    assert goal["target"] == [{"measure": UNKNOWN, "detailString": "Get rid of intermittent fever"}]


GUARDIAN_ONLY_ROLE = """<recordTarget><patientRole><id root="2.16.840.1.113883.19.5" extension="p1"/>
    <patient><name><given>Test</given><family>Patient</family></name>
    <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="19700101"/>
    <guardian><code code="MTH" codeSystem="2.16.840.1.113883.5.111"/></guardian>
    </patient></patientRole></recordTarget>"""


def test_a_contact_with_only_a_relationship_is_reported_not_emitted():
    """pat-1 (4 Patients in the corpus): a guardian the source gives nothing but a relationship for."""
    xml = wrap_fragment(GOAL, "61146-7")
    start, end = xml.index("<recordTarget>"), xml.index("</recordTarget>") + len("</recordTarget>")
    bundle, report = ccda2fhir.convert((xml[:start] + GUARDIAN_ONLY_ROLE + xml[end:]).encode(), "p-1", report=True)
    assert check_bundle(bundle) == []
    assert "contact" not in resources_of(bundle, "Patient")[0]
    assert any("pat-1" in r for r in reasons(report))


# An observation with two values: its score and its LOINC answer (HL7 PHQ-9 and Glasgow examples,
# and an Epic lab in chunli866 UNECAP2024-03-07_PAN_STI.xml)
TWO_VALUES = """<entry><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.2"/>
  <id root="1.2.3" extension="r1"/><code code="44255-8" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
  <effectiveTime value="20240101"/><value xsi:type="INT" value="1"/>
  <value xsi:type="CD" code="LA6569-3" codeSystem="2.16.840.1.113883.6.1"/></observation></entry>"""


def test_several_values_are_components_and_no_value_x():
    """obs-7: no component coded like the Observation beside its value[x]."""
    b, _ = convert(TWO_VALUES, "30954-2")
    [obs] = [o for o in resources_of(b, "Observation") if o["code"]["coding"][0]["code"] == "44255-8"]
    assert not any(k.startswith("value") for k in obs)
    assert [c.get("valueInteger") for c in obs["component"]] == [1, None]


# A dose range whose high has no unit (onc-reference-ccda-validator tempResults_ValidatorBrokeETTGG.xml)
DOSE_RANGE = """<entry><substanceAdministration classCode="SBADM" moodCode="INT">
  <templateId root="2.16.840.1.113883.10.20.22.4.16" extension="2014-06-09"/><id root="1.2.3" extension="m1"/>
  <statusCode code="active"/><effectiveTime xsi:type="IVL_TS"><low value="20190531"/></effectiveTime>
  <doseQuantity xsi:type="IVL_PQ"><low value="300" unit="mg"/><high value="355.25"/></doseQuantity>
  <consumable><manufacturedProduct classCode="MANU"><templateId root="2.16.840.1.113883.10.20.22.4.23"/>
    <manufacturedMaterial><code code="197361" codeSystem="2.16.840.1.113883.6.88" displayName="amlodipine"/>
    </manufacturedMaterial></manufacturedProduct></consumable></substanceAdministration></entry>"""


def test_a_range_bound_without_a_unit_is_left_out_and_reported():
    b, report = convert(DOSE_RANGE, "10160-0")
    [req] = resources_of(b, "MedicationRequest")
    assert req["dosageInstruction"][0]["doseAndRate"][0]["doseRange"] == {
        "low": {"value": 300, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}
    assert "range high 355.25 has no unit while the other bound has one; high left out" in reasons(report)


def test_an_order_with_no_author_has_an_unknown_requester_and_keeps_its_claim():
    """us-core-21 (166 claims in the corpus)."""
    b, _ = convert(DOSE_RANGE, "10160-0")
    [req] = resources_of(b, "MedicationRequest")
    assert req["intent"] == "order" and req["requester"] == UNKNOWN
    assert req["meta"]["profile"] == [US_CORE + "us-core-medicationrequest"]


RESULTS = """<entry><organizer classCode="BATTERY" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.1" extension="2015-08-01"/><id root="1.2.3" extension="dr1"/>
  <code code="24357-6" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
  {author}
  <component><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
    <id root="1.2.3" extension="ob1"/><code code="5811-5" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
    {effective}<value xsi:type="PQ" value="1.015" unit="1"/>{obs_author}</observation></component></organizer></entry>"""


def test_a_final_report_is_issued_when_its_result_was_authored():
    """us-core-9 (235 reports in the corpus): issued from the results' author time."""
    xml = RESULTS.format(author="", effective='<effectiveTime value="20150622"/>',
                         obs_author='<author><time value="20150622101500-0500"/><assignedAuthor>'
                                    '<id root="2.16.840.1.113883.4.6" extension="1234567893"/></assignedAuthor></author>')
    b, _ = convert(xml, "30954-2")
    [report] = resources_of(b, "DiagnosticReport")
    assert report["status"] == "final" and report["issued"] == "2015-06-22T10:15:00-05:00"
    assert report["meta"]["profile"] == [US_CORE + "us-core-diagnosticreport-lab"]


def test_a_final_report_nobody_dated_says_so():
    """us-core-8 / us-core-9: data-absent issued and effective, as the IG's example."""
    b, _ = convert(RESULTS.format(author="", effective="", obs_author=""), "30954-2")
    [report] = resources_of(b, "DiagnosticReport")
    assert report["_issued"] == UNKNOWN and report["_effectiveDateTime"] == UNKNOWN
    assert report["meta"]["profile"] == [US_CORE + "us-core-diagnosticreport-lab"]


ENCOUNTER = """<entry><encounter classCode="ENC" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.49" extension="2015-08-01"/>
  <id root="1.2.3" extension="e1"/>{code}<effectiveTime value="20200101"/></encounter></entry>"""


def test_an_encounter_coded_only_by_its_actcode_has_that_type():
    """US Core Encounter.type (255 claims in the corpus): the ActCode is the type the source gives."""
    b, _ = convert(ENCOUNTER.format(code='<code code="AMB" codeSystem="2.16.840.1.113883.5.4" displayName="ambulatory"/>'),
                   "46240-8")
    [enc] = resources_of(b, "Encounter")
    assert enc["class"]["code"] == "AMB"
    assert enc["type"] == [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                        "code": "AMB", "display": "ambulatory"}], "text": "ambulatory"}]
    assert enc["meta"]["profile"] == [US_CORE + "us-core-encounter"]


def test_an_encounter_without_a_code_has_the_unknown_type():
    b, _ = convert(ENCOUNTER.format(code=""), "46240-8")
    [enc] = resources_of(b, "Encounter")
    assert enc["type"] == [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                        "code": "unknown", "display": "Unknown"}]}]
    assert enc["meta"]["profile"] == [US_CORE + "us-core-encounter"]


def test_a_same_day_period_of_a_date_and_a_time_stays_that_day():
    """per-1 (the header encounter of preCures 170.315_b6_de_inp_sample2.xml)."""
    b, _ = convert(ENCOUNTER.format(code="").replace(
        '<effectiveTime value="20200101"/>',
        '<effectiveTime><low value="20150722180000-0500"/><high value="20150722"/></effectiveTime>'), "46240-8")
    [enc] = resources_of(b, "Encounter")
    assert enc["period"] == {"start": "2015-07-22", "end": "2015-07-22"}


def test_an_author_with_no_organization_acts_on_behalf_of_an_unknown_one():
    """provenance-1: the fragment document's author is a Practitioner named without organization."""
    b, _ = convert(GOAL, "61146-7")
    doc_prov = [p for p in resources_of(b, "Provenance") if len(p["target"]) > 1][0]
    author = [a for a in doc_prov["agent"] if a["type"]["coding"][0]["code"] == "author"][0]
    assert author["who"]["reference"].startswith("Practitioner/") and author["onBehalfOf"] == UNKNOWN
    assert doc_prov["meta"]["profile"] == [US_CORE + "us-core-provenance"]


def test_an_unmet_claim_is_dropped_and_reported():
    """The fragment document's author has an NPI whose check digit is wrong (1234567890): the
    Practitioner is not US Core (us-core-17), the report says why, nothing else changes."""
    b, report = convert(GOAL, "61146-7")
    [prac] = resources_of(b, "Practitioner")
    assert "meta" not in prac
    assert prac["identifier"] == [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567890"}]
    assert "1 resource does not claim us-core-practitioner, which the source does not give enough for: " \
           "us-core-17: NPI check digit must be valid (Luhn algorithm check)" in reasons(report)
