"""Vital signs -> panel (85353-1, hasMember), vital sign Observations with their FHIR/US Core
profiles and one blood pressure Observation per systolic/diastolic pair (CF-vitals).

Fixtures: HL7 C-CDA Examples (CC0) in tests/fixtures/hl7-c-cda-examples/Vital Signs/.
"""
from __future__ import annotations

from pathlib import Path


import ccda2fhir
from tests.support.recommended import ours_matching, recommended
from tests.conftest import FIXTURES, needs_corpus, resolve, resources_of
from tests.support.wrap import wrap_fragment
from tests.support.fragments import convert_example, strip_lead

VITALS = FIXTURES / "hl7-c-cda-examples" / "Vital Signs"
UCUM = "http://unitsofmeasure.org"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"


def convert_fragment(path: Path, section_code: str = "8716-3") -> dict:
    return convert_example(path, section_code, "test-patient")


def one_file(folder: str) -> Path:
    return sorted((VITALS / folder).glob("*.xml"))[0]


def by_code(bundle: dict, code: str) -> dict:
    found = [r for r in resources_of(bundle, "Observation")
             if any(c.get("code") == code for c in r.get("code", {}).get("coding", []))]
    assert len(found) == 1, (code, len(found))
    return found[0]


def test_metric_panel(validate):
    b = convert_fragment(one_file("Panel of Vital Signs in Metric Units"))
    for r in resources_of(b):
        assert validate(r) == [], r["resourceType"]
    panel = by_code(b, "85353-1")
    # CF-vitals maps the organizer to US Core Vital Signs (R4's core vitalspanel is not US Core)
    assert panel["meta"]["profile"] == [US_CORE + "us-core-vital-signs"]
    assert panel["category"][0]["coding"][0]["code"] == "vital-signs"
    # the organizer's own codes are kept beside the panel code
    assert {"system": "http://snomed.info/sct", "code": "46680005", "display": "Vital Signs"} \
        in panel["code"]["coding"]
    assert panel["identifier"] == [{"system": "urn:ietf:rfc:3986",
                                    "value": "urn:uuid:e6c800c4-4a71-41bf-80e2-e741dd1168e9"}]
    assert panel["effectiveDateTime"] == "2014-05-20T19:36:05-05:00"
    members = [resolve(b, m) for m in panel["hasMember"]]
    # 9 vital sign observations, systolic + diastolic become one blood pressure: 8 members
    assert len(members) == 8
    codes = {m["code"]["coding"][0]["code"] for m in members}
    assert codes == {"85354-9", "8867-4", "8310-5", "9279-1", "8302-2", "29463-7", "39156-5", "2710-2"}
    # no separate systolic / diastolic observations
    assert not [o for o in resources_of(b, "Observation")
                if o["code"]["coding"][0]["code"] in ("8480-6", "8462-4")]

    bp = by_code(b, "85354-9")
    assert bp["meta"]["profile"] == [US_CORE + "us-core-blood-pressure"]
    assert "valueQuantity" not in bp
    sys_, dia = bp["component"]
    assert sys_["code"]["coding"][0]["code"] == "8480-6"
    assert sys_["valueQuantity"] == {"value": 120, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}
    assert dia["code"]["coding"][0]["code"] == "8462-4"
    assert dia["valueQuantity"]["value"] == 80
    assert [i["value"] for i in bp["identifier"]] == [
        "urn:uuid:fdbd831b-5919-4f06-9467-76b07022f8e8", "urn:uuid:553f3f45-9046-4659-b3e7-5de904003550"]
    assert bp["effectiveDateTime"] == "2014-05-20T19:36:05-05:00"

    expected = {"8867-4": (80, "/min", "us-core-heart-rate"), "8310-5": (37.2, "Cel", "us-core-body-temperature"),
                "9279-1": (18, "/min", "us-core-respiratory-rate"), "8302-2": (170.2, "cm", "us-core-body-height"),
                "29463-7": (108.863, "kg", "us-core-body-weight"), "39156-5": (37.58, "kg/m2", "us-core-bmi")}
    for code, (value, unit, profile) in expected.items():
        o = by_code(b, code)
        assert o["valueQuantity"] == {"value": value, "unit": unit, "system": UCUM, "code": unit}, code
        assert o["meta"]["profile"] == [US_CORE + profile]
        assert o["status"] == "final"
        assert o["subject"] == {"reference": "Patient/test-patient"}


