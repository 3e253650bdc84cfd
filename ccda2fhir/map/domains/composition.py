"""Document-level pieces: Composition sections and attesters, Provenance agents."""
from __future__ import annotations

from ..datatypes.codes import codeable_concept
from ..datatypes.dates import datetime, period
from ..datatypes.identifiers import identifier
from ..datatypes.navigation import many, one
from ..datatypes.terminology import concept
from ..datatypes.text import text
from ..engine.registry import template_filter, template_global
from ..shared.participants import (author_ref, author_refs, contact_participant, informant_ref, is_patient,
                                   organization_ref, practitioner_ref, practitioner_ref as prac_ref,
                                   related_person_ref, role_ref)
from ..state import current, emit

XHTML_EMPTY = '<div xmlns="http://www.w3.org/1999/xhtml">No information</div>'


def _code_of_template(section: dict) -> dict | None:
    """A section with no code: the LOINC code of its C-CDA section template (value map SectionCode)."""
    for root in section.get("templateIds") or ():
        c = concept(root, "SectionCode")
        if c:
            return {"coding": [c]}
    return None


@template_global
def composition_sections(sections: list, section_refs: list) -> list[dict]:
    """Composition.section for every top-level C-CDA section, nesting subsections.

    Each keeps its code, title, section author(s), the narrative (FHIR XHTML) and the
    references to the resources made from its entries. A section with neither
    entries, subsections nor narrative, or one the sender nullFlavored, gets an
    emptyReason (NASK -> notasked, else unavailable) and a short 'No information' text.
    Narrative-only sections (Assessment, HPI, Hospital Course ...) keep their text.
    """

    def build(i: int) -> dict:
        s = sections[i]
        out = {"title": s.get("title"), "code": codeable_concept(s.get("code")) or _code_of_template(s)}
        authors = author_refs((s.get("attributes") or {}).get("author"))
        if authors:
            out["author"] = authors
        if s.get("xhtml"):
            out["text"] = {"status": "generated", "div": s["xhtml"]}
        refs = section_refs[i] if i < len(section_refs) else []
        if refs:
            out["entry"] = refs
        subs = [build(j) for j in s.get("subsections", [])]
        if subs:
            out["section"] = subs
        if not refs and not subs and (s.get("nullFlavor") or not s.get("xhtml")):
            reason = "notasked" if s.get("nullFlavor") == "NASK" else "unavailable"
            out["emptyReason"] = {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason", "code": reason,
                "display": "Not Asked" if reason == "notasked" else "Unavailable"}]}
            out.setdefault("text", {"status": "generated", "div": XHTML_EMPTY})
        return {k: v for k, v in out.items() if v}

    return [build(i) for i, s in enumerate(sections) if s.get("depth", 0) == 0]


@template_global
def attesters(header: dict) -> list[dict]:
    """Composition.attester: legalAuthenticator (legal) and each authenticator (professional)."""
    out = []
    for mode, parts in (("legal", many(header.get("legalAuthenticator"))),
                        ("professional", many(header.get("authenticator")))):
        for a in parts:
            if not isinstance(a, dict):
                continue
            party = practitioner_ref(a.get("assignedEntity"))
            if not party:
                _report("legalAuthenticator" if mode == "legal" else "authenticator",
                        "the attester has no party")
            out.append({"mode": mode, "time": datetime(a.get("time")), "party": party})
    return [{k: v for k, v in a.items() if v} for a in out]


@template_global
def document_authors(header: dict) -> list[dict]:
    """Composition.author: each header author; a display-only reference when there is none."""
    refs = []
    for a in many(header.get("author")):
        r = author_ref(a)
        if r:
            if r not in refs:
                refs.append(r)
        else:
            _report("author", "Composition.author keeps the other authors")
    return refs or [{"display": "Unknown author"}]


