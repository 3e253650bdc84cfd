"""Derives, from fhir.resources' models, the top-level elements each FHIR resource requires.

Run as a script to regenerate ccda2fhir/data/required.json; tests/test_required.py checks the shipped
file still equals what the models say. (fhir.resources ships R4B models; R4B kept R4's cardinalities
for every resource ccda2fhir makes.)
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

TYPES = ["AllergyIntolerance", "CarePlan", "CareTeam", "Communication", "CommunicationRequest",
         "Composition", "Condition", "Consent", "Coverage", "Device", "DeviceUseStatement",
         "DiagnosticReport", "DocumentReference", "Encounter", "FamilyMemberHistory", "Goal",
         "Immunization", "ImmunizationRecommendation", "Location", "Medication", "MedicationAdministration",
         "MedicationDispense", "MedicationRequest", "MedicationStatement", "Observation", "Organization",
         "Patient", "Practitioner", "PractitionerRole", "Procedure", "Provenance", "RelatedPerson",
         "ServiceRequest", "Specimen", "SupplyRequest", "Media", "NutritionOrder", "Substance",
         "QuestionnaireResponse", "List", "RiskAssessment", "ClinicalImpression", "Flag", "AdverseEvent"]


def required(resource_type: str) -> list[list[str]]:
    """Each required element as a list of acceptable JSON keys (several for a choice element)."""
    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    model = getattr(module, resource_type)
    out, choices = [], {}
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra or {}
        key = field.alias or name
        if key.startswith("_") or key in ("resourceType",):
            continue
        if extra.get("one_of_many") and extra.get("one_of_many_required"):
            choices.setdefault(extra["one_of_many"], []).append(key)
        elif field.is_required() or extra.get("element_required"):
            out.append([key])
    out += [sorted(keys) for _, keys in sorted(choices.items())]
    return sorted(out)


def derive() -> dict:
    return {t: required(t) for t in TYPES}


if __name__ == "__main__":
    dest = Path(__file__).resolve().parents[2] / "ccda2fhir" / "data" / "required.json"
    data = {"_comment": "Top-level elements each resource type requires (min cardinality 1; a list of "
                        "several keys is a required choice element). Derived by tests/support/required_fields.py.",
            **derive()}
    dest.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {dest}")
