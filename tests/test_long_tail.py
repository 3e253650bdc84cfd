"""The long tail: templates no section owner maps (templates/routes/long_tail.toml)."""
from __future__ import annotations

import re
from collections import Counter


import ccda2fhir
from conftest import CORPUS, FIXTURES, corpus_documents, needs_corpus, resolve, resources_of
from support.wrap import wrap_fragment

EX = FIXTURES / "hl7-c-cda-examples"
GUIDE = EX / "Guide Examples"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
OBS_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"


def guide(name: str) -> str:
    [path] = [p for d in GUIDE.glob(f"{name}*") for p in d.glob("*.xml")]
    return path.read_text(encoding="utf-8-sig")


def statement(xml: str, element: str) -> str:
    """The first <element>...</element> of a guide example (they ship as bare fragments)."""
    xml = re.sub(r"<!--.*?-->", "", xml, flags=re.S)
    m = re.search(rf"<{element}[\s>].*?</{element}>", xml, re.S)
    assert m, element
    return m.group(0)


def convert(xml: str, validate):
    b, report = ccda2fhir.convert(xml.encode(), "test-patient", report=True)
    for r in resources_of(b):
        assert validate(r) == [], (r["resourceType"], validate(r))
    return b, report


def codes(cc):
    return [(c.get("system"), c.get("code")) for c in (cc or {}).get("coding", [])]


def generic(report, template_id):
    return [i for i in report.issues if i.template_id == template_id
            and (i.level == "unmapped" or "no specific mapping" in i.reason)]


# ------------------------------------------------------------------ DS4P security labels
def test_security_observations_label_the_annotated_result(validate):
    path = EX / "General" / "Share With Patient or Proxy" / "Share with Patient or Proxy (C-CDAR2.1).xml"
    b, report = convert(wrap_fragment(path.read_text(encoding="utf-8-sig")), validate)
    [dr] = resources_of(b, "DiagnosticReport")
    assert codes(dr["code"]) == [(LOINC, "89365-1")]
    # the two Security Observations (445.21) in the result organizer -> its meta.security
    assert [(c["system"], c["code"]) for c in dr["meta"]["security"]] == [
        (OBS_VALUE, "NOPAT"), (OBS_VALUE, "NOAUTH")]
    # no Observation is made of a label
    assert not [o for o in resources_of(b, "Observation") if "SECCONOBS" in str(o)]
    assert not generic(report, "2.16.840.1.113883.3.445.21")


PRIVACY_ORGANIZER = """<entryRelationship typeCode="COMP"><organizer classCode="CLUSTER" moodCode="EVN">
  <templateId root="2.16.840.1.113883.3.3251.1.4"/><statusCode code="active"/>
  <component><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.3.445.21"/>
    <templateId root="2.16.840.1.113883.3.445.12"/>
    <code code="SECCLASSOBS" codeSystem="2.16.840.1.113883.1.11.20457"/>
    <value xsi:type="CE" code="R" codeSystem="2.16.840.1.113883.5.25"/></observation></component>
  <component><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.3.445.21"/>
    <templateId root="2.16.840.1.113883.3.445.22"/>
    <code code="SECCONOBS" codeSystem="2.16.840.1.113883.1.11.20457"/>
    <value xsi:type="CE" code="TREAT" codeSystem="2.16.840.1.113883.5.1063"/></observation></component>
</organizer></entryRelationship>"""


def test_privacy_annotations_organizer_on_an_observation(validate):
    # Health Status Observation (HL7 guide example) carrying a privacy annotations organizer
    obs = statement(guide("Health Status Observation"), "observation")
    obs = obs.replace("</observation>", PRIVACY_ORGANIZER + "</observation>")
    b, report = convert(wrap_fragment(obs, "11450-4"), validate)
    [o] = [o for o in resources_of(b, "Observation") if codes(o["code"]) == [(LOINC, "11323-3")]]
    assert o["meta"]["security"] == [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"},
        {"system": OBS_VALUE, "code": "TREAT"}]
    assert not generic(report, "2.16.840.1.113883.3.3251.1.4")


