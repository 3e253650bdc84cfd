"""Payers: Coverage Activity / Policy Activity -> US Core Coverage, payer Organization,
guarantor Account, the Coverage Activity -> List."""
from __future__ import annotations


import ccda2fhir
from tests.conftest import CORPUS, FIXTURES, needs_corpus, resolve, resources_of
from tests.support.fragments import convert_example

GUIDE = FIXTURES / "hl7-c-cda-examples" / "Guide Examples"
POLICY = GUIDE / "Policy Activity (V3)_2.16.840.1.113883.10.20.22.4.61" / "Policy Activity (V3) Example.xml"
REL = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"


def convert_text(text: str):
    return convert_example(text, "48768-6", report=True)


def test_policy_activity(validate):
    bundle, report = convert_text(POLICY.read_text(encoding="utf-8-sig"))
    (cov,) = resources_of(bundle, "Coverage")
    assert validate(cov) == []
    assert cov["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-coverage"]
    assert cov["identifier"][0] == {"system": "urn:ietf:rfc:3986",
                                    "value": "urn:uuid:3e676a50-7aac-11db-9fe1-0800200c9a66"}
    member = cov["identifier"][1]
    assert member["value"] == "1138345" and member["system"] == "urn:oid:1.1.1.1.1.1.1.1.14"
    assert member["type"]["coding"][0]["code"] == "MB"
    assert cov["status"] == "active"
    codes = [(c["system"], c["code"]) for c in cov["type"]["coding"]]
    assert codes == [("urn:oid:2.16.840.1.113883.6.255.1336", "12"), ("https://nahdo.org/sopt", "2")]
    # covered party is SELF: the patient is subscriber and policy holder
    assert cov["subscriber"] == cov["policyHolder"] == {"reference": "Patient/p1"}
    assert cov["beneficiary"] == {"reference": "Patient/p1"}
    assert cov["subscriberId"] == "1138345"
    assert cov["relationship"]["coding"][0] == {"system": REL, "code": "self", "display": "Self"}
    (payor,) = cov["payor"]
    org = resolve(bundle, payor)
    assert org["resourceType"] == "Organization" and org["name"] == "Good Health Insurance"
    assert {"system": "urn:oid:2.16.840.1.113883.6.300", "value": "999999"} in org["identifier"]
    assert org["address"][0]["city"] == "Blue Bell"
    assert validate(org) == []
    # the guarantor is on an Account that points at the coverage
    (acct,) = resources_of(bundle, "Account")
    assert validate(acct) == []
    assert acct["coverage"] == [{"coverage": {"reference": f"Coverage/{cov['id']}"}}]
    guarantor = resolve(bundle, acct["guarantor"][0]["party"])
    assert guarantor["resourceType"] == "RelatedPerson"
    assert guarantor["name"][0]["family"] == "Everyman" and guarantor["name"][0]["given"] == ["Adam", "Frankie"]
    # the example elides the Authorization Activity's content ('. . .'): reported, not dropped
    assert [i for i in report.issues if "Authorization Activity names no authorized service" in i.reason]
    assert not resources_of(bundle, "ServiceRequest")


def test_spouse_covered_by_the_holders_policy(validate):
    text = POLICY.read_text(encoding="utf-8-sig").replace(
        '<code code="SELF" codeSystem="2.16.840.1.113883.5.111" displayName="self" />',
        '<code code="SPS" codeSystem="2.16.840.1.113883.5.111" displayName="spouse" />').replace(
        '<participantRole classCode="PAT">', '<participantRole>')
    bundle, _ = convert_text(text)
    (cov,) = resources_of(bundle, "Coverage")
    assert validate(cov) == []
    assert cov["relationship"]["coding"][0]["code"] == "spouse"
    holder = resolve(bundle, cov["subscriber"])
    assert holder["resourceType"] == "RelatedPerson"
    assert {"system": "urn:oid:2.16.840.1.113883.19", "value": "1138345"} in holder["identifier"]
    assert cov["policyHolder"] == cov["subscriber"]
    assert cov["beneficiary"] == {"reference": "Patient/p1"}


