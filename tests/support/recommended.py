"""HL7's recommended FHIR output for the Myra Jones C-CDA (C-CDA on FHIR examples, corpus only)."""
from __future__ import annotations

import json
import re

import pytest

import ccda2fhir
from tests.conftest import CORPUS, resources_of

REC = CORPUS / "hl7-ccda-on-fhir" / "mappings" / "examples" / "CDAtoFHIRExamples"


def recommended(name: str) -> dict:
    """The recommended resource in Rec_Output/<name> (// comments of .jsonc dropped)."""
    p = REC / "Rec_Output" / name
    if not p.is_file():
        pytest.skip(f"{name} not in the corpus")
    data = json.loads(re.sub(r"^\s*//.*$", "", p.read_text(encoding="utf-8-sig"), flags=re.M))
    return data.get("resource", data)


def ours_matching(rec: dict) -> tuple[dict, dict]:
    """(our resource sharing an identifier with ``rec``, our Bundle) for the Myra Jones input."""
    b = ccda2fhir.convert((REC / "Input" / "Myra Jones v2.xml").read_bytes(), "test-patient")
    want = {(i.get("system"), i.get("value")) for i in rec.get("identifier", [])}
    found = [r for r in resources_of(b, rec["resourceType"])
             if want & {(i.get("system"), i.get("value")) for i in r.get("identifier", [])}]
    assert found, f"no {rec['resourceType']} with identifier {want}"
    return found[0], b