def test_document_level_privacy_annotations_label_the_composition(validate):
    section = ('<section><templateId root="2.16.840.1.113883.3.3251.1.5"/><code code="57017-6" '
               'codeSystem="2.16.840.1.113883.6.1"/><title>Privacy</title><text>Restricted</text><entry>'
               + PRIVACY_ORGANIZER.replace("entryRelationship", "x-er").replace("<x-er typeCode=\"COMP\">", "")
               .replace("</x-er>", "") + "</entry></section>")
    b, report = convert(wrap_fragment(section), validate)
    [comp] = resources_of(b, "Composition")
    assert {c["code"] for c in comp["meta"]["security"]} == {"R", "TREAT"}
    # mapped into the Composition, so not reported as an entry nothing maps
    assert not [i for i in report.issues if i.level == "unmapped"]


# ------------------------------------------------------------------ Health Status, Priority Preference
def test_health_status_observation(validate):
    b, report = convert(wrap_fragment(statement(guide("Health Status Observation"), "observation")), validate)
    [o] = resources_of(b, "Observation")
    assert codes(o["code"]) == [(LOINC, "11323-3")]
    assert codes(o["valueCodeableConcept"]) == [(SNOMED, "81323004")]
    assert o["status"] == "final"
    assert o["subject"] == {"reference": "Patient/test-patient"}
    assert not generic(report, "2.16.840.1.113883.10.20.22.4.5")


def test_priority_preference_standing_alone(validate):
    b, report = convert(wrap_fragment(statement(guide("Priority Preference"), "observation"), "18776-5"),
                        validate)
    [o] = resources_of(b, "Observation")
    assert o["identifier"] == [{"system": "urn:ietf:rfc:3986",
                                "value": "urn:uuid:7d66f448-ba82-4291-a9da-9e5db5e58803"}]
    assert codes(o["code"]) == [(SNOMED, "225773000")]
    assert codes(o["valueCodeableConcept"]) == [(SNOMED, "394849002")]
    assert not generic(report, "2.16.840.1.113883.10.20.22.4.143")


# ------------------------------------------------------------------ Indication
def test_indication_standing_alone_is_a_condition(validate):
    ind = statement(guide("Indication (V2)"), "observation")
    b, report = convert(wrap_fragment(ind, "8716-3"), validate)
    [c] = resources_of(b, "Condition")
    assert codes(c["code"]) == [(SNOMED, "32398004")]                 # value Bronchitis
    assert c["identifier"] == [{"system": "urn:ietf:rfc:3986",
                                "value": "urn:uuid:db734647-fc99-424c-a864-7e3cda82e703"}]
    assert c["category"][0]["coding"][0]["code"] == "problem-list-item"
    assert not resources_of(b, "Observation")
    assert not generic(report, "2.16.840.1.113883.10.20.22.4.19")


def test_indication_pointing_at_a_problem_in_a_vital_sign(validate):
    # An Indication in a vital sign (ONC validator documents do this) whose id is a problem's id:
    # the problem is the Condition; the indication makes nothing of its own and is reported.
    ind = statement(guide("Indication (V2)"), "observation")
    ind = re.sub(r"<value .*?/>", "", ind, flags=re.S)
    problem = """<act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.3"/>
      <id root="1.2.3.4" extension="concern"/><code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
      <statusCode code="active"/><effectiveTime><low value="20120806"/></effectiveTime>
      <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="db734647-fc99-424c-a864-7e3cda82e703"/>
      <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>
      <effectiveTime><low value="20120806"/></effectiveTime>
      <value xsi:type="CD" code="32398004" codeSystem="2.16.840.1.113883.6.96" displayName="Bronchitis"/>
      </observation></entryRelationship></act>"""
    vital = f"""<observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.27"/>
      <id root="1.2.3.4" extension="hr"/><code code="8867-4" codeSystem="2.16.840.1.113883.6.1"/>
      <statusCode code="completed"/><effectiveTime value="20120806"/>
      <value xsi:type="PQ" value="80" unit="/min"/>
      <entryRelationship typeCode="RSON">{ind}</entryRelationship></observation>"""
    xml = wrap_fragment(f"<entry>{problem}</entry><entry>{vital}</entry>", "8716-3")
    b, report = convert(xml, validate)
    [c] = resources_of(b, "Condition")
    assert codes(c["code"]) == [(SNOMED, "32398004")]
    [hr] = [o for o in resources_of(b, "Observation") if codes(o["code"]) == [(LOINC, "8867-4")]]
    assert hr["valueQuantity"]["value"] == 80
    assert len(resources_of(b, "Observation")) == 1             # no Observation made of the pointer
    [w] = [i for i in report.issues if "indication points at" in i.reason]
    assert f"Condition/{c['id']}" in w.reason and "observation holding it has no element" in w.reason


