"""The long tail: C-CDA templates no section owner maps (routes in templates/routes/long_tail.toml).

- Security Observations (DS4P privacy annotations, 2.16.840.1.113883.3.445.21, usually in a
  Privacy Annotations organizer 2.16.840.1.113883.3.3251.1.4) are labels on the statement they
  annotate: FHIR has them as ``meta.security`` of the resource that statement became.
- An Indication (4.19) outside a statement whose template takes it as a reason: when its id is a
  statement converted elsewhere it only points at that resource (reported when the holder has no
  place for a reason); when it carries a problem code of its own it is a Condition.
"""
from __future__ import annotations


from ...assemble.ids import canonical
from .codes import coding
from .navigation import many, one, statement_of, template_ids
from ..engine.registry import template_global

SECURITY_OBSERVATION = "2.16.840.1.113883.3.445.21"
PRIVACY_ANNOTATIONS = "2.16.840.1.113883.3.3251.1.4"
INDICATION = "2.16.840.1.113883.10.20.22.4.19"


def _conv():
    from ..state import current
    return current()


def resource_of(stmt) -> dict | None:
    """The Reference of the resource already made from ``stmt``, if any (the engine keeps it)."""
    return _conv().resource_of(stmt)


def _labels(stmt) -> list[dict]:
    """Security label Codings of a Security Observation or of every one in an organizer."""
    if SECURITY_OBSERVATION in template_ids(stmt):
        c = coding(one(stmt.get("value")))
        return [c] if c else []
    out = []
    for comp in many(stmt.get("component")) + many(stmt.get("entryRelationship")):
        _, child = statement_of(comp)
        if child is not None:
            for c in _labels(child):
                if c not in out:
                    out.append(c)
    return out


_ELEMENT_BY_CLASS = {"OBS": "observation", "ACT": "act", "CLUSTER": "organizer",
                     "BATTERY": "organizer", "PROC": "procedure", "ENC": "encounter",
                     "SBADM": "substanceAdministration", "SPLY": "supply"}


def _becomes_resource(stmt: dict) -> bool:
    """Whether the dispatcher makes a resource of this statement (its route names a template;
    without a route, the generic templates exist for all but acts and organizers)."""
    from ..engine.routes import table
    routes = table()
    tids = template_ids(stmt)
    element = _ELEMENT_BY_CLASS.get(stmt.get("classCode"))
    for tid in tids:
        for route in routes.by_template.get(tid, ()):
            if (not route.element or route.element == element or element is None) \
                    and (route.template or route.by_mood):
                return True
    if any(routes.by_template.get(t) for t in tids):
        return False
    fallback = routes.fallback.get(element or "")
    return bool(fallback and fallback.template)


def _annotated(parents) -> dict | None:
    """The statement a privacy annotation labels: the nearest ancestor that becomes a resource."""
    for p in many(parents):
        if isinstance(p, dict) and PRIVACY_ANNOTATIONS not in template_ids(p) and _becomes_resource(p):
            return p
    return None


def _resource(stmt) -> dict | None:
    ref = resource_of(stmt)
    return _conv().resources.get(ref["reference"]) if ref else None


def _label(res: dict, labels: list[dict]) -> None:
    security = res.setdefault("meta", {}).setdefault("security", [])
    for c in labels:
        _add_once(security, c)


@template_global
def apply_security_labels(src, parents) -> dict:
    """Put the labels of a Security Observation / Privacy Annotations organizer on the
    ``meta.security`` of the resource its annotated statement became (nearest ancestor that
    became one). Returns {} (the annotation is no resource of its own). When that statement is
    still rendering, the labels wait for it; annotations with no such resource (the
    document-level ones of a DS4P section) are reported."""
    conv = _conv()
    labels = _labels(src)
    if not labels:
        conv.warn("security observation without a coded label", level="partial")
        return {}
    conv.account_for(src)
    owner = _annotated(parents)
    if owner is None:
        # Standing alone in a section (DS4P 'Security and Privacy Prohibitions'): the labels are
        # the document's -> meta.security of the Composition (made from the header), once it is made.
        owner = conv.header
    res = _resource(owner)
    if res is not None:
        _label(res, labels)
        return {}
    # The annotated statement is rendering now (it maps its nested statements itself).
    _defer(conv, owner, lambda res: _label(res, labels))
    return {}


