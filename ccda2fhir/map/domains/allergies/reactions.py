"""AllergyIntolerance.reaction from the Reaction Observations (CF-allergies); what a reaction holds
besides its severity and comments is mapped by its own route.
"""
from __future__ import annotations

from ...datatypes.codes import alternate_codes, codeable_concept
from ...datatypes.dates import datetime
from ...datatypes.navigation import has_template, many, one, statement_of
from ...datatypes.status import data_absent
from ...datatypes.terminology import concept
from ...datatypes.text import text
from ...engine.registry import template_global
from ...shared.comments import comments
from ...state import current
from .nested import (COMMENT, REACTION, SEVERITY, allergies_in, allergy_concern, first_in_role,
                     nested_in_role, plays_role, value_cd)

def _severity(obs) -> str | None:
    value = value_cd(obs)
    c = concept(value, "Severity") or concept(value, "AllergySeverityExtra")
    return c["code"] if c else None


def _severity_source(obs) -> dict | None:
    """`_severity`: the Severity Observation's own coding, beside the FHIR severity (alternate-codes)."""
    return alternate_codes(value_cd(obs))


@template_global
def allergy_reactions(src, parents) -> list[dict]:
    """reaction[] from the Reaction Observations (the observation's, then any the concern act holds).

    manifestation: the reaction value (its originalText or the reaction's text when the value
    is uncoded); onset: effectiveTime/low; severity: the reaction's Severity Observation, else
    the one at the allergy level (IG: it applies to every reaction). description: the
    reaction's own text when it says more than the manifestation; note: its Comment
    Activities. With severity but no
    reaction at all, one reaction of unknown manifestation carries the severity (else lost).
    Medications or procedures nested in a reaction (given in response to it) are mapped as
    resources of their own.
    """
    concern = allergy_concern(parents)
    reactions = nested_in_role(src, REACTION)
    if concern is not None and len(allergies_in(concern)) <= 1:
        reactions += nested_in_role(concern, REACTION)
    top_sev = first_in_role(src, concern, SEVERITY)
    top = _severity(top_sev) if top_sev else None
    out = []
    for r in reactions:
        manifest = codeable_concept(value_cd(r))
        own_text = text(r.get("text"))
        if manifest and not manifest.get("text") and own_text:
            manifest["text"] = own_text
        if not manifest and own_text:
            manifest = {"text": own_text}
        if not manifest:
            value = value_cd(r) or {}
            manifest = {"extension": [data_absent(value.get("nullFlavor") or "UNK")]}
        # the reaction's own Severity Observation when it maps, else the allergy-level one
        sev_obs = [o for o in nested_in_role(r, SEVERITY)[:1] if _severity(o)] or ([top_sev] if top else [])
        reaction = {
            "manifestation": [manifest],
            "description": own_text if own_text and own_text != manifest.get("text") else None,
            "onset": _onset(r.get("effectiveTime")),
            "severity": _severity(sev_obs[0]) if sev_obs else None,
            "_severity": _severity_source(sev_obs[0]) if sev_obs else None,
            "note": comments(r),
        }
        out.append({k: v for k, v in reaction.items() if v})
        _map_nested(r, [src] + list(many(parents)))
        if many(r.get("id")):
            # keeps the reaction's identity and end date, which reaction[] has no place for
            current().emit_after("resource/AllergyReaction", "allergy", src=r)
    if not out and top:
        out.append({"manifestation": [{"extension": [data_absent("UNK")]}], "severity": top,
                    "_severity": _severity_source(top_sev)})
    return out


def _onset(eff) -> str | None:
    eff = one(eff)
    if not isinstance(eff, dict):
        return None
    return datetime(eff.get("low")) or datetime(eff)


def _map_nested(reaction: dict, parents: list) -> None:
    """Map what a Reaction Observation holds besides its severity and comments (C-CDA: medications and
    procedures given in response to the reaction) through the ordinary routes, so the
    absorbed reaction does not take them down with it."""
    rels = [rel for rel in many(reaction.get("entryRelationship")) if isinstance(rel, dict)]
    todo = []
    for rel in rels:
        el, stmt = statement_of(rel)
        if stmt is not None and not plays_role(stmt, SEVERITY) and not has_template(stmt, *COMMENT):
            todo.append((el, stmt))
    if not todo:
        return
    conv = current()
    for el, stmt in todo:
        conv.map_nested(el, stmt, [reaction] + parents)