# ------------------------------------------------------------------ Substance Administered Act, Drug Monitoring
def test_substance_administered_act_is_an_earlier_dose(validate):
    sa = guide("Substance Administered Act").replace("...", "")
    sa = sa.replace('<substanceAdministration classCode="SBADM" moodCode="EVN">',
                    '<substanceAdministration classCode="SBADM" moodCode="EVN" negationInd="false">'
                    '<templateId root="2.16.840.1.113883.10.20.22.4.52" extension="2015-08-01"/>'
                    '<id root="1.2.3.4" extension="imm-3"/><statusCode code="completed"/>'
                    '<effectiveTime value="20000501"/>')
    sa = sa.replace("<consumable>", "<consumable><manufacturedProduct classCode=\"MANU\">"
                    "<manufacturedMaterial>").replace("</consumable>",
                                                      "</manufacturedMaterial></manufacturedProduct></consumable>")
    b, report = convert(wrap_fragment(sa, "11369-6"), validate)
    imms = {i["occurrenceDateTime"]: i for i in resources_of(b, "Immunization")}
    assert set(imms) == {"2000-05-01", "1999-11-01"}
    earlier = imms["1999-11-01"]                                   # the act's effectiveTime
    assert codes(earlier["vaccineCode"]) == [("http://hl7.org/fhir/sid/cvx", "43")]
    assert earlier["protocolApplied"] == [{"doseNumberPositiveInt": 2}]   # sequenceNumber
    assert earlier["status"] == "completed"
    assert earlier["identifier"] == [{"system": "urn:ietf:rfc:3986",
                                      "value": "urn:uuid:df8908d0-40f2-11e3-aa6e-0800200c9a66"}]
    assert not generic(report, "2.16.840.1.113883.10.20.22.4.118")


def test_drug_monitoring_act(validate):
    act = statement(guide("Drug Monitoring Act"), "act")
    b, report = convert(wrap_fragment(act, "18776-5"), validate)
    [sr] = resources_of(b, "ServiceRequest")
    assert codes(sr["code"]) == [(SNOMED, "395170001")]
    assert sr["occurrencePeriod"] == {"start": "2013-06-15", "end": "2013-07-15"}
    assert sr["intent"] == "plan"                                  # moodCode INT
    [who] = [resolve(b, r) for r in sr["performer"]]                # participant RESP
    assert who["resourceType"] == "Practitioner"
    assert who["name"] == [{"family": "Larry", "given": ["Listener"], "prefix": ["DR"]}]
    assert not generic(report, "2.16.840.1.113883.10.20.22.4.123")


