"""Procedure specifics (C-CDA on FHIR CF-procedures): status, performers, location, devices."""
from __future__ import annotations

from ..datatypes.codes import codeable_concept
from ..datatypes.navigation import has_template, many, one, related, template_ids
from ..datatypes.status import data_absent, negated, status_code
from ..datatypes.terminology import concept
from ..datatypes.text import text
from ..engine.registry import template_global
from ..shared.comments import comments, plan_instructions
from ..shared.participants import device_ref, is_device_role, location_ref, organization_ref, practitioner_ref
from ..state import current

_EVENT_MOODS = (None, "", "EVN")


@template_global
def procedure_status(src) -> str:
    """negationInd -> not-done (IG); statusCode through the IG ProcedureStatus ConceptMap, then the
    extra statuses it leaves out; 'completed' for an event without statusCode (peers agree),
    'unknown' for a nullFlavor statusCode."""
    if negated(src):
        return "not-done"
    sc = status_code(src)
    c = concept(sc, "ProcedureStatus") or concept(sc, "ProcedureStatusExtra")
    if c:
        return c["code"]
    stc = one((src or {}).get("statusCode"))
    if isinstance(stc, dict) and stc.get("nullFlavor"):
        return "unknown"
    return "completed"


@template_global
def procedure_performed_absent(src) -> dict | None:
    """_performedDateTime data-absent-reason when effectiveTime gives nothing (IG)."""
    eff = one((src or {}).get("effectiveTime"))
    if isinstance(eff, dict):
        for part in (eff, eff.get("low"), eff.get("high"), eff.get("center")):
            if isinstance(part, dict) and part.get("value"):
                return None
        return {"extension": [data_absent(eff.get("nullFlavor") or "UNK")]}
    return {"extension": [data_absent("UNK")]}


@template_global
def procedure_performers(src) -> list[dict]:
    """Procedure.performer: actor from assignedEntity (Practitioner, or Organization when only an
    organization is named), function from sdtc:functionCode; onBehalfOf only when the actor is not
    a Practitioner/PractitionerRole (R4 prc-1)."""
    out = []
    for p in many((src or {}).get("performer")):
        if not isinstance(p, dict):
            continue
        ent = p.get("assignedEntity")
        actor = practitioner_ref(ent)
        if not actor:
            continue
        perf = {"function": codeable_concept(p.get("sdtc_functionCode") or p.get("functionCode")),
                "actor": actor}
        if not actor["reference"].startswith(("Practitioner", "Organization")) and isinstance(ent, dict):
            perf["onBehalfOf"] = organization_ref(ent.get("representedOrganization"))
        perf = {k: v for k, v in perf.items() if v}
        if perf not in out:
            out.append(perf)
    return out


@template_global
def procedure_location(src) -> dict | None:
    """Procedure.location (0..1): the first Service Delivery Location participant (LOC)."""
    for p in many((src or {}).get("participant")):
        # A Product Instance put in a LOC participant (seen in HL7's own examples) is a device.
        if isinstance(p, dict) and p.get("typeCode") == "LOC" and not is_device_role(p.get("participantRole")):
            ref = location_ref(p.get("participantRole"))
            if ref:
                return ref
    return None


@template_global
def procedure_devices(src) -> list[dict]:
    """Procedure.focalDevice from Product Instance participants (DEV, 4.37): the device the
    procedure is about (implanted, removed, used on the patient)."""
    out = []
    for p in many((src or {}).get("participant")):
        if not isinstance(p, dict):
            continue
        role = p.get("participantRole")
        if p.get("typeCode") == "DEV" and isinstance(role, dict) or p.get("typeCode") == "LOC" and is_device_role(role):
            ref = device_ref(role, src)
            if ref and {"manipulated": ref} not in out:
                out.append({"manipulated": ref})
    return out


@template_global
def procedure_used_codes(src) -> list[dict]:
    """Procedure.usedCode from consumable participants (CSM) naming an entity by code."""
    out = []
    for p in many((src or {}).get("participant")):
        if isinstance(p, dict) and p.get("typeCode") == "CSM":
            role = p.get("participantRole") or {}
            ent = role.get("playingEntity") or role.get("playingDevice") or {}
            cc = codeable_concept(ent.get("code")) if isinstance(ent, dict) else None
            if cc and cc not in out:
                out.append(cc)
    return out


