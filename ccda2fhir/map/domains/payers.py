"""Payers: Coverage Activity / Policy Activity -> US Core Coverage (+ payer Organization,
subscriber RelatedPerson, guarantor on an Account, authorized services as ServiceRequests).

No C-CDA on FHIR page covers payers; this follows US Core Coverage and FHIR R4:
one Coverage per Policy Activity; payor from the payer performer (4.87);
subscriber/policyHolder from the policy holder participant (HLD, 4.90);
beneficiary the patient, relationship from the covered party's role (COV, 4.89).
"""
from __future__ import annotations

from ..datatypes.codes import codeable_concept, coding
from ..datatypes.dates import period
from ..datatypes.identifiers import id_key, identifier, identifiers
from ..datatypes.navigation import add_once, children, has_template, many, one, statement_of, template_ids
from ..datatypes.quantities import number
from ..datatypes.status import data_absent
from ..datatypes.terminology import concept
from ..datatypes.text import text
from ..engine.registry import template_global
from ..engine.routes import section_keys, table
from ..shared.participants import is_patient
from ..shared.statements import becomes_resource
from ..state import current, emit

PAYER_PERFORMER = ("2.16.840.1.113883.10.20.22.4.87", "2.16.840.1.113883.10.20.1.33")  # R1.1 has no specific one
GUARANTOR_PERFORMER = ("2.16.840.1.113883.10.20.22.4.88",)
COVERED_PARTY = ("2.16.840.1.113883.10.20.22.4.89",)
POLICY_HOLDER = ("2.16.840.1.113883.10.20.22.4.90",)
AUTHORIZATION = ("2.16.840.1.113883.10.20.1.19",)


def _participant(policy, type_code, roots):
    """A participant by typeCode (templateId preferred)."""
    found = [p for p in many((policy or {}).get("participant")) if isinstance(p, dict)
             and (p.get("typeCode") == type_code or has_template(p, *roots))]
    return found[0] if found else None


def _performers(policy, roots, code):
    out = []
    for p in many((policy or {}).get("performer")):
        if not isinstance(p, dict):
            continue
        ae = p.get("assignedEntity") or {}
        role = (one(ae.get("code")) or {}).get("code") if isinstance(ae, dict) else None
        if has_template(p, *roots) or role == code:
            out.append(p)
    return out


def _payer_performer(policy):
    found = _performers(policy, PAYER_PERFORMER, "PAYOR")
    if found:
        return found[0]
    # R1.1 / C32 documents mark neither: the first PRF performer that is not the guarantor.
    guar = _performers(policy, GUARANTOR_PERFORMER, "GUAR")
    rest = [p for p in many((policy or {}).get("performer")) if isinstance(p, dict) and p not in guar]
    return rest[0] if rest else None


def _payer_org_src(ae: dict) -> dict:
    """The payer as one organization: the assignedEntity's ids (NAIC, payer id) with the
    represented organization's name and contacts (the entity's when the org has none)."""
    org = ae.get("representedOrganization") if isinstance(ae.get("representedOrganization"), dict) else {}
    return {"id": many(ae.get("id")) or many(org.get("id")), "name": org.get("name"),
            "telecom": many(org.get("telecom")) or many(ae.get("telecom")),
            "addr": many(org.get("addr")) or many(ae.get("addr")),
            "_line": ae.get("_line")}


@template_global
def coverage_payors(policy) -> list[dict]:
    """Coverage.payor (1..*): the payer Organization; data-absent when the policy names none."""
    perf = _payer_performer(policy)
    ae = (perf or {}).get("assignedEntity")
    if isinstance(ae, dict):
        src = _payer_org_src(ae)
        if src["name"] or src["id"]:
            ref = emit("resource/Organization", src=src)
            if ref:
                return [ref]
    return [{"extension": [data_absent("UNK")], "display": "payer not given in the source"}]


def _person_src(role: dict) -> dict:
    person = role.get("playingEntity") or role.get("assignedPerson") or role.get("associatedPerson") or {}
    return {"id": role.get("id"), "code": role.get("code"), "addr": role.get("addr"),
            "telecom": role.get("telecom"), "relatedPerson": person, "_line": role.get("_line")}


