"""Codes and dates the source states that earlier mappings dropped (each a mapping choice named in
the filter it lives in): status values written beside the FHIR status, device status/safety
questions as Device.property, a completed allergy concern's end, and the authoring of absorbed
Priority Preferences. Small hand-written fragments (tests/support/wrap.py)."""
from __future__ import annotations

import ccda2fhir
from tests.conftest import resolve, resources_of
from tests.support.wrap import wrap_fragment

SCT = "2.16.840.1.113883.6.96"
NCI = "2.16.840.1.113883.3.26.1.1"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"


def convert(xml: str, section_code: str):
    return ccda2fhir.convert(wrap_fragment(xml, section_code).encode(), "p1")


def _problem(obs_eff: str, status_value: str) -> str:
    return f"""<entry><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.3" extension="2015-08-01"/>
  <id root="1.2.3.4" extension="concern-1"/>
  <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
  <statusCode code="active"/><effectiveTime><low value="20200101"/></effectiveTime>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.4" extension="2015-08-01"/>
    <id root="1.2.3.4" extension="problem-1"/>
    <code code="55607006" codeSystem="{SCT}" displayName="Problem"/>
    <statusCode code="completed"/>{obs_eff}
    <value xsi:type="CD" code="38341003" codeSystem="{SCT}" displayName="Hypertension"/>
    <entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.6"/>
      <code code="33999-4" codeSystem="2.16.840.1.113883.6.1" displayName="Status"/>
      <statusCode code="completed"/>
      <value xsi:type="CD" code="{status_value}" codeSystem="{SCT}"/>
    </observation></entryRelationship>
  </observation></entryRelationship>
</act></entry>"""


def test_problem_status_value_kept_beside_fhir_code(validate):
    bundle = convert(_problem('<effectiveTime><low value="20200101"/></effectiveTime>', "55561003"), "11450-4")
    (cond,) = resources_of(bundle, "Condition")
    assert validate(cond) == []
    codings = cond["clinicalStatus"]["coding"]
    assert codings[0] == {"system": CLINICAL, "code": "active"}
    assert {"system": "http://snomed.info/sct", "code": "55561003"} == \
        {k: codings[1][k] for k in ("system", "code")}


def test_problem_status_value_kept_when_an_end_date_contradicts_it(validate):
    """The stated status wins over an end date (issue 7 section 3): 'Active' is written beside
    active, and the end it contradicts is reported, not made an abatement (FHIR con-4)."""
    eff = '<effectiveTime><low value="20200101"/><high value="20210101"/></effectiveTime>'
    bundle, report = ccda2fhir.convert(wrap_fragment(_problem(eff, "55561003"), "11450-4").encode(), "p1",
                                       report=True)
    (cond,) = resources_of(bundle, "Condition")
    assert validate(cond) == []
    assert cond["clinicalStatus"]["coding"][0] == {"system": CLINICAL, "code": "active"}
    assert cond["clinicalStatus"]["coding"][1]["code"] == "55561003"
    assert "abatementDateTime" not in cond and "_abatementDateTime" not in cond
    assert [i.level for i in report.issues if "2021-01-01" in i.reason] == ["warning"]


def _allergy(concern_status: str, concern_eff: str, status_obs: str = "") -> str:
    return f"""<entry><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.30" extension="2015-08-01"/>
  <id root="1.2.3.4" extension="allergy-concern-1"/>
  <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
  <statusCode code="{concern_status}"/>{concern_eff}
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.7" extension="2014-06-09"/>
    <id root="1.2.3.4" extension="allergy-1"/>
    <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
    <statusCode code="completed"/><effectiveTime><low value="20150301"/></effectiveTime>
    <value xsi:type="CD" code="416098002" codeSystem="{SCT}" displayName="Drug allergy"/>
    <participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT">
      <code code="7980" codeSystem="2.16.840.1.113883.6.88" displayName="Penicillin G"/>
    </playingEntity></participantRole></participant>{status_obs}
  </observation></entryRelationship>
</act></entry>"""


ALLERGY_STATUS_ACTIVE = f"""<entryRelationship typeCode="SUBJ" inversionInd="true">
  <observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.28" extension="2019-06-20"/>
    <code code="33999-4" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
    <value xsi:type="CE" code="55561003" codeSystem="{SCT}" displayName="Active"/>
  </observation></entryRelationship>"""


