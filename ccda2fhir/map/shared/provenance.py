"""Entry-level Provenance: who authored a statement and when (C-CDA on FHIR 'CDA <-> FHIR Provenance')."""
from __future__ import annotations

from ..datatypes.dates import instant, parse_ts
from ..datatypes.navigation import children, has_template, many, one
from ..datatypes.status import data_absent
from ..engine.registry import template_filter, template_global
from ..state import current
from .participants import author_ref, latest_author, organization_ref

AUTHOR_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                           "code": "author", "display": "Author"}]}


@template_global
def author_agents(authors) -> list[dict]:
    """Provenance.agent for each <author>: who (Practitioner, Device, Patient ...) and on behalf of whom."""
    agents = []
    for a in many(authors):
        if not isinstance(a, dict):
            continue
        who = author_ref(a)
        if not who:
            # A dated authoring by no one the source identifies (all nullFlavor): the time is still
            # a fact. Provenance.agent.who is required, so it says "unknown" (data-absent-reason).
            if a.get("time") and isinstance(a.get("assignedAuthor"), dict):
                agents.append({"type": AUTHOR_TYPE, "who": {"extension": [data_absent(_author_null(a))]}})
            continue
        agent = {"type": AUTHOR_TYPE, "who": who}
        org = (a.get("assignedAuthor") or {}).get("representedOrganization")
        on_behalf = on_behalf_of(who, organization_ref(org) if org and not who["reference"].startswith(
            ("Organization/", "Patient/")) else None)
        if on_behalf:
            agent["onBehalfOf"] = on_behalf
        agents.append(agent)
    return agents


def _author_null(author: dict) -> str:
    """The nullFlavor saying why an author is not identified (its id's, else UNK)."""
    role = author.get("assignedAuthor") or {}
    for i in many(role.get("id")):
        if isinstance(i, dict) and i.get("nullFlavor"):
            return i["nullFlavor"]
    return "UNK"


@template_global
def authored_at(authors) -> str | None:
    """Provenance.recorded: the latest author time of a statement, as an instant."""
    a = latest_author(authors)
    return recorded(one(a).get("time")) if isinstance(one(a), dict) else None


PRIORITY_PREFERENCE = "2.16.840.1.113883.10.20.22.4.143"


@template_global
def consumed_provenance(src, *template_ids) -> None:
    """A Provenance for the authors of the nested statements (by templateId; default: Priority
    Preference 4.143) that the resource being rendered takes into itself (its route absorbs
    them, so no resource of theirs carries their own Provenance). Our choice, as the IG's
    'author -> Provenance': the authoring (who, when) of that part of the resource is kept,
    targeting the resource that holds it; made when the author gives a time and a known agent,
    like the engine's per-statement Provenance. Returns nothing (use in ``{% set _ = ... %}``)."""
    tids = template_ids or (PRIORITY_PREFERENCE,)
    for child in children(src or {}):
        if not has_template(child, *tids) or not child.get("author"):
            continue
        when, agents = authored_at(child["author"]), author_agents(child["author"])
        if when and agents:
            current().emit_after("resource/EntryProvenance", "target", recorded=when, agents=agents)
    return None


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
        return {"extension": [data_absent("UNK")]}
    return None
