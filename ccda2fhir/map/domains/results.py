"""Results (CF-results): Result Organizer -> DiagnosticReport, its members and specimens."""
from __future__ import annotations

from ..datatypes.navigation import many, one, statement_of
from ..engine.registry import template_filter, template_global
from ..shared.observations import (is_specimen_collection, issued, obs_category, obs_performers,
                                   organizer_components, organizer_members, section_category)
from ..state import emit

@template_filter
def report_issued(organizer) -> str | None:
    """DiagnosticReport.issued: the organizer's latest author time, else its results' latest (the
    report is released when its last result is); None when no author gives a full time."""
    own = issued(organizer)
    if own:
        return own
    times = [t for t in (issued(s) for _, s in organizer_components(organizer or {})) if t]
    return max(times) if times else None


@template_filter
def report_performers(src) -> list[dict]:
    """DiagnosticReport.performer: Practitioner, PractitionerRole, Organization or CareTeam."""
    return [r for r in obs_performers(src) if not r["reference"].startswith(("Patient/", "RelatedPerson/"))]


# ------------------------------------------------------------------ specimen
def _collection_procedures(stmt: dict) -> list[dict]:
    """Specimen Collection Procedures of an organizer (template 4.415 or code 17636008, CF-results)."""
    out = []
    for rel in many((stmt or {}).get("component")) + many((stmt or {}).get("entryRelationship")):
        el, s = statement_of(rel)
        if el == "procedure" and is_specimen_collection(s):
            out.append(s)
    return out


@template_filter
def specimen_refs(stmts) -> list[dict]:
    """Specimen resources of statements: their <specimen>/specimenRole and the specimens
    (participant PRD) of their Specimen Collection Procedures, with the collection details."""
    out = []
    for stmt in many(stmts):
        if not isinstance(stmt, dict):
            continue
        collections = _collection_procedures(stmt)
        for sp in many(stmt.get("specimen")):
            role = (sp or {}).get("specimenRole")
            if isinstance(role, dict):
                ref = emit("resource/Specimen", src=role, entity=role.get("specimenPlayingEntity"),
                            collection=one(collections))
                if ref and ref not in out:
                    out.append(ref)
        for proc in collections:
            for part in many(proc.get("participant")):
                role = (part or {}).get("participantRole")
                if (part or {}).get("typeCode") not in (None, "PRD") or not isinstance(role, dict):
                    continue
                ref = emit("resource/Specimen", src=role, entity=role.get("playingEntity"), collection=proc)
                if ref and ref not in out:
                    out.append(ref)
    return out


@template_filter
def result_members(organizer, parents=None) -> list[dict]:
    """DiagnosticReport.result: each Result Observation of the organizer, emitted here.

    The route absorbs the result templates, so the dispatcher does not map them a second time.
    """
    return organizer_members(organizer, parents, "ResultMemberTemplates", "resource/ResultObservation")


@template_global
def report_category(src, section) -> list[dict]:
    """DiagnosticReport.category: LAB, or RAD in an imaging section (v2-0074, US Core)."""
    cats = section_category(section)
    if any(c["coding"][0]["code"] == "imaging" for c in cats):
        return obs_category("RAD")
    return obs_category("LAB")