def _defer(conv, owner: dict, apply) -> None:
    """Run ``apply(resource)`` once the statement ``owner`` (rendering now) has become one."""
    conv.when_made(owner, apply)


@template_global
def indication_as_condition(src, parents) -> bool:
    """Whether an Indication becomes a Condition of its own: it has a coded value and its id is
    no statement converted elsewhere. Otherwise it points at that statement: reported with the
    resource it names (the holder's resource has no reason element: Observation, AllergyIntolerance)."""
    from .plans import refs_to_statements
    conv = _conv()
    value = one((src or {}).get("value"))
    coded = isinstance(value, dict) and not value.get("nullFlavor") and bool(value.get("code"))
    found = refs_to_statements((src or {}).get("id"), None, exclude=src)
    holder = one(parents) if parents else None
    if found:
        where = (f"the {_ELEMENT_BY_CLASS.get(holder.get('classCode'), 'statement')} holding it"
                 if isinstance(holder, dict) else "a section entry")
        conv.warn(f"indication points at {found[0]['reference']}; {where} has no element for a "
                  "reason in FHIR, the link is not kept", level="warning")
        return False
    if coded:
        return True
    conv.warn("indication with neither a coded value nor the id of a statement in the document",
              level="partial")
    return False


def _owner(parents, skip=()) -> tuple[dict | None, dict | None]:
    """(Reference, resource) of the nearest ancestor statement that became a resource."""
    conv = _conv()
    for p in many(parents):
        if skip and set(skip) & set(template_ids(p)):
            continue
        ref = resource_of(p)
        if ref:
            return ref, conv.resources.get(ref["reference"])
    return None, None


def _add_once(items: list, value) -> None:
    if canonical(value) not in {canonical(x) for x in items}:
        items.append(value)


@template_global
def owner_component(src, parents) -> bool:
    """Add an observation nested in an Observation that does not take it itself (status of a
    social history / functional status observation, a supporting observation, a severity) as a
    component of that Observation (code + value[x]). False when no Observation holds it: the
    caller then makes an Observation of its own."""
    from .observations import obs_code, obs_value, restates
    holder = _annotated(parents)
    if holder is None or holder is not one(parents) or _ELEMENT_BY_CLASS.get(holder.get("classCode")) != "observation" \
            or restates(holder, src):
        return False
    from .codes import codeable_concept
    comp = {"code": obs_code(src), **obs_value(src)}
    comp = {k: v for k, v in comp.items() if v not in (None, "", [], {})}
    if len(comp) < 2:
        return False
    interp = [c for c in (codeable_concept(x) for x in many(src.get("interpretationCode"))) if c]
    if interp:
        comp["interpretation"] = interp
    conv = _conv()
    where = dict(conv.where)

    def apply(res: dict) -> None:
        if res.get("resourceType") == "Observation":
            _add_once(res.setdefault("component", []), comp)
        else:
            conv.warn(f"observation qualifying a {res.get('resourceType')}: not kept", level="partial",
                      **where)

    res = _resource(holder)
    if res is not None:
        apply(res)
    else:
        _defer(conv, holder, apply)   # the holder is rendering now
    return True


@template_global
def owner_category(src, parents, resource_type: str) -> bool:
    """Add an observation's coded value as a category of the ``resource_type`` resource its
    holder became (Epic's goal type 1.2.840.114350.1.72.6.1 -> Goal.category)."""
    from .codes import codeable_concept
    conv = _conv()
    holder = one(parents) if parents else None
    cc = codeable_concept(one((src or {}).get("value")))
    if not isinstance(holder, dict) or not cc:
        conv.warn(f"{resource_type} category with no holder or no coded value: not kept", level="partial")
        return False
    where = dict(conv.where)

    def apply(res: dict) -> None:
        if res.get("resourceType") == resource_type:
            _add_once(res.setdefault("category", []), cc)
        else:
            conv.warn(f"{resource_type} category on a {res.get('resourceType')}: not kept",
                      level="partial", **where)

    res = _resource(holder)
    if res is not None:
        apply(res)
    else:
        _defer(conv, holder, apply)
    return True