# ------------------------------------------------------------------ wounds (Referral Note, Physical Exam)
def test_wound_and_pressure_ulcer_observations(validate):
    path = EX / "Documents" / "Referral Note" / "Referral_Note.xml"
    b, report = convert(path.read_text(encoding="utf-8-sig"), validate)
    obs = {codes(o["code"])[0][1]: o for o in resources_of(b, "Observation") if o.get("code", {}).get("coding")}
    assert obs["401239006"]["valueQuantity"] == {"value": 1, "unit": "[in_i]",
                                                 "system": "http://unitsofmeasure.org", "code": "[in_i]"}
    assert obs["401238003"]["valueQuantity"]["value"] == 2          # Wound Measurement 4.133
    assert obs["75277-4"]["valueInteger"] == 3                      # Number of Pressure Ulcers 4.76
    assert codes(obs["420905001"]["valueCodeableConcept"]) == [(SNOMED, "421306004")]   # 4.77
    # Longitudinal Care Wound Observation 4.114 (a Problem Observation of a wound) -> Condition
    [wound] = [c for c in resources_of(b, "Condition")
               if {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:ab1791b0-5c71-11db-b0de-0800200c9a66"}
               in c["identifier"] and "425144005" in str(c["code"])]
    assert wound["clinicalStatus"]["coding"][0]["code"] == "active"
    for tid in ("4.114", "4.133", "4.134", "4.76", "4.77"):
        assert not generic(report, "2.16.840.1.113883.10.20.22." + tid), tid


# ------------------------------------------------------------------ whole corpus
LONG_TAIL = {"2.16.840.1.113883.3.445.21", "2.16.840.1.113883.3.3251.1.4", "2.16.840.1.113883.10.20.22.4.19",
             "2.16.840.1.113883.10.20.22.4.5", "2.16.840.1.113883.10.20.22.4.143",
             "2.16.840.1.113883.10.20.22.4.118", "2.16.840.1.113883.10.20.22.4.123",
             "1.2.840.114350.1.72.3.7", "1.2.840.114350.1.72.6.1", "2.16.840.1.113883.10.20.1.56",
             "2.16.840.1.113883.10.20.1.44", "2.16.840.1.113883.10.20.22.4.86"}


@needs_corpus
def test_corpus_long_tail_templates_are_mapped():
    left = Counter()
    for p in corpus_documents():
        try:
            _, report = ccda2fhir.convert(p.read_bytes(), "x", report=True)
        except ccda2fhir.ConversionError:
            continue
        for i in report.issues:
            if i.template_id in LONG_TAIL and "no specific mapping" in i.reason:
                left[i.template_id] += 1
    assert not left, left


@needs_corpus
def test_r11_social_history_status_is_a_component(validate):
    path = CORPUS / "chb-sample-ccdas" / "Greenway Samples" / "26562_ExportSummary_CCDA.xml"
    b, report = ccda2fhir.convert(path.read_bytes(), "x", report=True)
    smoking = [o for o in resources_of(b, "Observation")
               if (o.get("valueCodeableConcept") or {}).get("coding", [{}])[0].get("code") == "428041000124106"]
    assert smoking
    for o in smoking:
        assert validate(o) == []
        assert {"code": {"coding": [{"system": LOINC, "code": "33999-4", "display": "Status"}], "text": "Status"},
                "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "55561003", "display": "active"}],
                                         "text": "active"}} in o["component"]
    assert not generic(report, "2.16.840.1.113883.10.20.1.56")


@needs_corpus
def test_epic_goal_type_is_a_goal_category(validate):
    docs = [p for p in corpus_documents() if b'1.2.840.114350.1.72.6.1"' in p.read_bytes()]
    assert docs
    b, report = ccda2fhir.convert(docs[0].read_bytes(), "x", report=True)
    cats = [c for g in resources_of(b, "Goal") for c in g.get("category", [])]
    assert {"system": "urn:oid:1.2.840.114350.1.72.1.9", "code": "8"} in [
        {k: v for k, v in c["coding"][0].items() if k != "display"} for c in cats]
    for g in resources_of(b, "Goal"):
        assert validate(g) == []
    assert not generic(report, "1.2.840.114350.1.72.6.1")