def _is_self(role: dict) -> bool:
    code = (one(role.get("code")) or {}).get("code") if isinstance(role, dict) else None
    return code == "SELF" or role.get("classCode") == "PAT" and code in (None, "SELF") or is_patient(role)


@template_global
def coverage_policy_holder(policy) -> dict | None:
    """policyHolder / subscriber: the HLD participant; the Patient when the covered party is
    the holder (relationship SELF) or the holder is the patient; else a RelatedPerson."""
    hld = _participant(policy, "HLD", POLICY_HOLDER)
    cov = _participant(policy, "COV", COVERED_PARTY)
    cov_role = (cov or {}).get("participantRole") or {}
    if hld is None:
        return current().patient if cov_role and _is_self(cov_role) else None
    role = hld.get("participantRole") or {}
    if _is_self(cov_role) or _is_self(role):
        return current().patient
    if not any(role.get(k) for k in ("id", "playingEntity", "addr", "telecom")):
        return None
    return emit("resource/RelatedPerson", src=_person_src(role))


@template_global
def coverage_subscriber_id(policy) -> str | None:
    """subscriberId: the policy holder's id extension (the subscriber/member number), else the
    covered party's."""
    for type_code, roots in (("HLD", POLICY_HOLDER), ("COV", COVERED_PARTY)):
        p = _participant(policy, type_code, roots)
        for ii in many(((p or {}).get("participantRole") or {}).get("id")):
            if isinstance(ii, dict) and (ii.get("extension") or "").strip() and not ii.get("nullFlavor"):
                return ii["extension"].strip()
    return None


@template_global
def coverage_identifiers(policy) -> list[dict]:
    """identifier: the Policy Activity ids, and the covered party's health plan member id typed
    MB (US Core Coverage identifier:memberid)."""
    out = identifiers((policy or {}).get("id"))
    cov = _participant(policy, "COV", COVERED_PARTY)
    for ii in many(((cov or {}).get("participantRole") or {}).get("id")):
        ident = identifier(ii)
        if ident and (ii.get("extension") or "").strip():
            ident["type"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                         "code": "MB", "display": "Member Number"}]}
            if all((x.get("system"), x.get("value")) != (ident.get("system"), ident["value"]) for x in out):
                out.append(ident)
    return out


@template_global
def coverage_relationship(policy) -> dict | None:
    """relationship: the covered party's role code through SubscriberRelationship, keeping the
    source RoleCode coding beside it."""
    cov = _participant(policy, "COV", COVERED_PARTY)
    code = one(((cov or {}).get("participantRole") or {}).get("code"))
    if not isinstance(code, dict):
        return None
    mapped = concept(code.get("code"), "SubscriberRelationship")
    own = coding(code)
    cods = [c for c in (mapped, own) if c]
    return {"coding": cods} if cods else None


@template_global
def coverage_period(policy) -> dict | None:
    """period: the covered party's participation time (the coverage's effective dates)."""
    cov = _participant(policy, "COV", COVERED_PARTY)
    return period((cov or {}).get("time")) or period(one((policy or {}).get("effectiveTime")))


@template_global
def coverage_classes(policy) -> list[dict]:
    """class: the health plan named by a REFR act in definition mood (C-CDA: the plan's id and
    name) as class 'plan'."""
    out = []
    for c in children(policy, "REFR"):
        if c.get("moodCode") != "DEF":
            continue
        ids = [i for i in many(c.get("id")) if isinstance(i, dict) and not i.get("nullFlavor")]
        value = ids[0].get("extension") or ids[0].get("root") if ids else None
        name = text(c.get("text")) or (codeable_concept(c.get("code")) or {}).get("text")
        if value or name:
            out.append({"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class",
                                             "code": "plan", "display": "Plan"}]},
                        "value": value or name, "name": name})
    return out