IMMUNIZATION_ACTIVITY = ("2.16.840.1.113883.10.20.22.4.52", "2.16.840.1.113883.10.20.1.24")


@template_global
def prior_dose(src, parents) -> dict | None:
    """A Substance Administered Act (4.118) in an Immunization Activity: an earlier dose of the
    series, {'vaccine': the holder's vaccine code element, 'when': the act's effectiveTime,
    'dose': the sequenceNumber of the entryRelationship holding it}. None (reported) when the
    holder is no immunization or the act gives no date: there is nothing a resource can say."""
    from .navigation import has_template
    holder = one(parents) if parents else None
    conv = _conv()
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
    from .participants import participants
    conv = _conv()
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


SOP_INSTANCE = "2.16.840.1.113883.10.20.6.2.8"
DCM_UID = "1.2.840.10008.2.6.1"


def _uid(stmt) -> str | None:
    for ii in many((stmt or {}).get("id")):
        if isinstance(ii, dict) and ii.get("root") and not ii.get("extension") and not ii.get("nullFlavor"):
            return ii["root"]
    return None


@template_global
def imaging_series(study) -> list[dict]:
    """ImagingStudy.series from a DIR Study Act's Series Acts (code 113015; id root = series UID,
    code qualifier Modality (121139) value = modality) and their SOP Instance Observations (6.2.8:
    id root = SOP instance UID, code = SOP class UID). A series with no UID or no modality
    (both required by FHIR) is reported and left out."""
    from .codes import coding
    conv = _conv()
    out = []
    for rel in many((study or {}).get("entryRelationship")):
        el, series = statement_of(rel)
        if el != "act" or series is None:
            continue
        uid = _uid(series)
        code = one(series.get("code")) or {}
        modality = None
        for q in many(code.get("qualifier")):
            if isinstance(q, dict) and (one(q.get("name")) or {}).get("code") == "121139":
                modality = coding(one(q.get("value")))
        if not uid or not modality:
            conv.warn("DICOM series without a UID or a modality: not kept", level="partial",
                      line=series.get("_line"))
            continue
        instances = []
        for r2 in many(series.get("entryRelationship")):
            el2, sop = statement_of(r2)
            if sop is None or SOP_INSTANCE not in template_ids(sop):
                continue
            sop_uid = _uid(sop)
            cls = one(sop.get("code")) or {}
            if sop_uid and cls.get("code"):
                inst = {"uid": sop_uid, "sopClass": {"system": "urn:ietf:rfc:3986",
                                                     "code": "urn:oid:" + cls["code"]}}
                if cls.get("displayName"):
                    inst["title"] = cls["displayName"]
                instances.append(inst)
            else:
                conv.warn("DICOM SOP instance without a UID or a SOP class: not kept", level="partial",
                          line=sop.get("_line"))
            if sop.get("text") or sop.get("effectiveTime"):
                # R4 ImagingStudy.series.instance has uid, sopClass, number and title only
                conv.warn("DICOM SOP instance: its retrieval reference (WADO) and time have no FHIR R4 "
                          "ImagingStudy element; not kept", level="partial", line=sop.get("_line"))
        s = {"uid": uid, "modality": modality, "numberOfInstances": len(instances) or None,
             "instance": instances or None}
        out.append({k: v for k, v in s.items() if v is not None})
    return out


