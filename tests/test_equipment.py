"""Medical Equipment: Product Instance -> Device (US Core Implantable Device with a UDI),
Non-Medicinal Supply / implant procedures -> DeviceUseStatement, Medical Equipment Organizer -> List."""
from __future__ import annotations

from pathlib import Path

import ccda2fhir
from tests.conftest import CORPUS, FIXTURES, needs_corpus, resolve, resources_of
from tests.support.wrap import wrap_fragment
from tests.support.fragments import convert_example

EQ = FIXTURES / "hl7-c-cda-examples" / "Medical Equipment"
SNOMED = "http://snomed.info/sct"
IMPLANTABLE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-implantable-device"


def convert_fragment(path: Path, section_code: str = "46264-8"):
    return convert_example(Path(path), section_code, report=True)


def test_implant_with_udi_organizer(validate):
    bundle, report = convert_fragment(EQ / "Implant UDI Organizer" / "Implant UDI Organizer (C-CDA R2.1).xml")
    (dus,) = resources_of(bundle, "DeviceUseStatement")
    assert validate(dus) == []
    assert dus["identifier"] == [{"system": "urn:oid:1.2.840.114350.1.13.5552.1.7.2.737780", "value": "6239942"}]
    assert dus["status"] == "active"          # implant procedure completed, device status Active
    assert dus["subject"] == {"reference": "Patient/p1"}
    device = resolve(bundle, dus["device"])
    assert validate(device) == []
    assert device["meta"]["profile"] == [IMPLANTABLE]
    hrf = "(01)00848486001048(11)181015(10)ABC999(21)bi12342222(17)221015"
    assert device["udiCarrier"] == [{"deviceIdentifier": "00848486001048",
                                     "issuer": "http://hl7.org/fhir/NamingSystem/gs1-di",
                                     "jurisdiction": "http://hl7.org/fhir/NamingSystem/fda-udi",
                                     "carrierHRF": hrf}]
    assert device["lotNumber"] == "ABC999"
    assert device["serialNumber"] == "bi12342222"
    assert device["manufactureDate"] == "2018-10-15"
    assert device["expirationDate"] == "2022-10-15"
    assert device["status"] == "active"
    # the source status observation kept as written beside the FHIR status
    # (and the safety observations with the question each answers: see PROPERTY_OBS)
    props = {p["type"]["coding"][0]["code"]: p for p in device["property"]}
    assert set(props) >= {"C160939", "C160938", "C106044"}      # status, latex, MRI safety
    assert props["C106044"]["valueCode"][0]["coding"][0]["code"] == "C113844"
    prop = props["C160939"]
    assert prop["valueCode"][0]["coding"][0] == {"system": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
                                                 "code": "C45329", "display": "Active"}
    assert device["type"]["coding"] == [{"system": SNOMED, "code": "2282003", "display": "Breast Implant"}]
    assert device["patient"] == {"reference": "Patient/p1"}
    assert {"name": "Example BrandName", "type": "udi-label-name"} in device["deviceName"]
    assert device["modelNumber"] == "Example Model Number"
    assert device["manufacturer"] == "Example Company Name"
    safety = [c["coding"][0]["code"] for c in device["safety"]]
    assert safety == ["C106038", "C113844"]          # latex, MRI safety
    proc = resolve(bundle, dus["derivedFrom"][0])
    assert proc["resourceType"] == "Procedure"
    assert not [i for i in report.issues if i.level in ("unmapped", "error")]


def test_supplies_cane_and_eyeglasses(validate):
    bundle, _ = convert_fragment(EQ / "Non-Medicinal Supply - Cane and Eyeglasses" /
                                 "Non-Medicinal Supply - Cane and Eyeglasses (C-CDAR2.1).xml")
    uses = resources_of(bundle, "DeviceUseStatement")
    assert len(uses) == 2
    devices = {resolve(bundle, u["device"])["type"]["coding"][0]["code"]: u for u in uses}
    # <id root=".." nullFlavor="UNK"/> on both products identifies nothing: two devices, not one
    assert set(devices) == {"50121007", "87405001"}
    assert devices["50121007"]["timingPeriod"] == {"start": "2000-01-13"}
    assert devices["87405001"]["timingPeriod"] == {"start": "2016-04-13"}
    for u in uses:
        assert u["status"] == "active"
        assert "derivedFrom" not in u
        assert validate(u) == [] and validate(resolve(bundle, u["device"])) == []
        assert "identifier" not in resolve(bundle, u["device"])


def test_implants_without_procedure_code(validate):
    bundle, _ = convert_fragment(EQ / "Implant Without Procedure" / "Implant Without Procedure(C-CDA2.1).xml")
    uses = resources_of(bundle, "DeviceUseStatement")
    assert len(uses) == 3
    first = next(u for u in uses if u["identifier"][0]["value"] == "2744")
    assert first["bodySite"]["coding"][0]["code"] == "72696002"
    assert first["timingPeriod"] == {"start": "2016-04-13"}
    dev = resolve(bundle, first["device"])
    assert dev["udiCarrier"][0]["deviceIdentifier"] == "00848486000400"
    assert dev["serialNumber"] == "123777" and dev["lotNumber"] == "ABC634"
    assert dev["manufactureDate"] == "2016-03-30"
    assert dev["type"] == {"text": "Patellofemoral Component"}     # code UNK, originalText kept
    for u in uses:
        assert validate(u) == []