def test_oxygen_concentration_without_pulse_oximetry_stays_its_own(validate):
    b = convert_fragment(one_file("Panel of Vital Signs (Oxygen Concentration Included)"))
    for r in resources_of(b):
        assert validate(r) == []
    o2 = by_code(b, "3150-0")
    assert o2["valueQuantity"]["value"] == 36
    assert by_code(b, "2710-2")["valueQuantity"]["value"] == 98


def test_pulse_oximetry_takes_the_oxygen_flow_as_component(validate):
    xml = """<section><templateId root="2.16.840.1.113883.10.20.22.2.4.1"/>
      <code code="8716-3" codeSystem="2.16.840.1.113883.6.1"/><title>Vitals</title>
      <entry><organizer classCode="CLUSTER" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.26"/>
      <id root="1.2.3.4" extension="panel"/><code code="46680005" codeSystem="2.16.840.1.113883.6.96"/>
      <statusCode code="completed"/><effectiveTime value="20140520193605-0500"/>
      <component><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.27"/>
        <id root="1.2.3.4" extension="spo2"/><code code="59408-5" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="completed"/><effectiveTime value="20140520193605-0500"/>
        <value xsi:type="PQ" value="97" unit="%"/></observation></component>
      <component><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.27"/>
        <id root="1.2.3.4" extension="flow"/><code code="3151-8" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="completed"/><effectiveTime value="20140520193605-0500"/>
        <value xsi:type="PQ" value="2" unit="L/min"/></observation></component>
      </organizer></entry></section>"""
    b = ccda2fhir.convert(wrap_fragment(xml).encode(), "test-patient")
    ox = by_code(b, "59408-5")
    assert validate(ox) == []
    assert ox["meta"]["profile"] == [US_CORE + "us-core-pulse-oximetry"]
    assert {c["code"] for c in ox["code"]["coding"]} == {"59408-5", "2708-6"}
    assert ox["valueQuantity"]["value"] == 97
    assert ox["component"][0]["code"]["coding"][0]["code"] == "3151-8"
    assert ox["component"][0]["valueQuantity"]["value"] == 2
    assert {i["value"] for i in ox["identifier"]} == {"spo2", "flow"}
    panel = by_code(b, "85353-1")
    assert len(panel["hasMember"]) == 1


def test_every_vitals_example_keeps_every_quantity(validate):
    from lxml import etree
    for path in sorted(VITALS.rglob("*.xml")):
        b = convert_fragment(path)
        numbers = set()
        for r in resources_of(b):
            assert validate(r) == [], (path.name, r["resourceType"])
            _collect_numbers(r, numbers)
        xml = strip_lead(path.read_text(encoding="utf-8-sig"))
        root = etree.fromstring(wrap_fragment(xml).encode())
        for v in root.iter("{urn:hl7-org:v3}value"):
            if v.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "PQ" and v.get("value"):
                assert float(v.get("value")) in numbers, (path.name, v.get("value"))