def test_allergy_status_value_kept_beside_fhir_code(validate):
    eff = '<effectiveTime><low value="20150301"/></effectiveTime>'
    bundle = convert(_allergy("active", eff, ALLERGY_STATUS_ACTIVE), "48765-2")
    (allergy,) = resources_of(bundle, "AllergyIntolerance")
    assert validate(allergy) == []
    codings = allergy["clinicalStatus"]["coding"]
    assert (codings[0]["system"], codings[0]["code"]) == (ALLERGY_CLINICAL, "active")
    assert codings[1] == {"system": "http://snomed.info/sct", "code": "55561003", "display": "Active"}


ABATEMENT = "http://hl7.org/fhir/StructureDefinition/allergyintolerance-abatement"


def test_completed_allergy_concern_end_is_the_abatement(validate):
    eff = '<effectiveTime><low value="20150301"/><high value="20190715"/></effectiveTime>'
    bundle = convert(_allergy("completed", eff), "48765-2")
    (allergy,) = resources_of(bundle, "AllergyIntolerance")
    assert validate(allergy) == []
    # the completed concern's end is the abatement; the concern's own span stays in concern-period
    assert allergy["extension"] == [
        {"url": ABATEMENT, "valueDateTime": "2019-07-15"},
        {"url": "http://ccda2fhir.org/fhir/StructureDefinition/concern-period",
         "valuePeriod": {"start": "2015-03-01", "end": "2019-07-15"}}]
    assert allergy["clinicalStatus"]["coding"][0]["code"] == "resolved"


def test_active_allergy_concern_end_is_not_an_abatement(validate):
    eff = '<effectiveTime><low value="20150301"/><high value="20190715"/></effectiveTime>'
    (allergy,) = resources_of(convert(_allergy("active", eff), "48765-2"), "AllergyIntolerance")
    assert validate(allergy) == []
    # no abatement: only the concern's own span, in concern-period
    concern_only = [{"url": "http://ccda2fhir.org/fhir/StructureDefinition/concern-period",
                     "valuePeriod": {"start": "2015-03-01", "end": "2019-07-15"}}]
    assert allergy["extension"] == concern_only
    # nor when an Allergy Status Observation still says active
    (allergy,) = resources_of(convert(_allergy("completed", eff, ALLERGY_STATUS_ACTIVE), "48765-2"),
                              "AllergyIntolerance")
    assert allergy["extension"] == concern_only


def _udi_observation(tid: str, code: str, code_system: str, value: str, value_system: str) -> str:
    return f"""<component><observation classCode="OBS" moodCode="EVN">
      <templateId root="{tid}" extension="2019-06-21"/>
      <code code="{code}" codeSystem="{code_system}"/>
      <value xsi:type="CD" code="{value}" codeSystem="{value_system}"/>
    </observation></component>"""


EQUIPMENT = f"""<entry><procedure classCode="PROC" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.14" extension="2014-06-09"/>
  <id root="1.2.3.4" extension="implant-1"/>
  <code code="176361009" codeSystem="{SCT}" displayName="Insertion of pacemaker"/>
  <statusCode code="completed"/><effectiveTime value="20180101"/>
  <participant typeCode="DEV"><participantRole classCode="MANU">
    <templateId root="2.16.840.1.113883.10.20.22.4.37"/>
    <id root="2.16.840.1.113883.3.3719" extension="(01)00643169007222(17)260101(21)SN123"/>
    <playingDevice><code code="14106009" codeSystem="{SCT}" displayName="Cardiac pacemaker"/></playingDevice>
    <scopingEntity><id root="2.16.840.1.113883.3.3719"/></scopingEntity>
  </participantRole></participant>
  <entryRelationship typeCode="COMP"><organizer classCode="CLUSTER" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.311" extension="2019-06-21"/>
    <id root="2.16.840.1.113883.3.3719" extension="(01)00643169007222(17)260101(21)SN123"/>
    <code code="74711-3" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
    {_udi_observation("2.16.840.1.113883.10.20.22.4.318", "C106044", NCI, "C113844", NCI)}
    {_udi_observation("2.16.840.1.113883.10.20.22.4.314", "C160938", NCI, "C106038", NCI)}
    {_udi_observation("2.16.840.1.113883.10.20.22.4.306", "UDI-00007", "1.3.6.1.4.1.19376.1.4.1.6.5.290",
                      "active", "2.16.840.1.113883.4.642.3.199")}
  </organizer></entryRelationship>
</procedure></entry>"""


