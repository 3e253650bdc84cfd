"""Functional and mental status organizers and assessment scales: their members."""
from __future__ import annotations

from ..datatypes.navigation import many
from ..engine.registry import template_filter
from ..shared.observations import emit_members, nested_of, organizer_members

@template_filter
def status_members(organizer, parents=None) -> list[dict]:
    """Observation.hasMember of a functional / mental status organizer: each member, emitted here."""
    return organizer_members(organizer, parents, "StatusMemberTemplates", "resource/Observation")


@template_filter
def survey_members(src, parents=None) -> list[dict]:
    """hasMember for an assessment scale's nested observations with a template of their own."""
    return emit_members(nested_of(src, "observation"), "AssessmentTemplates", "resource/Observation",
                         [src] + list(many(parents)))