@needs_corpus
def test_ccd_r21_payers(validate):
    path = CORPUS / "hl7-cda-ccda-2.1" / "examples" / "C-CDA_R2-1_CCD.xml"
    bundle, report = ccda2fhir.convert(path.read_bytes(), "p1", report=True)
    # the Policy Activity's (the other Coverage is a planned procedure's Planned Coverage)
    (cov,) = [c for c in resources_of(bundle, "Coverage") if c.get("meta")]
    assert cov["order"] == 2                       # the entryRelationship's sequenceNumber
    assert resolve(bundle, cov["payor"][0])["name"] == "Good Health Insurance"
    assert cov["subscriberId"] == "1138345"
    (group,) = [r for r in resources_of(bundle, "List")
                if r["identifier"][0]["value"] == "urn:uuid:1fe2cdd0-7aad-11db-9fe1-0800200c9a66"]
    assert group["code"]["coding"][0]["code"] == "48768-6"
    assert group["entry"] == [{"item": {"reference": f"Coverage/{cov['id']}"}}]
    for r in [cov, group] + resources_of(bundle, "Account"):
        assert validate(r) == []
    assert not [i for i in report.issues if i.level in ("unmapped", "error")
                and "INSURANCE" in (i.section or "")]


@needs_corpus
def test_r11_c32_payers(validate):
    path = CORPUS / "amida-blue-button" / "example" / "C32.xml"
    bundle, report = ccda2fhir.convert(path.read_bytes(), "p1", report=True)
    covs = resources_of(bundle, "Coverage")
    assert covs
    for c in covs:
        assert validate(c) == []
        assert c["payor"]


def test_nested_statements_of_a_policy_are_not_dropped(validate):
    note = """<entryRelationship typeCode="COMP"><act classCode="ACT" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.202" extension="2016-11-01"/>
      <id root="2.16.840.1.113883.19.5" extension="policy-note"/>
      <code code="34109-9" codeSystem="2.16.840.1.113883.6.1"/>
      <text>Coverage verified by phone.</text><statusCode code="completed"/></act></entryRelationship>
    <entryRelationship typeCode="REFR"><act classCode="ACT" moodCode="DEF">
      <id root="2.16.840.1.113883.19.5" extension="GOLD-PLAN"/><code nullFlavor="UNK"/>
      <text>Acme Gold Plan</text><statusCode code="active"/></act></entryRelationship>
  </act>"""
    text = POLICY.read_text(encoding="utf-8-sig").rstrip()
    assert text.endswith("</act>")
    bundle, report = convert_text(text[: -len("</act>")] + note)
    (cov,) = resources_of(bundle, "Coverage")
    assert validate(cov) == []
    assert cov["class"] == [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class",
                                                  "code": "plan", "display": "Plan"}]},
                             "value": "GOLD-PLAN", "name": "Acme Gold Plan"}]
    notes = [d for d in resources_of(bundle, "DocumentReference")
             if any(i.get("value") == "policy-note" for i in d.get("identifier", []))]
    assert len(notes) == 1
    assert not [i for i in report.issues if i.level in ("unmapped", "error")]


# The HL7 example of the Authorization Activity (C-CDA Examples, Guide Examples/Authorization
# Activity_2.16.840.1.113883.10.20.1.19, CC0), put where the Policy Activity example elides it.
AUTHORIZATION = """<act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.1.19"/>
  <id root="f4dce790-8328-11db-9fe1-0800200c9a66"/>
  <code nullFlavor="NA" />
  <entryRelationship typeCode="SUBJ">
    <procedure classCode="PROC" moodCode="PRMS">
      <code code="73761001" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Colonoscopy"/>
    </procedure>
  </entryRelationship>
</act>"""


