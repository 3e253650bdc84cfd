"""Converting HL7 example fragments in tests, with the checks every section test wants."""
from __future__ import annotations

import json
import re
from pathlib import Path

import ccda2fhir

from .wrap import wrap_fragment

LEAD = re.compile(r"^\s*(<\?xml[^>]*\?>)?\s*(<!--.*?-->\s*)*", re.S)
PARTICIPANT_TYPES = ("Practitioner", "PractitionerRole", "Organization", "RelatedPerson", "Medication")


def example_text(folder: Path) -> str:
    """The XML of the (first) example file in an HL7 examples folder, without its leading comments."""
    path = next(Path(folder).glob("*.xml"))
    return LEAD.sub("", path.read_text(encoding="utf-8-sig"), count=1)


def convert_checked(xml: str, validate, section_code: str, patient_id: str = "p1"):
    """(bundle, report) for a fragment; every resource schema-valid and no participant orphaned."""
    bundle, report = ccda2fhir.convert(wrap_fragment(xml, section_code).encode(), patient_id, report=True)
    resources = [e["resource"] for e in bundle["entry"]]
    for r in resources:
        assert validate(r) == [], r["resourceType"]
    text = json.dumps(bundle)
    for r in resources:
        if r["resourceType"] in PARTICIPANT_TYPES:
            assert f'"{r["resourceType"]}/{r["id"]}"' in text, r["resourceType"]
    return bundle, report


def only(bundle: dict, resource_type: str) -> dict:
    """The one resource of a type in the Bundle (fails when there are none or several)."""
    found = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]
    assert len(found) == 1, [e["resource"]["resourceType"] for e in bundle["entry"]]
    return found[0]