@template_global
def procedure_code(src) -> dict:
    """Procedure.code (required in US Core): the code, else the narrative text, else data-absent."""
    cc = codeable_concept((src or {}).get("code"))
    if cc:
        return cc
    t = text((src or {}).get("text"))
    if t:
        return {"text": t}
    code = one((src or {}).get("code")) or {}
    return {"extension": [data_absent(code.get("nullFlavor") or "UNK")]}


_REASON_NOT_DONE = ("2.16.840.1.113883.10.20.24.3.88",)  # QDM/C-CDA "Reason" observation (77301-0)


@template_global
def procedure_status_reason(src) -> dict | None:
    """Procedure.statusReason: the value of a nested Reason observation (template
    2.16.840.1.113883.10.20.24.3.88, code 77301-0 'Reason care action performed or not'), as the
    C-CDA Procedure Refused example carries why a procedure was not done."""
    for obs in related(src, *_REASON_NOT_DONE):
        cc = codeable_concept(one(obs.get("value")))
        if cc:
            return cc
    return None


@template_global
def procedure_outcome(src) -> dict | None:
    """Procedure.outcome from a nested untemplated act whose code states the outcome (the C-CDA
    Companion Guide 'Procedure Unsuccessful' pattern: SUBJ, inversionInd, code 103709008
    'Failed attempted procedure'); its narrative text, when given, is the outcome's text."""
    for rel in many((src or {}).get("entryRelationship")):
        if not isinstance(rel, dict) or rel.get("typeCode") != "SUBJ" or str(rel.get("inversionInd")) != "true":
            continue
        act = rel.get("act") or rel.get("observation")
        if not isinstance(act, dict) or template_ids(act):
            continue
        cc = codeable_concept(act.get("code"))
        if cc:
            t = text(act.get("text"))
            if t:
                cc["text"] = t
            return cc
    return None


@template_global
def procedure_methods(src) -> list[dict]:
    """methodCode -> the core R4 extension procedure-method (Procedure has no method element)."""
    return [{"url": "http://hl7.org/fhir/StructureDefinition/procedure-method", "valueCodeableConcept": cc}
            for cc in (codeable_concept(m) for m in many((src or {}).get("methodCode"))) if cc]


@template_global
def procedure_specimens(src) -> list[dict]:
    """The procedure's specimens as Specimen resources (the results mapping's template, with the
    procedure as the collection: its time, body site and method). R4 Procedure has no element
    that points at a specimen, so they stand in the Bundle on their own."""
    out = []
    for sp in many((src or {}).get("specimen")):
        role = sp.get("specimenRole") if isinstance(sp, dict) else None
        if not isinstance(role, dict):
            continue
        entity = role.get("specimenPlayingEntity") or {}
        if not many(role.get("id")) and not isinstance(entity.get("code"), dict):
            continue
        ref = current().emit("resource/Specimen", src=role, entity=entity, collection=src)
        if ref:
            out.append(ref)
    return out


_ENCOUNTER_TEMPLATES = ("2.16.840.1.113883.10.20.22.4.49", "2.16.840.1.113883.10.20.1.21",
                        "1.3.6.1.4.1.19376.1.5.3.1.4.14")


@template_global
def parent_encounter(parents) -> dict | None:
    """The Encounter a statement nested in an Encounter Activity belongs to (Procedure.encounter,
    ServiceRequest.encounter), rendered as the encounters mapping renders it."""
    for i, p in enumerate(many(parents)):
        if isinstance(p, dict) and has_template(p, *_ENCOUNTER_TEMPLATES) and p.get("moodCode", "EVN") == "EVN":
            return current().emit("resource/Encounter", src=p, parents=list(many(parents))[i + 1:],
                                  element="encounter")
    return None


@template_global
def procedure_notes(src) -> list[dict]:
    """Procedure.note: Comment Activities, and the text of nested Instructions (4.20), which a
    Procedure has no other element for."""
    out = comments(src)
    instr = plan_instructions(src)
    if instr:
        out.append({"text": instr})
    return out