def _policy_with(authorization: str) -> str:
    text = POLICY.read_text(encoding="utf-8-sig")
    start = text.index('<act classCode="ACT" moodCode="EVN">\n      <templateId root="2.16.840.1.113883.10.20.1.19" />')
    end = text.index("</act>", start) + len("</act>")
    return text[:start] + authorization + text[end:]


def test_authorized_service_is_a_service_request_on_the_coverage(validate):
    bundle, report = convert_text(_policy_with(AUTHORIZATION))
    (cov,) = resources_of(bundle, "Coverage")
    (sr,) = resources_of(bundle, "ServiceRequest")
    assert validate(sr) == []
    assert sr["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-servicerequest"]
    assert sr["code"] == {"coding": [{"system": "http://snomed.info/sct", "code": "73761001",
                                      "display": "Colonoscopy"}], "text": "Colonoscopy"}
    assert sr["intent"] == "plan"          # PRMS (promise) -> plan, as for every planned statement
    assert sr["status"] == "active"        # no statusCode: a planned statement is active
    assert sr["subject"] == {"reference": "Patient/p1"}
    assert sr["identifier"] == [{"system": "urn:ietf:rfc:3986",
                                 "value": "urn:uuid:f4dce790-8328-11db-9fe1-0800200c9a66"}]
    assert sr["insurance"] == [{"reference": f"Coverage/{cov['id']}"}]
    assert not [i for i in report.issues if i.template_id == "2.16.840.1.113883.10.20.1.19"]