@template_global
def service_events(header: dict) -> list[dict]:
    """Composition.event from documentationOf/serviceEvent (code, period, performers)."""
    out = []
    for doc_of in many(header.get("documentationOf")):
        ev = (doc_of or {}).get("serviceEvent")
        if not isinstance(ev, dict):
            continue
        # performers: their PractitionerRole (role code, organization) when they have one
        detail = []
        for perf in many(ev.get("performer")):
            ref = role_ref((perf or {}).get("assignedEntity")) if isinstance(perf, dict) else None
            if ref and ref not in detail:
                detail.append(ref)
            elif not ref:
                _report("documentationOf", "a serviceEvent performer is not mapped")
        e = {"code": [c for c in [codeable_concept(ev.get("code"))] if c],
             "period": period(ev.get("effectiveTime")),
             "detail": detail}
        e = {k: v for k, v in e.items() if v}
        if e:
            out.append(e)
    return out


@template_global
def relates_to(header: dict) -> list[dict]:
    """Composition.relatesTo from relatedDocument (RPLC replaces, APND appends, XFRM transforms)."""
    codes = {"RPLC": "replaces", "APND": "appends", "XFRM": "transforms"}
    out = []
    for rd in many(header.get("relatedDocument")):
        if not isinstance(rd, dict):
            continue
        parent = rd.get("parentDocument") or {}
        ident = identifier(one(parent.get("id")))
        if ident and rd.get("typeCode") in codes:
            out.append({"code": codes[rd["typeCode"]], "targetIdentifier": ident})
    return out


def _report(element: str, what: str) -> None:
    """A header participant that produced no resource: say so (nothing dropped silently)."""
    current().warn(f"header {element} names no person, device or organization we can map; {what}",
                   level="partial", element=element)


CCDA_EXT = "http://hl7.org/fhir/us/ccda/StructureDefinition/"


def _recipient_ref(recipient: dict) -> dict | None:
    """informationRecipient/intendedRecipient -> Practitioner (+ PractitionerRole with the
    receivedOrganization), the Patient, or the Organization alone."""
    ir = one(recipient.get("intendedRecipient"))
    if not isinstance(ir, dict):
        return None
    if ir.get("classCode") == "PAT" or (many(ir.get("id")) and is_patient(ir)):
        return current().patient
    person = one(ir.get("informationRecipient"))
    org = one(ir.get("receivedOrganization"))
    org_ref = organization_ref(org) if isinstance(org, dict) else None
    if isinstance(person, dict) or many(ir.get("id")):
        prac = emit("resource/Practitioner", src=ir, person=person if isinstance(person, dict) else {})
        if prac and org_ref:
            return emit("resource/PractitionerRole", src={"id": ir.get("id")}, practitioner=prac,
                         organization=org_ref) or prac
        if prac:
            return prac
    return org_ref


def _participant_ref(part: dict) -> dict | None:
    """A header participant that is not a patient contact: a provider (Practitioner), a person
    (RelatedPerson) or an organization."""
    ae = part.get("associatedEntity")
    if not isinstance(ae, dict):
        return None
    if ae.get("classCode") in ("PROV", "ASSIGNED", "CON", "ECON_PROV"):
        return prac_ref(ae)
    if isinstance(ae.get("associatedPerson"), dict):
        return related_person_ref(ae)
    if isinstance(ae.get("scopingOrganization"), dict):
        return organization_ref(ae["scopingOrganization"])
    return related_person_ref(ae) if many(ae.get("id")) else None


