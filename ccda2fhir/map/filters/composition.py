"""Document-level pieces: Composition sections and attesters, Provenance agents."""
from __future__ import annotations

from .codes import codeable_concept
from .dates import datetime, instant, parse_ts
from .navigation import many, one
from .participants import author_ref, organization_ref, practitioner_ref
from .registry import template_filter, template_global
from .text import text

XHTML_EMPTY = '<div xmlns="http://www.w3.org/1999/xhtml">No information</div>'


@template_global
def composition_sections(sections: list, section_refs: list) -> list[dict]:
    """Composition.section for every top-level C-CDA section, nesting subsections."""

    def build(i: int) -> dict:
        s = sections[i]
        out = {"title": s.get("title"), "code": codeable_concept(s.get("code"))}
        if s.get("xhtml"):
            out["text"] = {"status": "generated", "div": s["xhtml"]}
        refs = section_refs[i] if i < len(section_refs) else []
        if refs:
            out["entry"] = refs
        subs = [build(j) for j in s.get("subsections", [])]
        if subs:
            out["section"] = subs
        if not refs and not subs:
            reason = "notasked" if s.get("nullFlavor") == "NASK" else "unavailable"
            out["emptyReason"] = {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason", "code": reason}]}
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
            out.append({"mode": mode, "time": datetime(a.get("time")), "party": party})
    return [{k: v for k, v in a.items() if v} for a in out]


@template_global
def document_authors(header: dict) -> list[dict]:
    """Composition.author: each header author; a display-only reference when there is none."""
    refs = [r for r in (author_ref(a) for a in many(header.get("author"))) if r]
    return refs or [{"display": "Unknown author"}]


@template_global
def service_events(header: dict) -> list[dict]:
    """Composition.event from documentationOf/serviceEvent (code, period, performers)."""
    from .dates import period
    from .participants import performer_refs
    out = []
    for doc_of in many(header.get("documentationOf")):
        ev = (doc_of or {}).get("serviceEvent")
        if not isinstance(ev, dict):
            continue
        e = {"code": [c for c in [codeable_concept(ev.get("code"))] if c],
             "period": period(ev.get("effectiveTime")),
             "detail": performer_refs(ev.get("performer"))}
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


@template_global
def provenance_agents(header: dict) -> list[dict]:
    """Provenance.agent: document authors, then the custodian organization."""
    agents = []
    for a in many(header.get("author")):
        who = author_ref(a)
        if who:
            org = (one(a).get("assignedAuthor") or {}).get("representedOrganization")
            agent = {"type": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                "code": "author", "display": "Author"}]}, "who": who}
            if org and not who["reference"].startswith("Organization/"):
                on_behalf = organization_ref(org)
                if on_behalf:
                    agent["onBehalfOf"] = on_behalf
            agents.append(agent)
    custodian = organization_ref(((header.get("custodian") or {}).get("assignedCustodian") or {})
                                 .get("representedCustodianOrganization"))
    if custodian:
        agents.append({"type": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
            "code": "custodian", "display": "Custodian"}]}, "who": custodian})
    # Provenance needs an agent; a document naming no author or custodian gets an anonymous one.
    return agents or [{"who": {"display": "Unknown author"}}]


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
    from ..conversion import current
    conv = current()
    return conv.emit("document/SourceDocument", src=header, embed=conv.options.get("embed_source"), encounter=conv.encounter,
                     source_bytes=conv.options.get("source_bytes"))