def _collect_numbers(obj, out: set) -> None:
    if isinstance(obj, dict):
        for v in obj.values():
            _collect_numbers(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _collect_numbers(v, out)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out.add(float(obj))


def test_r11_vital_signs_in_result_organizer(validate):
    """CCD 1.0: a vital signs section holding a Result Organizer (10.20.1.32) of 10.20.1.31."""
    xml = """<section><templateId root="2.16.840.1.113883.10.20.1.16"/>
      <code code="8716-3" codeSystem="2.16.840.1.113883.6.1"/><title>Vital Signs</title>
      <entry><organizer classCode="CLUSTER" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.1.32"/>
      <id root="c6f88320-67ad-11db-bd13-0800200c9a66"/><code code="46680005" codeSystem="2.16.840.1.113883.6.96"/>
      <statusCode code="completed"/><effectiveTime value="19991114"/>
      <component><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.1.31"/>
        <id root="c6f88321-67ad-11db-bd13-0800200c9a66"/><code code="8302-2" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="completed"/><effectiveTime value="19991114"/><value xsi:type="PQ" value="177" unit="cm"/>
      </observation></component></organizer></entry></section>"""
    b = ccda2fhir.convert(wrap_fragment(xml).encode(), "test-patient")
    h = by_code(b, "8302-2")
    assert validate(h) == []
    assert h["category"][0]["coding"][0]["code"] == "vital-signs"
    assert h["meta"]["profile"] == [US_CORE + "us-core-body-height"]
    assert h["effectiveDateTime"] == "1999-11-14"
    assert not resources_of(b, "DiagnosticReport")
    panel = by_code(b, "85353-1")
    assert resolve(b, panel["hasMember"][0]) == h


# ---------------------------------------------------------------- HL7 recommended output


@needs_corpus
def test_matches_hl7_recommended_vital_sign():
    rec = recommended("Rec_vital sign_draft.json")
    o, b = ours_matching(rec)
    assert {(c["system"], c["code"]) for c in rec["code"]["coding"]} <= \
        {(c["system"], c["code"]) for c in o["code"]["coding"]}
    assert o["status"] == rec["status"]
    assert o["category"][0]["coding"][0]["code"] == rec["category"][0]["coding"][0]["code"]
    assert o["valueQuantity"]["value"] == rec["valueQuantity"]["value"]
    assert o["valueQuantity"]["unit"] == rec["valueQuantity"]["unit"]
    # the same instant (the recommendation writes it in UTC, we keep the source's offset)
    from datetime import datetime
    assert datetime.fromisoformat(o["effectiveDateTime"]) == \
        datetime.fromisoformat(rec["effectiveDateTime"].replace("Z", "+00:00"))


def test_every_example_keeps_the_contract(validate):
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    from contract import contract_problems
    for path in sorted(VITALS.rglob("*.xml")):
        xml = strip_lead(path.read_text(encoding="utf-8-sig"))
        b = ccda2fhir.convert(wrap_fragment(xml, "8716-3").encode(), "pat-123")
        assert contract_problems(b, "pat-123", validate) == [], path.name


def test_non_ucum_vital_units_get_the_ucum_code(validate):
    xml = """<section><templateId root="2.16.840.1.113883.10.20.22.2.4.1"/>
      <code code="8716-3" codeSystem="2.16.840.1.113883.6.1"/><title>Vitals</title>
      <entry><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.27"/>
        <id root="1.2.3.4" extension="w"/><code code="3141-9" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="completed"/><effectiveTime value="20200101"/><value xsi:type="PQ" value="154.5" unit="lbs"/>
      </observation></entry>
      <entry><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.27"/>
        <id root="1.2.3.4" extension="h"/><code code="8302-2" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="completed"/><effectiveTime value="20200101"/><value xsi:type="PQ" value="65" unit="in"/>
      </observation></entry></section>"""
    b = ccda2fhir.convert(wrap_fragment(xml).encode(), "test-patient")
    w = by_code(b, "3141-9")
    assert validate(w) == []
    assert w["valueQuantity"] == {"value": 154.5, "unit": "lbs", "system": UCUM, "code": "[lb_av]"}
    # coded 3141-9 only: not US Core body weight, whose code pattern is 29463-7 (issue 7 §4)
    assert w["meta"]["profile"] == [US_CORE + "us-core-vital-signs"]
    h = by_code(b, "8302-2")
    assert h["valueQuantity"] == {"value": 65, "unit": "in", "system": UCUM, "code": "[in_i]"}