@template_global
def purpose_reasons(src, parents) -> dict:
    """{'codes', 'refs', 'notes'} of a Purpose Activity (1.30, resource/PurposeProcedure) from its
    RSON targets: a reason naming (by id) a statement converted elsewhere is a reasonReference;
    else its code (an observation's coded value first) is a reasonCode, its text when uncoded.
    The reason's Comment Activities are notes. Whatever else the activity or its reasons hold
    is mapped by its own route (map_nested: a generic resource, reported, when none)."""
    from .codes import codeable_concept
    from .conditions import COMMENT_ACTIVITY, comments
    from .navigation import has_template
    from .plans import _REASON_TYPES, refs_to_statements
    from .text import text
    conv = _conv()
    codes, refs, notes = [], [], []
    chain = [src] + list(many(parents))
    for rel in many((src or {}).get("entryRelationship")):
        el, stmt = statement_of(rel)
        if stmt is None:
            continue
        if rel.get("typeCode") != "RSON":
            conv.map_nested(el, stmt, chain)
            continue
        found = refs_to_statements(stmt.get("id"), _REASON_TYPES, exclude=stmt)
        value = one(stmt.get("value")) if el == "observation" else None
        cc = codeable_concept(value) if isinstance(value, dict) and value.get("code") else None
        cc = cc or codeable_concept(stmt.get("code")) or (
            {"text": text(stmt.get("text"))} if text(stmt.get("text")) else None)
        for r in found:
            _add_once(refs, r)
        if cc and not found:
            _add_once(codes, cc)
        for n in comments(stmt):
            _add_once(notes, n)
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
    from .codes import codeable_concept
    out = []
    for v in many((src or {}).get("value")):
        for q in many(v.get("qualifier") if isinstance(v, dict) else None):
            if not isinstance(q, dict):
                continue
            name, value = codeable_concept(q.get("name")), codeable_concept(q.get("value"))
            if name and value:
                _add_once(out, {"code": name, "valueCodeableConcept": value})
            elif name or value:
                _conv().warn("value qualifier without a name or a value: not kept", level="partial")
    return out


def _made_under(stmt, skip) -> dict | None:
    """The Reference of the resource ``stmt`` became, else of the one statement nested in it
    (other than ``skip``) that became one: a wrapper act (a problem act) is known by its Condition."""
    ref = resource_of(stmt)
    if ref:
        return ref
    made = []
    for rel in many((stmt or {}).get("entryRelationship")) + many((stmt or {}).get("component")):
        _, child = statement_of(rel)
        if child is not None and child is not skip:
            r = resource_of(child)
            if r and r not in made:
                made.append(r)
    return made[0] if len(made) == 1 else None


@template_global
def episode_focus(src, parents) -> list[dict]:
    """Observation.focus of an Episode Observation: the resource its holder became. Its SAS
    targets (pointers by id to the earlier episode) are reported, FHIR Observation having no
    element for 'follows that episode'; the earlier episode itself is converted where it stands."""
    from .plans import refs_to_statements
    conv = _conv()
    holder = one(parents) if parents else None

    def later(mine, ref):
        _add_once(mine.setdefault("focus", []), ref)
    ref = _holder_or_later(src, parents, later)
    if ref is None and not (isinstance(holder, dict) and _becomes_resource(holder)):
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


def _holder_or_later(src, parents, apply_to_mine) -> dict | None:
    """The Reference of the resource ``src``'s holder became (a wrapper act: the one resource made
    inside it). When the holder is rendering now, ``apply_to_mine(my_resource, holder_ref)`` runs
    once it is made (``src`` has become a resource by then). None either way when there is none."""
    conv = _conv()
    holder = one(parents) if parents else None
    if not isinstance(holder, dict):
        return None
    ref = _made_under(holder, src)
    if ref is None and _becomes_resource(holder):
        def apply(res: dict) -> None:
            mine = _resource(src)
            if mine is not None:
                apply_to_mine(mine, {"reference": f"{res['resourceType']}/{res['id']}"})
        _defer(conv, holder, apply)
    return ref


@template_global
def referenced_holder(src, parents) -> list[dict]:
    """DocumentReference.context.related of an IHE References entry: its holder's resource."""
    def later(mine, ref):
        _add_once(mine.setdefault("context", {}).setdefault("related", []), ref)
    ref = _holder_or_later(src, parents, later)
    return [ref] if ref else []


