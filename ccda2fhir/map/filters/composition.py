"""Document-level pieces: Composition sections and attesters, Provenance agents."""
from __future__ import annotations

import re

from .codes import codeable_concept
from .dates import datetime, instant, parse_ts
from .navigation import many, one
from .participants import author_ref, author_refs, organization_ref, practitioner_ref
from ..engine.registry import template_filter, template_global
from .text import text

XHTML_EMPTY = '<div xmlns="http://www.w3.org/1999/xhtml">No information</div>'


def _code_of_template(section: dict) -> dict | None:
    """A section with no code: the LOINC code of its C-CDA section template (value map SectionCode)."""
    from .terminology import concept
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
    from .dates import period
    from .participants import role_ref
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
    from .identifiers import identifier
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


@template_filter
def recorded(ts) -> str | None:
    """An instant for Provenance.recorded (required there).

    The document's effectiveTime when it carries a time and offset; a date-only
    effectiveTime becomes midnight UTC of that date, the one place we must
    supply a zone the source did not give (FHIR requires an instant here).
    """
    exact = instant(ts)
    if exact:
        return exact
    t = parse_ts(one(ts))
    if t and t.d:
        return f"{t.date()}T00:00:00Z"
    return None


_AGENT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
_AGENT_DISPLAY = {"author": "Author", "custodian": "Custodian", "enterer": "Enterer",
                  "informant": "Informant", "legal": "Legal Authenticator", "attester": "Attester",
                  "performer": "Performer"}


def _agent(code: str, who: dict | None, on_behalf: dict | None = None) -> dict | None:
    if not who:
        return None
    agent = {"type": {"coding": [{"system": _AGENT_TYPE, "code": code, "display": _AGENT_DISPLAY[code]}]},
             "who": who}
    behalf = on_behalf_of(who, on_behalf)
    if behalf:
        agent["onBehalfOf"] = behalf
    return agent


def on_behalf_of(who: dict, organization: dict | None) -> dict | None:
    """Provenance.agent.onBehalfOf: the organization the agent acted for, never for an agent that
    is an organization (FHIR prov-3); unknown (data-absent) for a practitioner or device the
    source gives no organization for: US Core requires one then (provenance-1)."""
    ref = who.get("reference", "")
    if ref.startswith("Organization/"):
        return None
    if organization and organization != who:
        return organization
    if ref.startswith(("Practitioner/", "Device/")):
        from .status import data_absent
        return {"extension": [data_absent("UNK")]}
    return None


def _report(element: str, what: str) -> None:
    """A header participant that produced no resource: say so (nothing dropped silently)."""
    from ..state import current
    current().warn(f"header {element} names no person, device or organization we can map; {what}",
                   level="partial", element=element)


def _org_of(role) -> dict | None:
    role = one(role)
    if not isinstance(role, dict):
        return None
    org = role.get("representedOrganization") or role.get("scopingOrganization")
    return organization_ref(org) if isinstance(org, dict) else None


@template_global
def provenance_agents(header: dict) -> list[dict]:
    """Provenance.agent: each document author (onBehalfOf its organization), the custodian,
    the data enterer, informants, and the legal/other authenticators (who attested)."""
    from .participants import informant_ref
    agents = []
    for a in many(header.get("author")):
        if not isinstance(a, dict):
            continue
        agents.append(_agent("author", author_ref(a), _org_of(a.get("assignedAuthor"))))
    custodian = organization_ref(((header.get("custodian") or {}).get("assignedCustodian") or {})
                                 .get("representedCustodianOrganization"))
    agents.append(_agent("custodian", custodian))
    for de in many(header.get("dataEnterer")):
        if isinstance(de, dict):
            agents.append(_agent("enterer", practitioner_ref(de.get("assignedEntity")),
                                 _org_of(de.get("assignedEntity"))))
    for inf in many(header.get("informant")):
        if isinstance(inf, dict):
            agents.append(_agent("informant", informant_ref(inf), _org_of(inf.get("assignedEntity"))))
    for la in many(header.get("legalAuthenticator")):
        if isinstance(la, dict):
            agents.append(_agent("legal", practitioner_ref(la.get("assignedEntity")),
                                 _org_of(la.get("assignedEntity"))))
    for au in many(header.get("authenticator")):
        if isinstance(au, dict):
            agents.append(_agent("attester", practitioner_ref(au.get("assignedEntity")),
                                 _org_of(au.get("assignedEntity"))))
    out, seen = [], []
    for agent in agents:
        if agent and agent not in seen:
            seen.append(agent)
            out.append(agent)
    # Provenance needs an agent; a document naming nobody gets an anonymous author.
    return out or [{"type": {"coding": [{"system": _AGENT_TYPE, "code": "author", "display": "Author"}]},
                    "who": {"display": "Unknown author"}}]


CCDA_EXT = "http://hl7.org/fhir/us/ccda/StructureDefinition/"