def test_authorization_of_two_services_and_of_a_medication(validate):
    two = AUTHORIZATION.replace("</act>", """<entryRelationship typeCode="SUBJ">
    <procedure classCode="PROC" moodCode="PRMS"><id root="2.16.840.1.113883.19.5" extension="auth-2"/>
      <code code="80146002" codeSystem="2.16.840.1.113883.6.96" displayName="Appendectomy"/>
      <effectiveTime value="20240301"/></procedure></entryRelationship>
  <entryRelationship typeCode="SUBJ">
    <substanceAdministration classCode="SBADM" moodCode="PRMS"><consumable><manufacturedProduct>
      <manufacturedMaterial><code code="197361" codeSystem="2.16.840.1.113883.6.88"/></manufacturedMaterial>
      </manufacturedProduct></consumable></substanceAdministration></entryRelationship>
</act>""")
    bundle, report = convert_text(_policy_with(two))
    (cov,) = resources_of(bundle, "Coverage")
    srs = {r["code"]["coding"][0]["code"]: r for r in resources_of(bundle, "ServiceRequest")}
    assert set(srs) == {"73761001", "80146002"}
    appendectomy = srs["80146002"]
    assert validate(appendectomy) == []
    assert appendectomy["occurrenceDateTime"] == "2024-03-01"
    assert appendectomy["identifier"] == [
        {"system": "urn:oid:2.16.840.1.113883.19.5", "value": "auth-2"},
        {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:f4dce790-8328-11db-9fe1-0800200c9a66"}]
    assert all(r["insurance"] == [{"reference": f"Coverage/{cov['id']}"}] for r in srs.values())
    assert srs["73761001"]["id"] != appendectomy["id"]
    assert [i.level for i in report.issues
            if "authorized by an Authorization Activity is a substanceAdministration" in i.reason] == ["unmapped"]


@needs_corpus
def test_c32_authorization_once_per_policy(validate):
    path = CORPUS / "amida-blue-button" / "example" / "C32.xml"
    bundle, report = ccda2fhir.convert(path.read_bytes(), "p1", report=True)
    (cov,) = resources_of(bundle, "Coverage")
    (sr,) = [r for r in resources_of(bundle, "ServiceRequest") if r.get("insurance")]
    assert validate(sr) == []
    assert sr["insurance"] == [{"reference": f"Coverage/{cov['id']}"}]
    assert sr["code"]["coding"][0]["code"] == "73761001"
    assert not [i for i in report.issues if "Authorization" in i.reason]


def test_planned_coverage_is_the_insurance_of_its_planned_statements(validate):
    path = FIXTURES / "hl7-c-cda-examples" / "Documents" / "Care Plan" / "Care_Plan.xml"
    bundle, report = ccda2fhir.convert(path.read_bytes(), "p1", report=True)
    # three planned statements name the same Planned Coverage (same id, same content): one Coverage
    (cov,) = resources_of(bundle, "Coverage")
    assert validate(cov) == []
    assert cov["identifier"] == [{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:03f5e10b-7e79-4610-9626-d2984ff10cc1"},
                                 {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:4c9a3be1-5f09-46dd-88e7-14c8ec612e4c"}]
    assert cov["status"] == "active"
    assert cov["type"]["coding"] == [{"system": "https://nahdo.org/sopt", "code": "111", "display": "Medicare HMO"}]
    assert cov["beneficiary"] == {"reference": "Patient/p1"}
    assert "meta" not in cov          # no relationship: not claimed as US Core Coverage
    insured = sorted(r["code"]["coding"][0]["code"] for r in resources_of(bundle, "ServiceRequest")
                     if r.get("insurance") == [{"reference": f"Coverage/{cov['id']}"}])
    assert insured == ["371907003", "423171007", "71850-2"]
    assert not [i for i in report.issues if i.level in ("unmapped", "error") and i.line in (977, 983, 1018, 1024)]


def test_planned_coverage_alone_is_kept_and_reported(validate):
    text = """<act classCode="ACT" moodCode="INT">
  <templateId root="2.16.840.1.113883.10.20.22.4.129" />
  <id root="03f5e10b-7e79-4610-9626-d2984ff10cc1" />
  <code code="48768-6" codeSystem="2.16.840.1.113883.6.1" displayName="Payment Sources" />
  <statusCode code="active" />
  <entryRelationship typeCode="COMP">
    <act classCode="ACT" moodCode="INT">
      <id root="4c9a3be1-5f09-46dd-88e7-14c8ec612e4c" />
      <code code="111" displayName="Medicare HMO" codeSystem="2.16.840.1.113883.3.221.5" />
      <statusCode code="active" />
    </act>
  </entryRelationship>
</act>"""
    bundle, report = convert_text(text)
    (cov,) = resources_of(bundle, "Coverage")
    assert validate(cov) == []
    assert cov["type"]["coding"][0]["code"] == "111"
    assert [i.level for i in report.issues if "Planned Coverage outside a planned statement" in i.reason] == ["partial"]
    assert not [i for i in report.issues if i.level in ("unmapped", "error")]


def test_coverage_activity_effective_time_is_the_lists_date(validate):
    """C-CDA 3.0 Coverage Activity effectiveTime: when coverage was checked -> List.date."""
    policy = POLICY.read_text(encoding="utf-8-sig")
    activity = f"""<act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.60" extension="2024-05-01"/>
  <id root="1fe2cdd0-7aad-11db-9fe1-0800200c9a66"/>
  <code code="48768-6" codeSystem="2.16.840.1.113883.6.1" displayName="Payment sources"/>
  <statusCode code="completed"/><effectiveTime value="20230501"/>
  <entryRelationship typeCode="COMP"><sequenceNumber value="1"/>{policy}</entryRelationship></act>"""
    bundle, _ = convert_text(activity)
    (cov,) = [c for c in resources_of(bundle, "Coverage") if c.get("meta")]
    (group,) = [r for r in resources_of(bundle, "List")
                if r["identifier"][0]["value"] == "urn:uuid:1fe2cdd0-7aad-11db-9fe1-0800200c9a66"]
    assert validate(group) == []
    assert group["date"] == "2023-05-01"
    assert group["entry"] == [{"item": {"reference": f"Coverage/{cov['id']}"}}]
    assert cov["order"] == 1