@needs_corpus
def test_dir_findings_and_procedure_context(validate):
    path = CORPUS / "chb-sample-ccdas" / "HL7 Samples" / "DIR.sample.xml"
    b, report = ccda2fhir.convert(path.read_bytes(), "x", report=True)
    DCM = "http://dicom.nema.org/resources/ontology/DCM"
    obs = {codes(o["code"])[0]: o for o in resources_of(b, "Observation") if o["code"].get("coding")}
    impression = obs[(DCM, "121073")]                       # Text Observation 6.2.12, value ED -> narrative
    assert impression["valueString"].startswith("No acute cardiopulmonary process.")
    size = obs[(SNOMED, "246120007")]                        # Quantity Measurement 6.2.14
    assert size["valueQuantity"] == {"value": 45, "unit": "mm", "system": "http://unitsofmeasure.org",
                                     "code": "mm"}
    assert size["effectiveDateTime"] == "2006-08-23"         # 20060823223912 (no offset -> date)
    [proc] = [p for p in resources_of(b, "Procedure") if "70548" in str(p["code"])]   # Procedure Context 6.2.5
    assert proc["performedDateTime"] == "2006-08-23"
    for r in (impression, size, proc):
        assert validate(r) == []
    for tid in ("6.2.12", "6.2.14", "6.2.5"):
        assert not generic(report, "2.16.840.1.113883.10.20." + tid), tid
    # DICOM Object Catalog Study Act 6.2.6 -> ImagingStudy with its series and SOP instances
    [study] = resources_of(b, "ImagingStudy")
    assert validate(study) == []
    assert study["identifier"] == [{"system": "urn:dicom:uid",
                                    "value": "urn:oid:1.2.840.113619.2.62.994044785528.114289542805"}]
    [series] = study["series"]
    assert series["uid"] == "1.2.840.113619.2.62.994044785528.20060823223142485051"
    assert series["modality"]["code"] == "CR" and series["modality"]["system"] == DCM
    assert [i["uid"] for i in series["instance"]] == [
        "1.2.840.113619.2.62.994044785528.20060823.200608232232322.3",
        "1.2.840.113619.2.62.994044785528.20060823.200608232231422.3"]
    assert series["instance"][0]["sopClass"] == {"system": "urn:ietf:rfc:3986",
                                                 "code": "urn:oid:1.2.840.10008.5.1.4.1.1.1"}
    assert study["numberOfInstances"] == 2
    assert study["modality"] == [series["modality"]]
    # the finding's SOP Instance reference (6.2.8 in the Quantity Measurement): derivedFrom the
    # ImagingStudy listing that instance, no Observation of its own; frames and purpose reported
    assert size["derivedFrom"] == [{"reference": f"ImagingStudy/{study['id']}"}]
    assert (DCM, "121190") not in obs and (DCM, "113036") not in obs
    assert not [o for o in resources_of(b, "Observation") if "121112" in str(o)]
    [lost] = [i for i in report.issues if i.reason.startswith("image reference:")]
    assert "Referenced Frames (121190)" in lost.reason and "Source of Measurement (121112)" in lost.reason
    for tid in ("6.2.8", "6.2.9", "6.2.10", "6.2.11"):
        assert not generic(report, "2.16.840.1.113883.10.20." + tid), tid


# ------------------------------------------------------------------ CCD 1.0 Purpose Activity
PURPOSE = """<section>
  <templateId root="2.16.840.1.113883.10.20.1.13"/>
  <code code="48764-5" codeSystem="2.16.840.1.113883.6.1"/>
  <title>Summary Purpose</title>
  <text>Transfer of care<content ID="c1">Not the complete legal health record.</content></text>
  <entry typeCode="DRIV">
    <act classCode="ACT" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.1.30"/>
      <code code="23745001" codeSystem="2.16.840.1.113883.6.96" displayName="Documentation procedure"/>
      <statusCode code="completed"/>
      <entryRelationship typeCode="RSON">
        <act classCode="ACT" moodCode="EVN">
          <code code="308292007" codeSystem="2.16.840.1.113883.6.96" displayName="Transfer of care"/>
          <statusCode code="completed"/>
          {inner}
        </act>
      </entryRelationship>
    </act>
  </entry>
</section>"""
COMMENT = """<entryRelationship typeCode="SUBJ" inversionInd="true"><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.1.40"/>
  <code code="48767-8" codeSystem="2.16.840.1.113883.6.1" displayName="Annotation Comment"/>
  <text><reference value="#c1"/></text><statusCode code="completed"/></act></entryRelationship>"""


def test_purpose_activity_is_a_documentation_procedure_with_its_reason(validate):
    b, report = convert(wrap_fragment(PURPOSE.replace("{inner}", COMMENT)), validate)
    [proc] = resources_of(b, "Procedure")
    assert proc["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-procedure"]
    assert codes(proc["code"]) == [(SNOMED, "23745001")]
    assert proc["status"] == "completed"
    assert proc["reasonCode"] == [{"coding": [{"system": SNOMED, "code": "308292007", "display": "Transfer of care"}],
                                   "text": "Transfer of care"}]
    assert proc["note"] == [{"text": "Not the complete legal health record."}]
    assert proc["_performedDateTime"]["extension"][0]["valueCode"] == "unknown"   # no effectiveTime
    assert "performedDateTime" not in proc
    assert not [i for i in report.issues if i.level in ("unmapped", "error")]
    assert not generic(report, "2.16.840.1.113883.10.20.1.30")