def test_no_implanted_devices_is_no_device_use(validate):
    bundle, report = convert_fragment(EQ / "No Implanted Devices" / "No Implanted Devices(C-CDA2.1).xml")
    assert resources_of(bundle, "DeviceUseStatement") == []
    procs = [p for p in resources_of(bundle, "Procedure")
             if p.get("identifier") == [{"system": "urn:ietf:rfc:3986",
                                         "value": "urn:uuid:d5b614bd-01ce-410d-8726-e1fd01dcc72a"}]]
    assert len(procs) == 1
    assert not [i for i in report.issues if i.level in ("unmapped", "error")]


def test_authoring_device_still_maps(validate):
    xml = wrap_fragment("<observation classCode='OBS' moodCode='EVN'><code code='1'/></observation>")
    xml = xml.replace("<assignedPerson><name><given>Ann</given><family>Author</family></name></assignedPerson>",
                      "<assignedAuthoringDevice><manufacturerModelName>EHR Model 7</manufacturerModelName>"
                      "<softwareName>EHR Soft</softwareName></assignedAuthoringDevice>")
    bundle = ccda2fhir.convert(xml.encode(), "p1")
    devices = resources_of(bundle, "Device")
    assert len(devices) == 1
    assert devices[0]["deviceName"] == [{"name": "EHR Model 7", "type": "model-name"},
                                        {"name": "EHR Soft", "type": "other"}]
    assert validate(devices[0]) == []


@needs_corpus
def test_ccd_r21_medical_equipment(validate):
    path = CORPUS / "hl7-cda-ccda-2.1" / "examples" / "C-CDA_R2-1_CCD.xml"
    bundle, report = ccda2fhir.convert(path.read_bytes(), "p1", report=True)
    (group,) = [r for r in resources_of(bundle, "List")
                if r["identifier"][0]["value"] == "urn:uuid:3e414708-0e61-4d48-8863-484a2d473a02"]
    assert group["code"]["coding"][0] == {"system": SNOMED, "code": "40388003", "display": "Implant"}
    items = [resolve(bundle, e["item"]) for e in group["entry"]]
    assert [i["resourceType"] for i in items] == ["DeviceUseStatement", "DeviceUseStatement"]
    kinds = sorted(resolve(bundle, i["device"])["type"]["coding"][0]["code"] for i in items)
    # one participantRole id, two different devices: kept apart
    assert kinds == ["14106009", "303406003"]
    assert {i["timingPeriod"]["end"] for i in items} == {"2013-07-03", "2013-01-03"}
    assert all(i["status"] == "completed" for i in items)
    for r in resources_of(bundle, "DeviceUseStatement") + resources_of(bundle, "Device") + [group]:
        assert validate(r) == []


UDI_NESTED_IN_PROCEDURE = """<entry><procedure classCode="PROC" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.14" extension="2014-06-09"/>
  <id root="2.16.840.1.113883.19.5" extension="proc-udi"/>
  <code code="33216" codeSystem="2.16.840.1.113883.6.12" displayName="Insert pacemaker"/>
  <statusCode code="completed"/><effectiveTime value="20111005"/>
  <participant typeCode="DEV"><participantRole classCode="MANU">
    <templateId root="2.16.840.1.113883.10.20.22.4.37"/>
    <id root="1.3.160" extension="(01)00643169007222(17)160128(21)BLC200461H" assigningAuthorityName="GS1"/>
    <playingDevice><code nullFlavor="UNK"><originalText>CRT-D VIVA QUAD</originalText></code></playingDevice>
    <scopingEntity><id root="2.16.840.1.113883.3.3719"/></scopingEntity></participantRole></participant>
  <entryRelationship typeCode="COMP"><organizer classCode="CLUSTER" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.311" extension="2019-06-21"/>
    <id root="2.16.840.1.113883.3.3719" extension="(01)00643169007222(17)160128(21)BLC200461H"/>
    <code code="74711-3" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
    <component><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.318" extension="2019-06-21"/>
      <code code="C106044" codeSystem="2.16.840.1.113883.3.26.1.1"/>
      <value xsi:type="CD" code="C113844" codeSystem="2.16.840.1.113883.3.26.1.1" displayName="Labeling does not contain MRI Safety Information"/>
    </observation></component>
  </organizer></entryRelationship>
</procedure></entry>"""


def test_udi_organizer_under_a_procedure_is_one_device(validate):
    """Wherever a procedure's route leaves the UDI Organizer to the dispatcher, it is the same
    Device as the Product Instance (one UDI), its parts consumed, not generic Observations."""
    bundle, report = ccda2fhir.convert(wrap_fragment(UDI_NESTED_IN_PROCEDURE, "47519-4").encode(), "p1", report=True)
    devices = resources_of(bundle, "Device")
    assert len(devices) == 1
    (dev,) = devices
    assert validate(dev) == []
    assert dev["udiCarrier"][0]["deviceIdentifier"] == "00643169007222"
    assert dev["udiCarrier"][0]["issuer"] == "http://hl7.org/fhir/NamingSystem/gs1-di"
    assert dev["serialNumber"] == "BLC200461H" and dev["expirationDate"] == "2016-01-28"
    assert dev["type"] == {"text": "CRT-D VIVA QUAD"}
    assert [c["coding"][0]["code"] for c in dev["safety"]] == ["C113844"]
    assert not [r for r in resources_of(bundle, "Observation")
                if any(c.get("code") == "C106044" for c in r["code"].get("coding", []))]
    assert not [i for i in report.issues if i.level in ("unmapped", "error")]