@template_global
def referenced_documents(src, parents, doc=None) -> None:
    """The externalDocuments after the first of an IHE References entry: a DocumentReference each
    (rendered with ``doc``)."""
    from .advance_directives import _external_docs
    if doc:   # rendering one of those (undefined in the route's rendering)
        return None
    for d in _external_docs(src)[1:]:
        _conv().emit("resource/ReferencedDocument", src=src, parents=parents, doc=d)
    return None


@template_global
def referenced_document_content(doc) -> list[dict]:
    """content: the text reference URL and mediaType (external_document_content); when there is
    no URL, the externalDocument's inline text is the attachment's title."""
    from .advance_directives import external_document_content
    from .text import text
    content = external_document_content(doc)
    att = content[0]["attachment"]
    inline = text(doc.get("text")) if isinstance(doc, dict) else None
    if "url" not in att and inline:
        att.pop("extension", None)
        att["title"] = inline
    return content


STUDY_ACT = "2.16.840.1.113883.10.20.6.2.6"


def _said(v) -> str | None:
    """A source value as the report says it: 'display (code)' of a code (not ASSERTION), or the value."""
    v = one(v)
    if not isinstance(v, dict):
        return None
    if v.get("code"):
        return None if v["code"] == "ASSERTION" else \
            (f"{v['displayName']} ({v['code']})" if v.get("displayName") else v["code"])
    return v.get("value")


def _study_holding(conv, sop) -> dict | None:
    """The DIR Study Act (6.2.6) of this document that lists the SOP instance ``sop`` names."""
    from ...assemble.ids import ii_key
    from .plans import _index
    idx = _index(conv)
    for ii in many((sop or {}).get("id")):
        k = ii_key(ii)
        for _section, _el, stmt, parents in idx.get(k, ()) if k else ():
            if stmt is sop:
                continue
            for p in parents:
                if STUDY_ACT in template_ids(p):
                    return p
    return None


@template_global
def image_reference(src, parents) -> bool:
    """derivedFrom of the finding holding a SOP Instance Observation = the ImagingStudy made from
    the Study Act that lists the instance (see resource/ImageReference). What R4 cannot say (the
    frames, the purpose of the reference) is reported with the codes it would have kept."""
    conv = _conv()
    where = dict(conv.where)
    lost = []
    for rel in many((src or {}).get("entryRelationship")):
        _, q = statement_of(rel)
        if q is None:
            continue
        parts = [_said(q.get("code")), _said(one(q.get("value")))]
        for _, inner in (statement_of(r) for r in many(q.get("entryRelationship"))):
            if inner is not None:
                parts.append(f"{_said(inner.get('code'))} = {_said(one(inner.get('value')))}")
        lost.append(" ".join(x for x in parts if x))
    if lost:
        conv.warn("image reference: " + "; ".join(lost) + ": no FHIR R4 element for the frames or "
                  "the purpose of a reference; not kept", level="partial")
    holder = one(parents) if parents else None
    study = _study_holding(conv, src)
    if study is None or not isinstance(holder, dict):
        conv.warn("image reference to a SOP instance no Study Act of the document lists: not kept",
                  level="partial")
        return False

    def on_holder(res: dict) -> None:
        if res.get("resourceType") != "Observation":
            conv.warn(f"image reference on a {res.get('resourceType')}, which has no derivedFrom: "
                      "not kept", level="partial", **where)
            return

        def on_study(st: dict) -> None:
            if st.get("resourceType") == "ImagingStudy":
                _add_once(res.setdefault("derivedFrom", []), {"reference": f"ImagingStudy/{st['id']}"})
        conv.when_made(study, on_study)

    conv.when_made(holder, on_holder)
    return True


@template_global
def imaging_modalities(series) -> list[dict]:
    """ImagingStudy.modality: the modality of each series, each once."""
    out = []
    for s in many(series):
        if isinstance(s, dict) and s.get("modality"):
            _add_once(out, s["modality"])
    return out
