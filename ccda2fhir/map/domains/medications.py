"""Medication Activity, Supply Order and Dispense specifics (C-CDA on FHIR: CF-medications).

medication[x]: a Medication resource is made (and referenced) when the source
says more about the product than its code: a manufacturer, a form
(administrationUnitCode or pharm:formCode), ingredients (pharm:ingredient or a
Drug Vehicle participant), a lot number (IG 'C-CDA to FHIR (Medication)'). Else
the code goes to medicationCodeableConcept.
"""
from __future__ import annotations

from ..datatypes.codes import alternate_codes, codeable_concept, codings
from ..datatypes.dates import datetime, period
from ..datatypes.identifiers import id_key, identifiers
from ..datatypes.navigation import attr, has_template, many, one, related
from ..datatypes.quantities import number, quantity, ratio
from ..datatypes.status import data_absent, negated, status_code, status_observation_value
from ..datatypes.terminology import concept
from ..datatypes.text import text
from ..engine.registry import template_filter, template_global
from ..shared.comments import comments
from ..shared.dosage import INSTRUCTION
from ..shared.participants import informant_ref, organization_ref, role_ref
from ..shared.products import material_of, med_concept, product_of
from ..state import current, emit

SUPPLY_ORDER = ("2.16.840.1.113883.10.20.22.4.17", "2.16.840.1.113883.10.20.1.34",
                "1.3.6.1.4.1.19376.1.5.3.1.4.7.3")
DISPENSE = ("2.16.840.1.113883.10.20.22.4.18", "2.16.840.1.113883.10.20.1.34",
            "1.3.6.1.4.1.19376.1.5.3.1.4.7.3")
DRUG_VEHICLE = "2.16.840.1.113883.10.20.22.4.24"
PLANNED = "2.16.840.1.113883.10.20.22.4.42"


def _has_product(product) -> bool:
    m = material_of(product)
    return bool(codings(m.get("code")) or text(one(m.get("name"))) or
                (isinstance(m.get("code"), dict) and codeable_concept(m["code"])))


def _vehicles(stmt) -> list[dict]:
    out = []
    for p in many((stmt or {}).get("participant")):
        role = p.get("participantRole") if isinstance(p, dict) else None
        if isinstance(role, dict) and (p.get("typeCode") == "CSM" or has_template(role, DRUG_VEHICLE)):
            ent = role.get("playingEntity")
            if isinstance(ent, dict):
                out.append(ent)
    return out


def _form(stmt, material) -> dict | None:
    return codeable_concept(material.get("formCode")) or codeable_concept(stmt.get("administrationUnitCode"))


def _needs_resource(stmt, product, material) -> bool:
    return bool(isinstance(product.get("manufacturerOrganization"), dict)
                or _form(stmt, material) or many(material.get("ingredient"))
                or _vehicles(stmt) or (material.get("lotNumberText") or {}).get("_text"))


@template_global
def medication(stmt, parents=None) -> dict:
    """{'medicationCodeableConcept': ...} or {'medicationReference': ...} for a statement.

    A supply without a product of its own takes its parent Medication Activity's.
    """
    product = product_of(stmt)
    owner = stmt
    if not _has_product(product):
        for p in many(parents):
            if _has_product(product_of(p)):
                product, owner = product_of(p), p
                break
    product = product or {}
    material = material_of(product)
    if _needs_resource(owner, product, material):
        ref = emit("resource/Medication", src=owner, product=product, material=material)
        if ref:
            return {"medicationReference": ref}
    return {"medicationCodeableConcept": med_concept(material)}


@template_filter
def med_form(stmt, material) -> dict | None:
    """Medication.form: the material's pharm:formCode, else the statement's administrationUnitCode
    (CF-medications: administrationUnitCode -> Medication.form)."""
    return _form(stmt or {}, material or {})


@template_filter
def med_ingredients(stmt, material) -> list[dict]:
    """Medication.ingredient: pharm:ingredient substances (with strength), drug vehicles (isActive false)."""
    out = []
    for ing in many((material or {}).get("ingredient")):
        if not isinstance(ing, dict):
            continue
        sub = ing.get("ingredientSubstance") if isinstance(ing.get("ingredientSubstance"), dict) else {}
        cc = codeable_concept(sub.get("code")) or ({"text": text(one(sub.get("name")))}
                                                   if text(one(sub.get("name"))) else None)
        if not cc:
            continue
        item = {"itemCodeableConcept": cc}
        cls = ing.get("classCode")
        if cls in ("ACTI", "ACTIB", "ACTIM", "ACTIR"):
            item["isActive"] = True
        elif cls in ("BASE", "IACT", "ADTV"):
            item["isActive"] = False
        strength = ratio(ing.get("quantity"))
        if strength and strength.get("numerator") and strength.get("denominator"):
            item["strength"] = strength
        out.append(item)
    for ent in _vehicles(stmt):
        cc = codeable_concept(ent.get("code")) or ({"text": text(one(ent.get("name")))}
                                                   if text(one(ent.get("name"))) else None)
        if cc:
            if "text" not in cc and text(one(ent.get("name"))):
                cc["text"] = text(one(ent.get("name")))
            out.append({"itemCodeableConcept": cc, "isActive": False})
    return out


