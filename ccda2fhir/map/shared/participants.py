"""Participations -> References: who did, wrote, performed or was told about something.

Each filter renders the participant's resource templates (Practitioner,
PractitionerRole, Organization, Device, RelatedPerson, Location) through the
running conversion and returns the Reference to put in the resource. Ids come
from the participant's identifiers, so a practitioner named on thirty entries is
one resource.
"""
from __future__ import annotations

from ..datatypes.dates import parse_ts
from ..datatypes.identifiers import identifiers
from ..datatypes.names import human_names
from ..datatypes.navigation import many, one
from ..engine.registry import template_filter
from ..state import current, emit

# (the header last asked about, its patient's (root, extension) ids): asked for every participant
_LAST_PATIENT: tuple = (None, frozenset())


def _patient_ids(header: dict) -> frozenset:
    global _LAST_PATIENT
    last = _LAST_PATIENT
    if last[0] is header:
        return last[1]
    pr = one(header.get("recordTarget"))
    pids = frozenset((i.get("root"), i.get("extension")) for i in many((pr or {}).get("patientRole", {}).get("id"))
                     if isinstance(i, dict) and i.get("root"))
    _LAST_PATIENT = (header, pids)
    return pids


def is_patient(role: dict) -> bool:
    """Whether an assigned author/entity is the patient themself (IG: Patient reference)."""
    code = role.get("code") if isinstance(role.get("code"), dict) else {}
    if code.get("code") == "ONESELF":
        return True
    pids = _patient_ids(current().header)
    if not pids:
        return False
    for i in many(role.get("id")):
        if isinstance(i, dict) and (i.get("root"), i.get("extension")) in pids:
            return True
    return False


def _has_person_data(role: dict, person) -> bool:
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
    return emit("resource/Organization", src=org)


@template_filter
def practitioner_ref(role, time=None) -> dict | None:
    """Reference for an assignedAuthor/assignedEntity: Practitioner, Device, Organization or Patient.

    A PractitionerRole is made too when the role names an organization or a code.
    """
    role = one(role)
    if not isinstance(role, dict):
        return None
    if is_patient(role):
        return current().patient
    if isinstance(role.get("assignedAuthoringDevice"), dict):
        return emit("resource/Device", src=role, device=role["assignedAuthoringDevice"])
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
            return emit("resource/PractitionerRole", src=role, practitioner=None,
                         organization=organization_ref(org) if org is not None else None)
        return organization_ref(org) if org is not None else None
    prac = emit("resource/Practitioner", src=role, person=person)
    if prac and (org is not None or isinstance(role.get("code"), dict)):
        emit("resource/PractitionerRole", src=role, practitioner=prac,
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
    return emit("resource/PractitionerRole", src=role, practitioner=prac,
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
    """A Reference for each <author> (see author_ref); authors that name nobody left out."""
    return [r for a in many(authors) if (r := author_ref(a))]


@template_filter
def latest_author(authors):
    """The author with the latest time (the IG's 'authoritative' author); else the first."""
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
    """A Reference for each <performer> (see performer_ref); performers that name nobody left out."""
    return [r for p in many(performers) if (r := performer_ref(p))]


@template_filter
def related_person_ref(related) -> dict | None:
    """Reference to a RelatedPerson from a relatedEntity / participantRole of a person."""
    related = one(related)
    if not isinstance(related, dict):
        return None
    return emit("resource/RelatedPerson", src=related)


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
        if rel.get("classCode") == "PAT" or is_patient(rel):
            return current().patient
        return related_person_ref(rel)
    return None


@template_filter
def location_ref(role) -> dict | None:
    """Reference to a Location from a participantRole / healthCareFacility / location."""
    role = one(role)
    if not isinstance(role, dict):
        return None
    return emit("resource/Location", src=role)


@template_filter
def participants(stmt, *type_codes: str) -> list[dict]:
    """The <participant>s of a statement with one of these typeCodes."""
    return [p for p in many((stmt or {}).get("participant") if isinstance(stmt, dict) else None)
            if isinstance(p, dict) and (not type_codes or p.get("typeCode") in type_codes)]


ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"

# Header participant associatedEntity/@classCode -> Patient.contact.relationship (our choice,
# as Microsoft's converter and US Core examples do: emergency contact / next of kin are contacts).
CONTACT_CLASSES = {
    "ECON": {"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "C",
             "display": "Emergency Contact"},
    "NOK": {"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "N",
            "display": "Next-of-Kin"},
    "GUARD": {"system": ROLE_CODE, "code": "GUARD", "display": "guardian"},
    "CAREGIVER": {"system": ROLE_CODE, "code": "CAREGIVER", "display": "caregiver"},
    "AGNT": {"system": ROLE_CODE, "code": "AGNT", "display": "agent"},
}


def contact_participant(participant) -> bool:
    """Whether a header <participant> is a patient contact (emergency contact, next of kin ...)."""
    if not isinstance(participant, dict):
        return False
    ae = participant.get("associatedEntity")
    return (isinstance(ae, dict) and ae.get("classCode") in CONTACT_CLASSES
            and participant.get("typeCode", "IND") == "IND")


def device_ref(role: dict, stmt: dict | None = None) -> dict | None:
    """Device for a Product Instance (4.37) participantRole (resource/ProductDevice); None when the
    role names no device and has no id."""
    if not isinstance(role.get("playingDevice"), dict) and not many(role.get("id")):
        return None
    return product_device_ref(role, stmt)


def is_device_role(role) -> bool:
    return isinstance(role, dict) and (isinstance(role.get("playingDevice"), dict) or any(
        t.get("root") == "2.16.840.1.113883.10.20.22.4.37" for t in many(role.get("templateId"))
        if isinstance(t, dict)))


@template_filter
def product_device_ref(role, stmt=None) -> dict | None:
    """Reference to the Device made from a Product Instance participantRole (``stmt``: the
    statement holding it, for its UDI Organizer and device status)."""
    role = one(role)
    if not isinstance(role, dict):
        return None
    return current().emit("resource/ProductDevice", src=role, stmt=stmt,
                              device=role.get("playingDevice") or {})