def test_purpose_reason_naming_a_problem_elsewhere_is_a_reference(validate):
    problem = """<component><section><code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/><title>Problems</title>
      <entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.3"/>
        <id root="2.16.840.1.113883.19" extension="concern-1"/><code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
        <statusCode code="active"/><effectiveTime><low value="20200101"/></effectiveTime>
        <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
          <templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="2.16.840.1.113883.19" extension="prob-1"/>
          <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>
          <effectiveTime><low value="20200101"/></effectiveTime>
          <value xsi:type="CD" code="38341003" codeSystem="2.16.840.1.113883.6.96" displayName="Hypertension"/>
        </observation></entryRelationship></act></entry></section></component>"""
    reason = """<entryRelationship typeCode="RSON"><observation classCode="OBS" moodCode="EVN">
      <id root="2.16.840.1.113883.19" extension="prob-1"/><code nullFlavor="NA"/></observation></entryRelationship>"""
    purpose = PURPOSE.replace("{inner}", "").replace("</act>\n      </entryRelationship>\n    </act>",
                                                     "</act>\n      </entryRelationship>\n" + reason + "\n    </act>")
    b, _ = convert(wrap_fragment(f"<component>{purpose}</component>{problem}"), validate)
    [proc] = resources_of(b, "Procedure")
    [cond] = resources_of(b, "Condition")
    assert proc["reasonReference"] == [{"reference": f"Condition/{cond['id']}"}]
    assert codes(proc["reasonCode"][0]) == [(SNOMED, "308292007")]


# ------------------------------------------------------------------ CCD 1.0 Episode Observation
EPISODE = """<entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.1.41"/>
  <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
  <statusCode code="completed"/>
  <value xsi:type="CD" code="404684003" codeSystem="2.16.840.1.113883.6.96" displayName="Clinical finding">
    <qualifier><name code="246456000" displayName="Episodicity"/>
      <value code="288527008" codeSystem="2.16.840.1.113883.6.96" displayName="New episode"/></qualifier>
  </value>
  <entryRelationship typeCode="SAS"><observation classCode="OBS" moodCode="EVN">
    <id root="9b56c25d-9104-45ee-9fa4-e0f3afaa01c1"/>
    <code code="230056004" codeSystem="2.16.840.1.113883.6.96" displayName="Cigarette smoking"/>
  </observation></entryRelationship>
</observation></entryRelationship>"""


def _smoking(oid: str, low: str, extra: str = "") -> str:
    return f"""<entry><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.1.33"/><id root="{oid}"/>
  <code code="230056004" codeSystem="2.16.840.1.113883.6.96" displayName="Cigarette smoking"/>
  <statusCode code="completed"/><effectiveTime><low value="{low}"/></effectiveTime>
  <value xsi:type="ST">1 pack per day</value>{extra}</observation></entry>"""


def test_episode_observation_qualifier_is_a_component_focused_on_its_holder(validate):
    section = f"""<section><templateId root="2.16.840.1.113883.10.20.1.15"/>
  <code code="29762-2" codeSystem="2.16.840.1.113883.6.1"/><title>Social History</title>
  {_smoking("9b56c25d-9104-45ee-9fa4-e0f3afaa01c1", "1947")}
  {_smoking("45efb604-7049-4a2e-ad33-d38556c9636c", "1973", EPISODE)}</section>"""
    b, report = convert(wrap_fragment(section), validate)
    obs = resources_of(b, "Observation")
    [episode] = [o for o in obs if codes(o["code"]) == [("http://terminology.hl7.org/CodeSystem/v3-ActCode", "ASSERTION")]]
    smoking = {o["identifier"][0]["value"]: o for o in obs if o.get("identifier")}
    assert len(obs) == 3    # the SAS pointer is no Observation of its own
    assert episode["focus"] == [{"reference": "Observation/" + smoking["urn:uuid:45efb604-7049-4a2e-ad33-d38556c9636c"]["id"]}]
    assert codes(episode["valueCodeableConcept"]) == [(SNOMED, "404684003")]
    assert episode["component"] == [{
        "code": {"coding": [{"code": "246456000", "display": "Episodicity"}], "text": "Episodicity"},
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "288527008", "display": "New episode"}],
                                 "text": "New episode"}}]
    earlier = smoking["urn:uuid:9b56c25d-9104-45ee-9fa4-e0f3afaa01c1"]["id"]
    assert [i.level for i in report.issues if "earlier episode (Observation/" + earlier in i.reason] == ["partial"]
    assert not generic(report, "2.16.840.1.113883.10.20.1.41")
    assert not [i for i in report.issues if i.level in ("unmapped", "error")]