@template_global
def coverage_order(policy, parents) -> int | None:
    """order: the sequenceNumber of the entryRelationship holding the policy in its Coverage Activity."""
    for parent in many(parents)[:1]:
        for rel in many(parent.get("entryRelationship")):
            if isinstance(rel, dict) and rel.get("act") is policy:
                seq = one(rel.get("sequenceNumber"))
                n = number((seq or {}).get("value")) if isinstance(seq, dict) else None
                if isinstance(n, (int, float)) and n >= 1 and int(n) == n:
                    return int(n)
    seq = one((policy or {}).get("sequenceNumber"))
    n = number((seq or {}).get("value")) if isinstance(seq, dict) else None
    return int(n) if isinstance(n, (int, float)) and n >= 1 and int(n) == n else None


@template_global
def coverage_guarantors(policy) -> list[dict]:
    """Account.guarantor: each guarantor performer as a RelatedPerson (a person) or an Organization."""
    out = []
    for perf in _performers(policy, GUARANTOR_PERFORMER, "GUAR"):
        ae = perf.get("assignedEntity") or {}
        if not isinstance(ae, dict):
            continue
        if isinstance(ae.get("assignedPerson"), dict):
            party = current().patient if is_patient(ae) else emit("resource/RelatedPerson", src=_person_src(ae))
        elif isinstance(ae.get("representedOrganization"), dict):
            party = emit("resource/Organization", src=_payer_org_src(ae))
        else:
            party = None
        if party:
            out.append({"party": party, "period": period(perf.get("time"))})
    return out


@template_global
def coverage_account(policy, parents, nested=False) -> None:
    """The guarantor has no place on Coverage: an Account (FHIR's home for guarantors) holds it
    with a reference to the coverage. Made only when the policy names a guarantor. The Coverage
    reference comes from rendering the same Coverage again (``nested``: identical content, so
    the same resource)."""
    if nested:
        return None
    guarantors = coverage_guarantors(policy)
    if not guarantors:
        return None
    cov = emit("resource/Coverage", src=policy, parents=parents, nested=True)
    if cov:
        emit("resource/CoverageAccount", src=policy, guarantors=guarantors, coverage=cov)
    return None


# Authorization Activity (1.19, CCD 1.0 and C-CDA alike): "authorizations or pre-authorizations
# currently active for the patient for the particular payer", holding (SUBJ) the service authorized,
# a statement in promise mood (PRMS). FHIR has no authorization resource short of a ClaimResponse
# (whose required insurer, request, outcome, use and created the source does not give), so the
# authorized service is what is kept: a ServiceRequest for it (resource/AuthorizedService) whose
# `insurance` is this Coverage. FHIR R4 ServiceRequest.insurance is "insurance plans, coverage
# extensions, pre-authorizations and/or pre-determinations that may be needed for delivering the
# requested service" (Reference(Coverage | ClaimResponse)): the link the C-CDA nesting states.
# The authorized statement rarely has an id of its own (never in the corpus): the authorization's
# id is the one the source gives for it, so it is the ServiceRequest's identifier too.
AUTHORIZED_ELEMENTS = ("procedure", "act", "observation", "encounter")


def _authorizations(policy) -> list[dict]:
    return [c for c in children(policy) if has_template(c, *AUTHORIZATION)]


@template_global
def coverage_authorizations(policy, parents, nested=False) -> None:
    """Each statement an Authorization Activity authorizes -> resource/AuthorizedService, made
    once this Coverage is (its Reference is the ServiceRequest's insurance). Reported, not
    dropped: an authorization naming no service, or a service that is no procedure/act/
    observation/encounter (a medication or supply authorized: none in the corpus)."""
    if nested:
        return None
    conv = current()
    for auth in _authorizations(policy):
        # C-CDA: SHALL be typeCode SUBJ; whatever it holds is taken (nothing dropped).
        held = [statement_of(rel) for rel in many(auth.get("entryRelationship"))]
        held = [(el, s) for el, s in held if s is not None]
        if not held:
            conv.report_once(auth, "Authorization Activity names no authorized service; not mapped",
                             "partial", template_id=AUTHORIZATION[0])
        for el, stmt in held:
            if el not in AUTHORIZED_ELEMENTS:
                conv.report_once(stmt, f"service authorized by an Authorization Activity is a {el}: "
                                 "not mapped", template_id=AUTHORIZATION[0])
                continue
            conv.emit_after("resource/AuthorizedService", "coverage", src=stmt, authorization=auth,
                            parents=[auth, policy] + list(many(parents)), element=el)
    return None


