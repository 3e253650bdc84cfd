"""Derives, from the R4 Patient CompartmentDefinition, the resource types that belong to a patient.

Run as a script to regenerate ccda2fhir/data/patient_compartment.json (needs ../shared/fhir);
tests/test_patient_scope.py checks the shipped file still equals the definition when it is present.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = ROOT.parent / "shared" / "fhir" / "r4" / "compartmentdefinition-patient.json.gz"
SHIPPED = ROOT / "ccda2fhir" / "data" / "patient_compartment.json"


def derive(definition: Path = DEFINITION) -> list[str]:
    """Resource types the Patient compartment lists with at least one search parameter."""
    data = json.load(gzip.open(definition))
    return sorted(r["code"] for r in data["resource"] if r.get("param"))


if __name__ == "__main__":
    SHIPPED.write_text(json.dumps({
        "_comment": "Resource types in the FHIR R4 Patient compartment (CompartmentDefinition/patient: "
                    "those listed with a search parameter). Their ids are keyed by the patient id too. "
                    "Derived by tests/support/patient_compartment.py.",
        "types": derive()}, indent=1) + "\n")