def _recipient_ref(recipient: dict) -> dict | None:
    """informationRecipient/intendedRecipient -> Practitioner (+ PractitionerRole with the
    receivedOrganization), the Patient, or the Organization alone."""
    from ..state import current
    from .participants import _emit, _is_patient
    ir = one(recipient.get("intendedRecipient"))
    if not isinstance(ir, dict):
        return None
    if ir.get("classCode") == "PAT" or (many(ir.get("id")) and _is_patient(ir)):
        return current().patient
    person = one(ir.get("informationRecipient"))
    org = one(ir.get("receivedOrganization"))
    org_ref = organization_ref(org) if isinstance(org, dict) else None
    if isinstance(person, dict) or many(ir.get("id")):
        prac = _emit("resource/Practitioner", src=ir, person=person if isinstance(person, dict) else {})
        if prac and org_ref:
            return _emit("resource/PractitionerRole", src={"id": ir.get("id")}, practitioner=prac,
                         organization=org_ref) or prac
        if prac:
            return prac
    return org_ref


def _participant_ref(part: dict) -> dict | None:
    """A header participant that is not a patient contact: a provider (Practitioner), a person
    (RelatedPerson) or an organization."""
    from .participants import practitioner_ref as prac_ref, related_person_ref
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
    from .participants import informant_ref
    from .patient import contact_participant
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
            from ..state import current
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


@template_global
def source_document_ref(header: dict) -> dict | None:
    """Reference to the DocumentReference describing the source C-CDA document."""
    from ..state import current
    conv = current()
    return conv.emit("document/SourceDocument", src=header, embed=conv.options.get("embed_source"), encounter=conv.encounter,
                     source_bytes=conv.options.get("source_bytes"))


@template_filter
def document_uri(ids) -> str | None:
    """A URI naming the source document, for its Attachment.url when the XML is not embedded
    (US Core us-core-6: attachment url or data). Our choice: urn:uuid / urn:oid for a bare
    root, else the HL7 II URN urn:hl7ii:<root>:<extension>."""
    from urllib.parse import quote
    from .identifiers import _OID, _UUID
    ii = one(ids)
    if not isinstance(ii, dict):
        return None
    root = (ii.get("root") or "").strip()
    ext = (ii.get("extension") or "").strip()
    if not root:
        return None
    if not ext:
        if _UUID.match(root):
            return f"urn:uuid:{root.lower()}"
        return f"urn:oid:{root}" if _OID.match(root) else None
    return f"urn:hl7ii:{quote(root, safe='.-')}:{quote(ext, safe='.-_~')}"


@template_filter
def sha1_base64(data) -> str | None:
    """Attachment.hash: base64 of the SHA-1 of the data."""
    import base64 as b64
    import hashlib
    if data is None:
        return None
    if isinstance(data, str):
        data = data.encode("utf-8")
    return b64.b64encode(hashlib.sha1(bytes(data)).digest()).decode("ascii")


@template_filter
def byte_size(data) -> int | None:
    if data is None:
        return None
    return len(data.encode("utf-8") if isinstance(data, str) else bytes(data))


@template_global
def nonxml_content() -> dict | None:
    """DocumentReference.content for a nonXMLBody: its text (B64 data or a reference URL)."""
    from ..state import current
    body = current().doc.get("nonxml")
    if not isinstance(body, dict):
        return None
    text = body.get("text")
    if not isinstance(text, dict):
        return None
    ref = text.get("reference")
    ref_value = ((one(ref) or {}).get("value") or "").strip() if ref else ""
    media = (text.get("mediaType") or "").strip()
    if not media and ref_value:
        import mimetypes
        media = mimetypes.guess_type(ref_value)[0] or ""
    att = {"contentType": media or "text/plain"}       # text/plain: the CDA ED default
    raw = text.get("_text")
    if raw and (text.get("representation") or "").upper() == "B64":
        import base64 as b64
        import binascii
        data = "".join(raw.split())
        try:
            b64.b64decode(data, validate=True)
            att["data"] = data
        except (binascii.Error, ValueError):
            current().warn("nonXMLBody text is not valid base64; its content is left out",
                           level="partial", element="nonXMLBody")
    elif raw:
        from .text import base64
        att["data"] = base64(raw)
    if ref_value and (ref_value.startswith(("http://", "https://"))
                      or re.match(r"^[\w][\w .\-/]*$", ref_value)):
        # an absolute http(s) URL, or the sender's relative file name (kept as sent)
        att["url"] = ref_value.strip()
    if "data" not in att and "url" not in att:
        return None
    return {"attachment": att}


@template_global
def format_code(header: dict) -> str:
    """IHE format code of the source: C-CDA structured or nonXML body, R2.x (a header
    templateId with a version extension) or R1.1 (none). IHE lists no R2.0 code; R2.0
    documents (extension 2014-06-09) get the 2.1 code, their structure being the same."""
    from ..state import current
    body = "nonXMLBody" if current().doc.get("body") == "nonxml" else "structuredBody"
    versioned = any(isinstance(t, dict) and t.get("extension") for t in many(header.get("templateId")))
    return f"urn:hl7-org:sdwg:ccda-{body}:{'2.1' if versioned else '1.1'}"


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