@template_global
def header_extensions(header: dict) -> list[dict]:
    """Composition extensions of C-CDA on FHIR for the header participants FHIR's Composition
    has no element for: dataEnterer, informant, informationRecipient, participant.
    Participants that are patient contacts (emergency contact, next of kin ...) go to
    Patient.contact instead; anything that maps to nothing is reported."""
    out = []

    def add(name: str, ref: dict | None, element: str, what: str) -> None:
        if ref:
            ext = {"url": CCDA_EXT + name, "valueReference": ref}
            if ext not in out:
                out.append(ext)
        else:
            _report(element, what)

    for de in many(header.get("dataEnterer")):
        if isinstance(de, dict):
            add("DataEntererExtension", practitioner_ref(de.get("assignedEntity")), "dataEnterer",
                "not mapped")
    for inf in many(header.get("informant")):
        if isinstance(inf, dict):
            add("InformantExtension", informant_ref(inf), "informant", "not mapped")
    for rec in many(header.get("informationRecipient")):
        if isinstance(rec, dict):
            add("InformationRecipientExtension", _recipient_ref(rec), "informationRecipient",
                "not mapped")
    for part in many(header.get("participant")):
        if isinstance(part, dict) and not contact_participant(part):
            add("ParticipantExtension", _participant_ref(part), "participant", "not mapped")
    # header elements with no FHIR home here: reported, not dropped silently
    for element, what in (("authorization", "consents are not mapped"),
                          ("inFulfillmentOf", "the fulfilled orders are not mapped")):
        if many(header.get(element)):
            current().warn(f"header {element}: {what}", level="partial", element=element)
    version = (header.get("versionNumber") or {}).get("value") if isinstance(header.get("versionNumber"), dict) else None
    if version and version.strip().isdigit() and int(version) <= 2**31 - 1:  # FHIR integer is 32-bit
        out.append({"url": CCDA_EXT + "VersionNumber", "valueInteger": int(version)})
    return out


@template_filter
def doc_title(header: dict) -> str:
    """Composition.title: the document title, else its type's name."""
    t = text(header.get("title"))
    if t:
        return t
    cc = codeable_concept(header.get("code")) or {}
    return cc.get("text") or next((c.get("display") for c in cc.get("coding", []) if c.get("display")),
                                  "Clinical document")


_CONFIDENTIALITY = frozenset({"U", "L", "M", "N", "R", "V"})


@template_filter
def confidentiality(code) -> str | None:
    """Composition.confidentiality: only the v3 Confidentiality codes FHIR allows."""
    return code if code in _CONFIDENTIALITY else None


# sdtc:statusCode on the document (C-CDA 3.0 document status) -> Composition.status
_DOC_STATUS = {"nullified": "entered-in-error", "active": "preliminary", "completed": "final",
               "obsolete": "amended"}


@template_filter
def document_status(header: dict) -> str:
    """Composition.status: 'final' unless the header's sdtc:statusCode says otherwise."""
    sc = one(header.get("sdtc_statusCode")) if isinstance(header, dict) else None
    code = (sc or {}).get("code") if isinstance(sc, dict) else None
    return _DOC_STATUS.get((code or "").strip(), "final")


@template_global
def custodian_ref(header: dict) -> dict | None:
    """Composition.custodian: the representedCustodianOrganization; reported when the document
    names a custodian we cannot make an Organization of."""
    cust = header.get("custodian") if isinstance(header, dict) else None
    if not isinstance(cust, dict):
        return None
    org = (one(cust.get("assignedCustodian")) or {}).get("representedCustodianOrganization")
    ref = organization_ref(org)
    if ref is None:
        _report("custodian", "Composition.custodian left out")
    return ref


@template_global
def document_times(header: dict) -> list:
    """The times that can date the document, best first: ClinicalDocument/effectiveTime, the
    earliest author time, the legal authenticator's and authenticators' signing times, then the
    service event's end and start. (Composition.date and Provenance.recorded are required.)"""
    out = [header.get("effectiveTime")]
    times = [one(a).get("time") for a in many(header.get("author")) if isinstance(one(a), dict)]
    dated = sorted((datetime(t), i) for i, t in enumerate(times) if datetime(t))
    out += [times[i] for _, i in dated]
    for element in ("legalAuthenticator", "authenticator"):
        out += [a.get("time") for a in many(header.get(element)) if isinstance(a, dict)]
    for doc_of in many(header.get("documentationOf")):
        ev = (doc_of or {}).get("serviceEvent") if isinstance(doc_of, dict) else None
        eff = one((ev or {}).get("effectiveTime")) if isinstance(ev, dict) else None
        if isinstance(eff, dict):
            out += [eff.get("high"), eff.get("low"), eff]
    return [t for t in out if isinstance(t, dict) and datetime(t)]
