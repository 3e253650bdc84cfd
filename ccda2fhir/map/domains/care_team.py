"""Care Team Organizer -> US Core CareTeam (no C-CDA on FHIR page: US Core CareTeam).

Members are the Care Team Member Acts: their performer (a clinician: Practitioner, its
organization as onBehalfOf) or participant (a caregiver or other person: RelatedPerson),
role from sdtc:functionCode, period from the member act's effectiveTime.
"""
from __future__ import annotations

from ..datatypes.codes import codeable_concept, original_text
from ..datatypes.dates import period
from ..datatypes.identifiers import identifiers
from ..datatypes.navigation import children, has_template, many, one
from ..datatypes.status import data_absent
from ..datatypes.text import text
from ..engine.registry import template_global
from ..shared.participants import is_patient, organization_ref, practitioner_ref, related_person_ref
from ..state import current

MEMBER = ("2.16.840.1.113883.10.20.22.4.500.1",)
TEAM_TYPE = ("2.16.840.1.113883.10.20.22.4.500.2",)
SCHEDULE = ("2.16.840.1.113883.10.20.22.4.500.3",)


def _role(perf: dict, entity: dict) -> dict:
    """participant.role (1..1 in US Core): functionCode, else the entity's own role code."""
    for cd in (perf.get("sdtc_functionCode"), perf.get("functionCode"), entity.get("code")):
        cc = codeable_concept(cd)
        if cc:
            return cc
    return {"extension": [data_absent("UNK")]}


@template_global
def care_team_participants(src) -> list[dict]:
    """participant from each Care Team Member Act: its performers (the assignedEntity through
    practitioner_ref; a Practitioner's organization is onBehalfOf) and participants (RelatedPerson,
    or the Patient); role from functionCode, else the entity's code, else data-absent; period from
    the act's effectiveTime. A Member Schedule Observation has no CareTeam element: reported."""
    out = []
    for act in children(src):
        if not has_template(act, *MEMBER):
            continue
        when = period(one(act.get("effectiveTime")))
        for perf in many(act.get("performer")):
            ae = (perf or {}).get("assignedEntity") if isinstance(perf, dict) else None
            if not isinstance(ae, dict):
                continue
            member = practitioner_ref(ae)
            if not member:
                continue
            org = ae.get("representedOrganization")
            part = {"role": [_role(perf, ae)], "member": member, "period": when}
            if member["reference"].startswith("Practitioner/") and isinstance(org, dict):
                part["onBehalfOf"] = organization_ref(org)
            out.append(part)
        for p in many(act.get("participant")):
            role = (p or {}).get("participantRole") if isinstance(p, dict) else None
            if not isinstance(role, dict):
                continue
            member = current().patient if role.get("classCode") == "PAT" or is_patient(role) \
                else related_person_ref(role)
            if member:
                out.append({"role": [_role(p, role)], "member": member, "period": when})
        for sched in children(act):
            if has_template(sched, *SCHEDULE):
                current().warn("Care Team Member Schedule Observation has no CareTeam element; "
                                   "not mapped", level="partial", template_id=SCHEDULE[0],
                                   line=sched.get("_line"))
    return [{k: v for k, v in p.items() if v} for p in out]


@template_global
def care_team_categories(src) -> list[dict]:
    """category: the Care Team Type Observations' values (LOINC LA answer codes), then the
    organizer's code (LOINC 86744-0 Care team)."""
    out = []
    for obs in children(src):
        if has_template(obs, *TEAM_TYPE):
            cc = codeable_concept(one(obs.get("value")))
            if cc and cc not in out:
                out.append(cc)
    code = one((src or {}).get("code"))
    cc = codeable_concept(code)
    if cc:
        cc = {k: v for k, v in cc.items() if k != "text"}
        if cc and cc not in out:
            out.append(cc)
    return out


@template_global
def care_team_name(src) -> str | None:
    """name: the organizer code's originalText (C-CDA carries the team's name there)."""
    code = one((src or {}).get("code"))
    if isinstance(code, dict) and isinstance(code.get("originalText"), dict):
        return original_text(code)
    return text((src or {}).get("text"))


@template_global
def care_team_managing_org(src) -> list[dict]:
    """managingOrganization: the organizer's performer's or author's organization."""
    for holder in many((src or {}).get("performer")) + many((src or {}).get("author")):
        if not isinstance(holder, dict):
            continue
        entity = holder.get("assignedEntity") or holder.get("assignedAuthor") or {}
        org = entity.get("representedOrganization") if isinstance(entity, dict) else None
        if isinstance(org, dict):
            ref = organization_ref(org)
            if ref:
                return [ref]
    return []


@template_global
def care_team_identifiers(src) -> list[dict]:
    """identifier: the organizer's ids, then its Care Team Member Acts' ids (a participant has no
    identifier in FHIR; the member acts are parts of this one care team record, so their ids
    still find it)."""
    ids = list(many((src or {}).get("id")))
    for act in children(src):
        if has_template(act, *MEMBER):
            ids += many(act.get("id"))
    return identifiers(ids)
