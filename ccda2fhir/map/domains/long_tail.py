"""The long tail: C-CDA templates no section owner maps (routes in templates/routes/long_tail.toml).

An Indication (4.19) outside a statement whose template takes it as a reason: when its id is a
statement converted elsewhere it only points at that resource (reported when the holder has no
place for a reason); when it carries a problem code of its own it is a Condition. Qualifying
observations become components or categories of their holder's resource.
"""
from __future__ import annotations

from ..datatypes.codes import codeable_concept
from ..datatypes.navigation import add_once, has_template, many, one, statement_of
from ..datatypes.text import text
from ..engine.registry import template_global
from ..shared.comments import COMMENT_ACTIVITY, comments
from ..shared.holders import annotated_holder, defer, holder_or_later, made_resource
from ..shared.observation_values import obs_code, obs_value
from ..shared.observations import restates
from ..shared.participants import participants
from ..shared.reasons import REASON_TYPES
from ..shared.statements import ELEMENT_BY_CLASS, becomes_resource, refs_to_statements
from ..state import current

@template_global
def indication_as_condition(src, parents) -> bool:
    """Whether an Indication becomes a Condition of its own: it has a coded value and its id is
    no statement converted elsewhere. Otherwise it points at that statement: reported with the
    resource it names (the holder's resource has no reason element: Observation, AllergyIntolerance)."""
    conv = current()
    value = one((src or {}).get("value"))
    coded = isinstance(value, dict) and not value.get("nullFlavor") and bool(value.get("code"))
    found = refs_to_statements((src or {}).get("id"), None, exclude=src)
    holder = one(parents) if parents else None
    if found:
        where = (f"the {ELEMENT_BY_CLASS.get(holder.get('classCode'), 'statement')} holding it"
                 if isinstance(holder, dict) else "a section entry")
        conv.warn(f"indication points at {found[0]['reference']}; {where} has no element for a "
                  "reason in FHIR, the link is not kept", level="warning")
        return False
    if coded:
        return True
    conv.warn("indication with neither a coded value nor the id of a statement in the document",
              level="partial")
    return False


@template_global
def owner_component(src, parents) -> bool:
    """Add an observation nested in an Observation that does not take it itself (status of a
    social history / functional status observation, a supporting observation, a severity) as a
    component of that Observation (code + value[x]). False when no Observation holds it: the
    caller then makes an Observation of its own."""
    holder = annotated_holder(parents)
    if holder is None or holder is not one(parents) or ELEMENT_BY_CLASS.get(holder.get("classCode")) != "observation" \
            or restates(holder, src):
        return False
    comp = {"code": obs_code(src), **obs_value(src)}
    comp = {k: v for k, v in comp.items() if v not in (None, "", [], {})}
    if len(comp) < 2:
        return False
    interp = [c for x in many(src.get("interpretationCode")) if (c := codeable_concept(x))]
    if interp:
        comp["interpretation"] = interp
    conv = current()
    where = dict(conv.where)

    def apply(res: dict) -> None:
        if res.get("resourceType") == "Observation":
            add_once(res.setdefault("component", []), comp)
        else:
            conv.warn(f"observation qualifying a {res.get('resourceType')}: not kept", level="partial",
                      **where)

    res = made_resource(holder)
    if res is not None:
        apply(res)
    else:
        defer(conv, holder, apply)   # the holder is rendering now
    return True


@template_global
def owner_category(src, parents, resource_type: str) -> bool:
    """Add an observation's coded value as a category of the ``resource_type`` resource its
    holder became (Epic's goal type 1.2.840.114350.1.72.6.1 -> Goal.category)."""
    conv = current()
    holder = one(parents) if parents else None
    cc = codeable_concept(one((src or {}).get("value")))
    if not isinstance(holder, dict) or not cc:
        conv.warn(f"{resource_type} category with no holder or no coded value: not kept", level="partial")
        return False
    where = dict(conv.where)

    def apply(res: dict) -> None:
        if res.get("resourceType") == resource_type:
            add_once(res.setdefault("category", []), cc)
        else:
            conv.warn(f"{resource_type} category on a {res.get('resourceType')}: not kept",
                      level="partial", **where)

    res = made_resource(holder)
    if res is not None:
        apply(res)
    else:
        defer(conv, holder, apply)
    return True


IMMUNIZATION_ACTIVITY = ("2.16.840.1.113883.10.20.22.4.52", "2.16.840.1.113883.10.20.1.24")