@template_global
def authorized_service_key(stmt, authorization) -> str | None:
    """The authorized service's identity: its own ids, else the authorization's (with the
    service's place in it when the authorization names several)."""
    own = id_key((stmt or {}).get("id"))
    if own:
        return own
    auth_key = id_key((authorization or {}).get("id"))
    if not auth_key:
        return None
    held = [s for rel in many(authorization.get("entryRelationship"))
            for s in [statement_of(rel)[1]] if s is not None]
    if len(held) <= 1:
        return "authorization " + auth_key
    pos = next((i for i, s in enumerate(held) if s is stmt), 0)
    return f"authorization {auth_key} {pos}"


def _is_plan_act(c: dict) -> bool:
    return c.get("moodCode") == "DEF" and not has_template(c, *AUTHORIZATION)


@template_global
def coverage_nested(policy, parents, section, nested=False) -> None:
    """The Policy route consumes everything nested (the health plan act has no templateId to
    absorb it by): the Authorization Activity is mapped by coverage_authorizations, the plan
    act is Coverage.class, and any other nested statement (Note Activity, comment, ...) is
    mapped through its own route, or reported when nothing maps it."""
    if nested:
        return None
    conv = current()
    keys = section_keys(section) if section else set()
    for rel in many((policy or {}).get("entryRelationship")):
        element, child = statement_of(rel)
        if child is None or has_template(child, *AUTHORIZATION) or _is_plan_act(child):
            continue
        route = table().match(element, template_ids(child), keys)
        template = route.template_for(child) if route else None
        if template:
            conv.emit(template, src=child, parents=[policy] + list(many(parents)), element=element)
        else:
            tids = template_ids(child)
            conv.report_once(child, "no mapping for this statement nested in a Policy Activity",
                             template_id=tids[0] if tids else None, element=element)
    return None


# Request resources with an `insurance` element (FHIR R4: "insurance plans, coverage extensions,
# pre-authorizations and/or pre-determinations that may be needed for delivering the requested service").
_INSURED_REQUESTS = ("ServiceRequest", "MedicationRequest", "DeviceRequest")


@template_global
def planned_coverage_policy(src) -> dict:
    """The policy act a Planned Coverage holds (C-CDA: exactly one COMP act, moodCode INT); {}
    when there is none."""
    acts = [c for c in children(src) if c.get("classCode", "ACT") == "ACT"]
    return acts[0] if acts else {}


@template_global
def planned_coverage_insurance(src, parents, nested=False) -> None:
    """Name this Coverage in the `insurance` of the request resource the holding planned
    statement became (now, or once it is made). Its Reference comes from rendering the same
    Coverage again (``nested``: identical content, so the same resource). Reported when the
    holder became a resource with no insurance element, or none (a Planned Coverage alone)."""
    if nested:
        return None
    conv = current()
    where = dict(conv.where)
    holder = one(parents) if parents else None
    if not isinstance(holder, dict) or not becomes_resource(holder):
        conv.warn("Planned Coverage outside a planned statement: the Coverage is kept, "
                  "no request names it", level="partial", **where)
        return None
    cov = emit("resource/CoveragePlanned", src=src, parents=parents, nested=True)
    if not cov:
        return None

    def apply(res: dict) -> None:
        if res.get("resourceType") in _INSURED_REQUESTS:
            add_once(res.setdefault("insurance", []), cov)
        else:
            conv.warn(f"Planned Coverage of a {res.get('resourceType')}, which has no insurance "
                      "element: the Coverage is kept, the link is not", level="partial", **where)

    conv.when_made(holder, apply)
    return None
