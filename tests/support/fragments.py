"""Converting HL7 example fragments in tests, with the checks every section test wants."""
from __future__ import annotations

import json
import re
from pathlib import Path

import ccda2fhir

from .wrap import wrap_fragment

LEAD = re.compile(r"^\s*(<\?xml[^>]*\?>)?\s*(<!--.*?-->\s*)*", re.S)
PARTICIPANT_TYPES = ("Practitioner", "PractitionerRole", "Organization", "RelatedPerson", "Medication")


def strip_lead(xml: str) -> str:
    """An example file's XML without its declaration and leading comments (to wrap it)."""
    return LEAD.sub("", xml, count=1)


def convert_example(source, section_code: str, patient_id: str = "p1", report: bool = False):
    """An HL7 example (its XML text, or the path of its file) wrapped in a document and converted."""
    text = source.read_text(encoding="utf-8-sig") if isinstance(source, Path) else source
    return ccda2fhir.convert(wrap_fragment(strip_lead(text), section_code).encode(), patient_id, report=report)


def example_text(folder: Path) -> str:
    """The XML of the (first) example file in an HL7 examples folder, without its leading comments."""
    path = next(Path(folder).glob("*.xml"))
    return strip_lead(path.read_text(encoding="utf-8-sig"))


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
