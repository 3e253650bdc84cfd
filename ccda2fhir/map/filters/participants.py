"""Participations -> References: who did, wrote, performed or was told about something.

Each filter renders the participant's resource templates (Practitioner,
PractitionerRole, Organization, Device, RelatedPerson, Location) through the
running conversion and returns the Reference to put in the resource. Ids come
from the participant's identifiers, so a practitioner named on thirty entries is
one resource.
"""
from __future__ import annotations

from .navigation import many, one
from ..engine.registry import template_filter


def _emit(template: str, **variables):
    from ..state import current
    return current().emit(template, **variables)


def _is_patient(role: dict) -> bool:
    """Whether an assigned author/entity is the patient themself (IG: Patient reference)."""
    from ..state import current
    code = role.get("code") if isinstance(role.get("code"), dict) else {}
    if code.get("code") == "ONESELF":
        return True
    conv = current()
    pr = one(conv.header.get("recordTarget"))
    pids = {(i.get("root"), i.get("extension")) for i in many((pr or {}).get("patientRole", {}).get("id"))
            if isinstance(i, dict) and i.get("root")}
    ids = {(i.get("root"), i.get("extension")) for i in many(role.get("id")) if isinstance(i, dict)}
    return bool(pids & ids)


def _has_person_data(role: dict, person) -> bool:
    from .identifiers import identifiers
    from .names import human_names
    if identifiers(role.get("id")):
        return True
    if isinstance(person, dict) and human_names(person.get("name")):
        return True
    return False


@template_filter
def organization_ref(org) -> dict | None:
    """Reference to the Organization made from a CDA organization."""
    org = one(org)
    if not isinstance(org, dict) or org.get("nullFlavor") and len(org) <= 2:
        return None
    return _emit("resource/Organization", src=org)


@template_filter
def practitioner_ref(role, time=None) -> dict | None:
    """Reference for an assignedAuthor/assignedEntity: Practitioner, Device, Organization or Patient.

    A PractitionerRole is made too when the role names an organization or a code.
    """
    role = one(role)
    if not isinstance(role, dict):
        return None
    if _is_patient(role):
        from ..state import current
        return current().patient
    if isinstance(role.get("assignedAuthoringDevice"), dict):
        return _emit("resource/Device", src=role, device=role["assignedAuthoringDevice"])
    person = role.get("assignedPerson") or role.get("associatedPerson")
    org = role.get("representedOrganization") or role.get("scopingOrganization")
    if person is None and not many(role.get("id")) and org is not None:
        return organization_ref(org)
    if not _has_person_data(role, person):
        # Nothing identifies or describes a person. A role code still says who took part ("a
        # general physician"): a PractitionerRole with that code (and organization), no
        # Practitioner (our choice; dropping it would lose the only thing the source says).
        code = role.get("code")
        if isinstance(code, dict) and code.get("code") and not code.get("nullFlavor"):
            return _emit("resource/PractitionerRole", src=role, practitioner=None,
                         organization=organization_ref(org) if org is not None else None)
        return organization_ref(org) if org is not None else None
    prac = _emit("resource/Practitioner", src=role, person=person)
    if prac and (org is not None or isinstance(role.get("code"), dict)):
        _emit("resource/PractitionerRole", src=role, practitioner=prac,
              organization=organization_ref(org) if org is not None else None)
    if prac is None and org is not None:
        return organization_ref(org)
    return prac


@template_filter
def role_ref(role) -> dict | None:
    """Reference to the PractitionerRole of an assigned entity (its Practitioner when no role)."""
    role = one(role)
    if not isinstance(role, dict):
        return None
    prac = practitioner_ref(role)
    if not prac or not prac["reference"].startswith("Practitioner/"):
        return prac
    org = role.get("representedOrganization") or role.get("scopingOrganization")
    if org is None and not isinstance(role.get("code"), dict):
        return prac
    return _emit("resource/PractitionerRole", src=role, practitioner=prac,
                 organization=organization_ref(org) if org is not None else None) or prac


@template_filter
def author_ref(author) -> dict | None:
    """Reference for an <author>: its assignedAuthor as Practitioner, Device or Patient."""
    author = one(author)
    if not isinstance(author, dict):
        return None
    return practitioner_ref(author.get("assignedAuthor"))


@template_filter
def author_refs(authors) -> list[dict]:
    return [r for r in (author_ref(a) for a in many(authors)) if r]


@template_filter
def latest_author(authors):
    """The author with the latest time (the IG's 'authoritative' author); else the first."""
    from .dates import parse_ts
    best, best_key = None, None
    for a in many(authors):
        ts = parse_ts((a or {}).get("time"))
        k = (ts.date() + (ts.h or "") + (ts.mi or "")) if ts else ""
        if best is None or k > best_key:
            best, best_key = a, k
    return best


@template_filter
def performer_ref(performer) -> dict | None:
    """Reference for a <performer>: its assignedEntity."""
    performer = one(performer)
    if not isinstance(performer, dict):
        return None
    return practitioner_ref(performer.get("assignedEntity"))


@template_filter
def performer_refs(performers) -> list[dict]:
    return [r for r in (performer_ref(p) for p in many(performers)) if r]


@template_filter
def related_person_ref(related) -> dict | None:
    """Reference to a RelatedPerson from a relatedEntity / participantRole of a person."""
    related = one(related)
    if not isinstance(related, dict):
        return None
    return _emit("resource/RelatedPerson", src=related)


@template_filter
def informant_ref(informant) -> dict | None:
    """Reference for an <informant>: Practitioner (assignedEntity) or RelatedPerson (relatedEntity)."""
    informant = one(informant)
    if not isinstance(informant, dict):
        return None
    if isinstance(informant.get("assignedEntity"), dict):
        return practitioner_ref(informant["assignedEntity"])
    if isinstance(informant.get("relatedEntity"), dict):
        rel = informant["relatedEntity"]
        if rel.get("classCode") == "PAT" or _is_patient(rel):
            from ..state import current
            return current().patient
        return related_person_ref(rel)
    return None


@template_filter
def location_ref(role) -> dict | None:
    """Reference to a Location from a participantRole / healthCareFacility / location."""
    role = one(role)
    if not isinstance(role, dict):
        return None
    return _emit("resource/Location", src=role)


@template_filter
def participants(stmt, *type_codes: str) -> list[dict]:
    """The <participant>s of a statement with one of these typeCodes."""
    return [p for p in many((stmt or {}).get("participant") if isinstance(stmt, dict) else None)
            if isinstance(p, dict) and (not type_codes or p.get("typeCode") in type_codes)]