def test_device_status_and_safety_questions_as_properties(validate):
    bundle = convert(EQUIPMENT, "46264-8")
    (device,) = [d for d in resources_of(bundle, "Device") if d.get("udiCarrier")]
    assert validate(device) == []
    props = {p["type"]["coding"][0]["code"]: p["valueCode"][0]["coding"][0] for p in device["property"]}
    nci = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
    assert props["C106044"] == {"system": nci, "code": "C113844"}          # MRI safety
    assert props["C160938"] == {"system": nci, "code": "C106038"}          # latex safety
    assert props["UDI-00007"] == {"system": "urn:oid:2.16.840.1.113883.4.642.3.199", "code": "active"}
    # the safety values stay in Device.safety too; the UDI fields are not repeated as properties
    assert [c["coding"][0]["code"] for c in device["safety"]] == ["C113844", "C106038"]
    assert "74711-3" not in {p["type"]["coding"][0]["code"] for p in device["property"]}


GOAL = f"""<entry><observation classCode="OBS" moodCode="GOL">
  <templateId root="2.16.840.1.113883.10.20.22.4.121"/>
  <id root="1.2.3.4" extension="goal-1"/>
  <code code="289169006" codeSystem="{SCT}" displayName="Exercise"/>
  <statusCode code="active"/><effectiveTime value="20240101"/>
  <entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.143"/>
    <id root="1.2.3.4" extension="prio-1"/>
    <code code="225773000" codeSystem="{SCT}" displayName="Preference"/>
    <value xsi:type="CD" code="394849002" codeSystem="{SCT}" displayName="High priority"/>
    <author><time value="20230615114500-0800"/><assignedAuthor>
      <id root="2.16.840.1.113883.4.6" extension="999999999"/>
      <assignedPerson><name><given>Pat</given><family>Prefers</family></name></assignedPerson>
    </assignedAuthor></author>
  </observation></entryRelationship>
</observation></entry>"""


def test_absorbed_priority_preference_author_becomes_provenance(validate):
    bundle = convert(GOAL, "61146-7")
    (goal,) = resources_of(bundle, "Goal")
    assert validate(goal) == []
    assert goal["priority"]["coding"][0]["code"] == "394849002"
    provs = [p for p in resources_of(bundle, "Provenance")
             if p["target"] == [{"reference": f"Goal/{goal['id']}"}]]
    assert [p["recorded"] for p in provs] == ["2023-06-15T11:45:00-08:00"]
    (prov,) = provs
    assert validate(prov) == []
    who = resolve(bundle, prov["agent"][0]["who"])
    assert who["name"][0]["family"] == "Prefers"


def _visit(code: str, when: str) -> str:
    return f"""<entry><encounter classCode="ENC" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.49" extension="2015-08-01"/>
  <id root="2a620155-9d11-439e-92b3-5d9815ff4de8"/>
  <code code="{code}" codeSystem="2.16.840.1.113883.6.12"/>
  <statusCode code="completed"/><effectiveTime value="{when}"/>
</encounter></entry>"""


def test_encounters_sharing_one_id_but_not_one_time_stay_apart(validate):
    """Senders that reuse one id for every visit (the EMERGE samples): each visit is kept."""
    section = ('<section><code code="46240-8" codeSystem="2.16.840.1.113883.6.1"/><title>Encounters</title>'
               + _visit("99212", "20100331") + _visit("99213", "20100606") + _visit("99213", "20100606")
               + "</section>")
    bundle = convert(section, "46240-8")
    encounters = resources_of(bundle, "Encounter")
    assert all(validate(e) == [] for e in encounters)
    # two visits (the third repeats the second: same id and time -> the same Encounter)
    assert sorted(e["period"]["start"] for e in encounters) == ["2010-03-31", "2010-06-06"]
    assert all(e["identifier"] == [{"system": "urn:ietf:rfc:3986",
                                    "value": "urn:uuid:2a620155-9d11-439e-92b3-5d9815ff4de8"}]
               for e in encounters)
