"""Care Team Organizer -> US Core CareTeam."""
from __future__ import annotations


import ccda2fhir
from tests.conftest import CORPUS, FIXTURES, needs_corpus, resolve, resources_of
from tests.support.fragments import convert_example

CT = FIXTURES / "hl7-c-cda-examples" / "Care Team" / "Care Team Structured Entry" / "Care Team Organizer Example.xml"
TYPE_OBS = FIXTURES / "hl7-c-cda-examples" / "Guide Examples" / \
    "Care Team Type Observation_2.16.840.1.113883.10.20.22.4.500.2" / "Care Team Type Example.xml"


def convert_text(text: str):
    return convert_example(text, "85847-2", report=True)


def test_care_team_organizer(validate):
    bundle, report = convert_text(CT.read_text(encoding="utf-8-sig"))
    (team,) = resources_of(bundle, "CareTeam")
    assert validate(team) == []
    assert team["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-careteam"]
    assert team["identifier"][0] == {"system": "urn:ietf:rfc:3986",
                                     "value": "urn:uuid:c37b6e41-8d99-496f-afba-b97383da63eb"}
    assert team["status"] == "active"
    assert team["name"] == "My Care Team"
    assert team["subject"] == {"reference": "Patient/p1"}
    assert team["period"] == {"start": "2018-10-08T14:26:00-05:00"}
    assert team["category"] == [{"coding": [{"system": "http://loinc.org", "code": "86744-0",
                                             "display": "Care Team"}]}]
    (member,) = team["participant"]
    assert member["role"][0]["coding"] == [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationFunction", "code": "PCP",
        "display": "primary care physician"}]
    assert member["period"] == {"start": "2018-10-08T14:26:00-05:00"}
    prac = resolve(bundle, member["member"])
    assert prac["resourceType"] == "Practitioner"
    assert prac["name"][0]["family"] == "Smith"
    assert {"system": "http://hl7.org/fhir/sid/us-npi", "value": "5555555555"} in prac["identifier"]
    org = resolve(bundle, member["onBehalfOf"])
    assert org["name"] == "Hope Woods Health Services"
    assert not [i for i in report.issues if i.level in ("unmapped", "error")]


def test_care_team_type_and_caregiver(validate):
    """A team type observation becomes the category; a caregiver member (participant) a RelatedPerson."""
    type_obs = TYPE_OBS.read_text(encoding="utf-8-sig")
    xml = CT.read_text(encoding="utf-8-sig").replace(
        "<component>", f"<component>{type_obs}</component><component>", 1).replace(
        "</performer>",
        """</performer><participant typeCode="IND"><participantRole classCode="CAREGIVER">
             <id root="2.16.840.1.113883.19.5" extension="cg-1"/>
             <code code="MTH" codeSystem="2.16.840.1.113883.5.111" displayName="mother"/>
             <playingEntity><name><given>Mary</given><family>Care</family></name></playingEntity>
           </participantRole></participant>""")
    bundle, report = convert_text(xml)
    (team,) = resources_of(bundle, "CareTeam")
    assert validate(team) == []
    assert team["category"][0]["coding"] == [{"system": "http://loinc.org", "code": "LA28865-6",
                                              "display": "Longitudinal care-coordination focused care team"}]
    caregiver = next(p for p in team["participant"] if p["member"]["reference"].startswith("RelatedPerson/"))
    assert caregiver["role"][0]["coding"][0]["code"] == "MTH"
    assert resolve(bundle, caregiver["member"])["name"][0]["family"] == "Care"
    assert not [i for i in report.issues if i.level in ("unmapped", "error")]


@needs_corpus
def test_onc_sample_care_team(validate):
    path = CORPUS / "onc-content-validator-api/src/test/resources/svap2024/ref/170.315_b1_toc_amb_svap_uscdiv4_sample1.xml"
    bundle = ccda2fhir.convert(path.read_bytes(), "p1")
    (team,) = resources_of(bundle, "CareTeam")
    assert validate(team) == []
    assert len(team["participant"]) == 2
    assert all(resolve(bundle, p["member"])["resourceType"] == "Practitioner" for p in team["participant"])
    assert team["period"] == {"start": "2015-06-22T18:00:00-05:00"}


def test_member_act_author_is_a_provenance_of_the_care_team(validate):
    """The Care Team Member Act makes no resource (it is a CareTeam.participant); its author says
    who recorded that membership and when: a Provenance targeting the CareTeam."""
    member_author = """<author><templateId root="2.16.840.1.113883.10.20.22.4.119"/>
      <time value="20210928171927+0000"/>
      <assignedAuthor><id root="2.16.840.1.113883.4.6" extension="1234567893"/>
        <assignedPerson><name><given>Kayla</given><family>Thomas</family></name></assignedPerson>
      </assignedAuthor></author>
        </act>"""
    text = CT.read_text(encoding="utf-8-sig").replace("</act>", member_author, 1)
    bundle, _ = convert_text(text)
    (team,) = resources_of(bundle, "CareTeam")
    target = {"reference": f"CareTeam/{team['id']}"}
    (prov,) = [p for p in resources_of(bundle, "Provenance") if target in p["target"] and not p.get("entity")]
    assert validate(prov) == []
    assert prov["recorded"] == "2021-09-28T17:19:27+00:00"
    assert resolve(bundle, prov["agent"][0]["who"])["name"][0]["family"] == "Thomas"