@template_global
def prior_dose(src, parents) -> dict | None:
    """A Substance Administered Act (4.118) in an Immunization Activity: an earlier dose of the
    series, {'vaccine': the holder's vaccine code element, 'when': the act's effectiveTime,
    'dose': the sequenceNumber of the entryRelationship holding it}. None (reported) when the
    holder is no immunization or the act gives no date: there is nothing a resource can say."""
    holder = one(parents) if parents else None
    conv = current()
    eff = one((src or {}).get("effectiveTime"))
    if not isinstance(holder, dict) or not has_template(holder, *IMMUNIZATION_ACTIVITY):
        conv.warn("substance administered act outside an immunization: the holder's resource is "
                  "the administration; the act itself is not kept", level="partial")
        return None
    if not isinstance(eff, dict) or not (eff.get("value") or eff.get("low") or eff.get("center")):
        conv.warn("substance administered act without a date: not kept as a dose of its own",
                  level="partial")
        return None
    dose = None
    for rel in many(holder.get("entryRelationship")):
        _, child = statement_of(rel)
        if child is src:
            seq = (rel.get("sequenceNumber") or {}) if isinstance(rel, dict) else {}
            dose = seq.get("value") if isinstance(seq, dict) else None
    material = (((holder.get("consumable") or {}).get("manufacturedProduct") or {})
                .get("manufacturedMaterial") or {})
    try:
        dose = int(dose) if dose is not None and int(dose) > 0 else None
    except (TypeError, ValueError):
        dose = None
    return {"vaccine": material, "when": eff, "dose": dose}


@template_global
def responsible_parties(src) -> list[dict]:
    """Drug Monitoring Act participant RESP (participantRole ASSIGNED, playingEntity PSN: the
    person responsible for monitoring) -> References to Practitioners."""
    conv = current()
    out = []
    for part in participants(src, "RESP"):
        role = part.get("participantRole")
        if not isinstance(role, dict):
            continue
        person = role.get("playingEntity")
        ref = conv.emit("resource/Practitioner", src=role, person=person) \
            if isinstance(person, dict) or many(role.get("id")) else None
        if ref and ref not in out:
            out.append(ref)
    return out


@template_global
def purpose_reasons(src, parents) -> dict:
    """{'codes', 'refs', 'notes'} of a Purpose Activity (1.30, resource/PurposeProcedure) from its
    RSON targets: a reason naming (by id) a statement converted elsewhere is a reasonReference;
    else its code (an observation's coded value first) is a reasonCode, its text when uncoded.
    The reason's Comment Activities are notes. Whatever else the activity or its reasons hold
    is mapped by its own route (map_nested: a generic resource, reported, when none)."""
    conv = current()
    codes, refs, notes = [], [], []
    chain = [src] + list(many(parents))
    for rel in many((src or {}).get("entryRelationship")):
        el, stmt = statement_of(rel)
        if stmt is None:
            continue
        if rel.get("typeCode") != "RSON":
            conv.map_nested(el, stmt, chain)
            continue
        found = refs_to_statements(stmt.get("id"), REASON_TYPES, exclude=stmt)
        value = one(stmt.get("value")) if el == "observation" else None
        cc = codeable_concept(value) if isinstance(value, dict) and value.get("code") else None
        cc = cc or codeable_concept(stmt.get("code")) or (
            {"text": text(stmt.get("text"))} if text(stmt.get("text")) else None)
        for r in found:
            add_once(refs, r)
        if cc and not found:
            add_once(codes, cc)
        for n in comments(stmt):
            add_once(notes, n)
        for rel2 in many(stmt.get("entryRelationship")):
            el2, inner = statement_of(rel2)
            if inner is not None and not has_template(inner, *COMMENT_ACTIVITY):
                conv.map_nested(el2, inner, [stmt] + chain)
        if not (cc or found):
            conv.warn("Purpose Activity reason with neither a code nor a text: not kept",
                      level="partial", line=stmt.get("_line"))
    return {"codes": codes, "refs": refs, "notes": notes}


@template_global
def value_qualifiers(src) -> list[dict]:
    """Observation.component for each qualifier of a coded value (CD qualifier: name = the
    component's code, value = its valueCodeableConcept), as the qualifier writes them."""
    out = []
    for v in many((src or {}).get("value")):
        for q in many(v.get("qualifier") if isinstance(v, dict) else None):
            if not isinstance(q, dict):
                continue
            name, value = codeable_concept(q.get("name")), codeable_concept(q.get("value"))
            if name and value:
                add_once(out, {"code": name, "valueCodeableConcept": value})
            elif name or value:
                current().warn("value qualifier without a name or a value: not kept", level="partial")
    return out


@template_global
def episode_focus(src, parents) -> list[dict]:
    """Observation.focus of an Episode Observation: the resource its holder became. Its SAS
    targets (pointers by id to the earlier episode) are reported, FHIR Observation having no
    element for 'follows that episode'; the earlier episode itself is converted where it stands."""
    conv = current()
    holder = one(parents) if parents else None

    def later(mine, ref):
        add_once(mine.setdefault("focus", []), ref)
    ref = holder_or_later(src, parents, later)
    if ref is None and not (isinstance(holder, dict) and becomes_resource(holder)):
        conv.warn("Episode Observation: the statement it qualifies became no resource; kept without "
                  "a focus", level="partial")
    for rel in many((src or {}).get("entryRelationship")):
        el, prior = statement_of(rel)
        if prior is None:
            continue
        found = refs_to_statements(prior.get("id"), None, exclude=prior)
        where = f" ({found[0]['reference']})" if found else ""
        conv.warn(f"Episode Observation: the link to the earlier episode{where} ({rel.get('typeCode')}) "
                  "has no FHIR Observation element; not kept", level="partial", line=prior.get("_line"))
    return [ref] if ref else []