@template_filter
def lot_number(material) -> str | None:
    """The manufacturedMaterial's lotNumberText (Immunization.lotNumber, CF-immunizations;
    Medication.batch.lotNumber)."""
    lot = (material or {}).get("lotNumberText")
    return text(lot) if lot else None


R11_STATUS_OBS = "2.16.840.1.113883.10.20.1.47"


def _status_value(stmt) -> dict | None:
    """The value of an R1.1 Medication Status Observation (10.20.1.47) that maps to a status: in
    R1.1 statusCode records the act of recording; this observation says whether it is taken."""
    return status_observation_value(stmt, "MedicationStatusObservation", R11_STATUS_OBS)


def _status_observation(stmt) -> str | None:
    value = _status_value(stmt)
    return concept(value, "MedicationStatusObservation")["code"] if value else None


@template_global
def medication_status_source(stmt) -> dict | None:
    """`_status`: the R1.1 status observation's own coding (SNOMED 'Active', 'On hold', ...) kept
    beside the FHIR status it became, in HL7's alternate-codes extension."""
    return alternate_codes(_status_value(stmt))


@template_global
def medication_request_status(stmt) -> str:
    """MedicationRequest.status: R1.1 status observation, IG ConceptMap MedicationStatus, then the codes it leaves out."""
    obs = _status_observation(stmt)
    if obs:
        return obs
    code = status_code(stmt)
    c = concept(code, "MedicationStatus") or concept(code, "MedicationRequestStatusExtra")
    return c["code"] if c else "unknown"


@template_global
def medication_statement_status(stmt) -> str:
    """MedicationStatement.status; a negated statement (not taken) -> not-taken."""
    if negated(stmt):
        return "not-taken"
    obs = _status_observation(stmt)
    if obs:
        return obs
    c = concept(status_code(stmt), "MedicationStatementStatus")
    return c["code"] if c else "unknown"


@template_global
def medication_intent(stmt, element=None) -> str:
    """MedicationRequest.intent: Planned Medication Activity (4.42) -> plan (RQO order, PRP proposal);
    Medication Activity mood via the IG ConceptMap MedActivityMood (INT -> order); a Supply Order -> order.

    The IG's example output writes 'plan' for INT; the published ConceptMap says 'order',
    and a prescription is an order in US Core: the ConceptMap is followed.
    """
    mood = (stmt or {}).get("moodCode") or "INT"
    if element == "supply":
        return "order"
    if has_template(stmt, PLANNED):
        c = concept(mood, "PlannedMedicationIntent")
        return c["code"] if c else "plan"
    c = concept(mood, "MedicationRequestIntent")
    return c["code"] if c else "order"


# The intents US Core requires a requester for (us-core-21)
_ORDERS = frozenset({"order", "original-order", "reflex-order", "filler-order", "instance-order"})


@template_global
def requester_or_absent(requester, intent: str):
    """MedicationRequest.requester (from the author, CF-medications); for an order whose source
    names no author, data-absent: US Core requires a requester on every order (us-core-21)."""
    if requester or intent not in _ORDERS:
        return requester
    return {"extension": [data_absent("UNK")]}


def supply_orders(stmt) -> list[dict]:
    """Nested supply orders (4.17; R1.1/IHE supply activities not in EVN mood)."""
    return [s for s in related(stmt, *SUPPLY_ORDER) if s.get("moodCode", "INT") != "EVN"]


def dispenses(stmt) -> list[dict]:
    """Nested Medication Dispenses (4.18; R1.1/IHE supply activities in EVN mood)."""
    return [s for s in related(stmt, *DISPENSE) if s.get("moodCode", "EVN") == "EVN"]


@template_filter
def dispense_request(stmt, own: bool = False) -> dict | None:
    """MedicationRequest.dispenseRequest from the first Medication Supply Order (4.17)
    nested in ``stmt`` (``own``: ``stmt`` is the supply order itself).

    repeatNumber counts every fill; numberOfRepeatsAllowed leaves the first out (IG).
    """
    orders = [stmt] if own and isinstance(stmt, dict) else supply_orders(stmt)
    if not orders:
        return None
    s = orders[0]
    out = {}
    eff = one(s.get("effectiveTime"))
    per = period(eff)
    if not per and isinstance(eff, dict):
        when = datetime(eff)
        per = {"start": when} if when else None
    if per:
        out["validityPeriod"] = per
    rn = number(one(s.get("repeatNumber")))
    if isinstance(rn, int) and rn >= 1:
        out["numberOfRepeatsAllowed"] = rn - 1
    q = quantity(s.get("quantity"))
    if q:
        out["quantity"] = q
    dur = quantity(s.get("expectedUseTime"))
    if dur:
        out["expectedSupplyDuration"] = dur
    perf = one(s.get("performer"))
    entity = perf.get("assignedEntity") if isinstance(perf, dict) else None
    if isinstance(entity, dict) and not isinstance(entity.get("assignedPerson"), dict):
        # dispenseRequest.performer is an Organization (the intended pharmacy)
        ref = organization_ref(entity.get("representedOrganization"))
        if ref:
            out["performer"] = ref
    return out or None