@needs_corpus
def test_c32_episode_of_a_problem_focuses_on_its_condition(validate):
    path = CORPUS / "amida-blue-button" / "example" / "C32.xml"
    b, report = ccda2fhir.convert(path.read_bytes(), "x", report=True)
    episodes = [o for o in resources_of(b, "Observation") if o["code"]["coding"][0]["code"] == "ASSERTION"]
    assert len(episodes) == 2
    targets = sorted(resolve(b, e["focus"][0])["resourceType"] for e in episodes)
    assert targets == ["Condition", "Observation"]
    for e in episodes:
        assert validate(e) == []
        assert e["component"][0]["valueCodeableConcept"]["coding"][0]["code"] == "288527008"
    assert not generic(report, "2.16.840.1.113883.10.20.1.41")


# ------------------------------------------------------------------ IHE PCC References entry
def test_ihe_references_entry_is_a_document_related_to_its_holder(validate):
    procedure = """<entry><procedure classCode="PROC" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.1.29"/><id root="e401f340-7be2-11db-9fe1-0800200c9a66"/>
  <code code="52734007" codeSystem="2.16.840.1.113883.6.96" displayName="Total hip replacement"/>
  <statusCode code="completed"/><effectiveTime value="1998"/>
  <entryRelationship typeCode="REFR"><act classCode="ACT" moodCode="EVN">
    <templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.4"/><id/><code nullFlavor="NA"/>
    <reference typeCode="REFR"><externalDocument classCode="DOC" moodCode="EVN">
      <id root="2.16.840.1.113883.19.5" extension="op-note-1"/>
      <text>Location of Documentation - URL or other</text></externalDocument></reference>
    <reference typeCode="REFR"><externalDocument classCode="DOC" moodCode="EVN">
      <id root="2.16.840.1.113883.19.5" extension="op-note-2"/>
      <text mediaType="application/pdf"><reference value="http://example.org/op-note-2.pdf"/></text>
    </externalDocument></reference>
  </act></entryRelationship></procedure></entry>"""
    b, report = convert(wrap_fragment(procedure, "47519-4"), validate)
    [proc] = resources_of(b, "Procedure")
    docs = {d["masterIdentifier"]["value"]: d for d in resources_of(b, "DocumentReference")
            if d.get("masterIdentifier") and d["masterIdentifier"]["value"] != "fragment-test"}   # the source document's
    assert set(docs) == {"op-note-1", "op-note-2"}
    assert docs["op-note-1"]["content"] == [{"attachment": {"title": "Location of Documentation - URL or other"}}]
    assert docs["op-note-2"]["content"] == [{"attachment": {"contentType": "application/pdf",
                                                            "url": "http://example.org/op-note-2.pdf"}}]
    for d in docs.values():
        assert d["context"]["related"] == [{"reference": f"Procedure/{proc['id']}"}]
        assert d["status"] == "current" and d["subject"] == {"reference": "Patient/test-patient"}
    assert not generic(report, "1.3.6.1.4.1.19376.1.5.3.1.4.4")


def test_image_reference_to_an_instance_no_study_lists_is_reported(validate):
    finding = """<entry><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.6.2.14"/><id root="2.16.840.1.113883.19.5" extension="size-1"/>
  <code code="246120007" codeSystem="2.16.840.1.113883.6.96" displayName="Nodule size"/>
  <statusCode code="completed"/><effectiveTime value="20060823"/><value xsi:type="PQ" value="45" unit="mm"/>
  <entryRelationship typeCode="SUBJ"><observation classCode="DGIMG" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.6.2.8"/><id root="1.2.840.113619.2.62.1.2.3"/>
    <code code="1.2.840.10008.5.1.4.1.1.1" codeSystem="1.2.840.10008.2.6.1"/>
  </observation></entryRelationship></observation></entry>"""
    b, report = convert(wrap_fragment(finding, "18782-3"), validate)
    [size] = resources_of(b, "Observation")
    assert "derivedFrom" not in size and size["valueQuantity"]["value"] == 45
    assert [i.level for i in report.issues if "no Study Act of the document lists" in i.reason] == ["partial"]
    assert not generic(report, "2.16.840.1.113883.10.20.6.2.8")
