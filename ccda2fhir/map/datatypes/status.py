"""Statuses and negation, the common ones every clinical template needs."""
from __future__ import annotations

from ..engine.registry import template_filter, template_global
from .navigation import one, related
from .terminology import concept

@template_filter
def status_code(stmt) -> str | None:
    """A statement's statusCode/@code."""
    sc = one((stmt or {}).get("statusCode")) if isinstance(stmt, dict) else None
    return sc.get("code") if isinstance(sc, dict) else None


@template_filter
def mapped_status(stmt, map_name: str, default: str | None = None) -> str | None:
    """A statement's statusCode through a ConceptMap, as a FHIR code."""
    c = concept(status_code(stmt), map_name)
    return c["code"] if c else default


def status_observation_value(stmt, map_name: str, *templates: str) -> dict | None:
    """The value of the first nested status observation (of these templates) that a value map
    knows: the status it says, and, kept beside the FHIR code, its own coding."""
    for obs in related(stmt, *templates):
        value = one(obs.get("value"))
        if concept(value, map_name):
            return value
    return None


@template_filter
def negated(stmt) -> bool:
    """Whether a statement's negationInd is true (the act was not done, the finding is absent)."""
    return isinstance(stmt, dict) and str(stmt.get("negationInd", "")).lower() == "true"


@template_global
@template_filter
def data_absent(null_flavor) -> dict | None:
    """The data-absent-reason extension for a nullFlavor (IG ConceptMap), else 'unknown'."""
    if isinstance(null_flavor, dict):
        null_flavor = null_flavor.get("nullFlavor")
    if not null_flavor:
        return None
    c = concept(null_flavor, "NullFlavorDataAbsentReason")
    return {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
            "valueCode": c["code"] if c else "unknown"}
