"""The document's Provenance (C-CDA on FHIR 'CDA <-> FHIR Provenance'): who wrote, attested, kept
and sent the document, and the source document it is made from.
"""
from __future__ import annotations

from ..datatypes.navigation import many, one
from ..engine.registry import template_global
from ..shared.participants import author_ref, informant_ref, organization_ref, practitioner_ref
from ..shared.provenance import on_behalf_of
from ..state import current

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


@template_global
def source_document_ref(header: dict) -> dict | None:
    """Reference to the DocumentReference describing the source C-CDA document."""
    conv = current()
    return conv.emit("document/SourceDocument", src=header, embed=conv.options.get("embed_source"), encounter=conv.encounter,
                     source_bytes=conv.options.get("source_bytes"))