@template_filter
def supply_request_refs(stmt, parents=None) -> list[dict]:
    """MedicationRequests made from the Supply Orders of a medication history (EVN) entry.

    A MedicationStatement has no dispenseRequest: the order it was based on becomes
    its own MedicationRequest (intent order) and MedicationStatement.basedOn points to it.
    """
    out = []
    for s in supply_orders(stmt):
        ref = emit("resource/MedicationRequest", src=s, parents=[stmt] + many(parents), element="supply")
        if ref:
            out.append(ref)
    return out


@template_filter
def dispense_refs(stmt, parents=None, prescription=None) -> list[dict]:
    """MedicationDispenses made from the Medication Dispense (4.18) supplies of a statement."""
    out = []
    for s in dispenses(stmt):
        ref = emit("resource/MedicationDispense", src=s, parents=[stmt] + many(parents),
                    prescription=prescription)
        if ref:
            out.append(ref)
    return out


@template_filter
def supply_source(stmt, parents=None) -> dict:
    """For a supply: the Medication Activity it belongs to (its parent), else {}."""
    for p in many(parents):
        if isinstance(p, dict) and p.get("consumable") is not None:
            return p
    return {}


@template_global
def own_ref(resource_type: str, ids) -> dict | None:
    """The Reference the statement being rendered will have (from its identifiers), so the
    resources it makes (dispenses) can point back to it; None when it has no identifier."""
    key = id_key(ids)
    return {"reference": f"{resource_type}/{current().id_for(resource_type, key)}"} if key else None


@template_filter
def supply_identifiers(stmt) -> list[dict]:
    """Identifiers of the Supply Orders of a request-mood Medication Activity: the order the
    prescription was written as (its number is often the Rx number) is the same request."""
    own = identifiers((stmt or {}).get("id"))
    out = []
    for s in supply_orders(stmt):
        out.extend(i for i in identifiers(s.get("id")) if i not in own and i not in out)
    return out


@template_filter
def supply_author_times(stmt) -> list:
    """author/time of the Supply Orders of a statement (authoredOn when the activity has none)."""
    return [t for s in supply_orders(stmt) for t in attr(s.get("author"), "time")]


HITSP_MEDICATION_TYPE = "2.16.840.1.113883.3.88.11.83.8.1"


@template_filter
def medication_type(stmt) -> list[dict]:
    """category from a HITSP C83 Medication Type observation (Prescription / OTC drug, SNOMED):
    FHIR's category value sets are examples/preferred, and this is the only kind of the use the
    source states."""
    out = []
    for obs in related(stmt, HITSP_MEDICATION_TYPE):
        cc = codeable_concept(obs.get("code")) or codeable_concept(one(obs.get("value")))
        if cc and cc not in out:
            out.append(cc)
    return out


FULFILLMENT_INSTRUCTION = ("2.16.840.1.113883.10.20.1.43", "1.3.6.1.4.1.19376.1.5.3.1.4.3.1")


@template_filter
def fulfillment_notes(stmt, own: bool = False) -> list[dict]:
    """note from R1.1/IHE Fulfillment Instructions (10.20.1.43, instructions to the pharmacist),
    nested in the statement or in its supply orders (``own``: ``stmt`` is the supply order)."""
    holders = [stmt] + ([] if own else supply_orders(stmt))
    out = []
    for h in holders:
        for act in related(h, *FULFILLMENT_INSTRUCTION):
            t = text(act.get("text"))
            if t and {"text": t} not in out:
                out.append({"text": t})
    return out


@template_filter
def medication_notes(stmt, own_supply: bool = False) -> list[dict]:
    """note: Comment Activities on the statement and on its (absorbed) instruction acts, then
    fulfillment instructions (see fulfillment_notes)."""
    out = list(comments(stmt))
    for act in related(stmt, *INSTRUCTION):
        out.extend(n for n in comments(act) if n not in out)
    out.extend(n for n in fulfillment_notes(stmt, own_supply) if n not in out)
    return out


@template_filter
def participant_role_refs(participations, holder: str = "assignedEntity") -> list[dict]:
    """References for performers/informants: the PractitionerRole when the entity names an
    organization or a role (so no role is made and left unreferenced), else what it is."""
    out = []
    for p in many(participations):
        if not isinstance(p, dict):
            continue
        ref = role_ref(p[holder]) if isinstance(p.get(holder), dict) else informant_ref(p)
        if ref and ref not in out:
            out.append(ref)
    return out
