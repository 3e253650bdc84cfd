"""The document layer: header resources, every section, then Composition and Provenance."""
from __future__ import annotations

from ..conform import keep_claims
from ..conform.references import drop_misdirected
from ..report import Report
from .datatypes.navigation import many, one
from .dispatch import map_nested, map_section
from .shared.participants import contact_participant
from .shared.provenance import author_agents, authored_at
from .state import Conversion


class DocumentConversion(Conversion):
    """A conversion of one whole document: each statement's authors get a Provenance, and nested
    statements a template does not consume are mapped by their own routes (map.dispatch)."""

    # made over a statement without being that statement's own resource
    NOT_THE_STATEMENT = frozenset({"resource/EntryProvenance", "document/Provenance", "document/SourceDocument"})

    def after_made(self, template: str, variables: dict, ref: dict) -> None:
        """A Provenance for a statement's authors (IG: author -> Provenance), when they say when:
        Provenance.recorded is required."""
        src = variables.get("src")
        if isinstance(src, dict) and src.get("author") and template.startswith("resource/") \
                and template != "resource/EntryProvenance":
            authors = src["author"]
            when, agents = authored_at(authors), author_agents(authors)
            if when and agents:
                self.emit("resource/EntryProvenance", target=ref, recorded=when, agents=agents)

    def map_nested(self, element: str, stmt: dict, parents: list) -> int:
        return map_nested(self, element, stmt, parents)


def map_document(doc: dict, patient_id: str, options: dict | None = None) -> tuple[list[dict], Report]:
    """All resources made from one walked document, in the order made, and the report."""
    with DocumentConversion(doc, patient_id, options) as conv:
        header = doc["header"]
        conv.where = {"element": "recordTarget", "line": header.get("_line")}
        targets = many(header.get("recordTarget"))
        if len(targets) > 1:
            conv.warn(f"the document has {len(targets)} recordTargets; only the first is the Patient",
                      level="partial")
        patient_role = (one(targets) or {}).get("patientRole")
        patient = conv.emit("resource/Patient", src=patient_role, patient_id=patient_id) \
            if isinstance(patient_role, dict) else None
        if patient is None:
            conv.warn("the document has no recordTarget/patientRole; Patient holds only its id",
                      level="partial")
            conv.add({"resourceType": "Patient", "id": patient_id})
            if any(contact_participant(p) for p in many(header.get("participant"))):
                # their home would be Patient.contact, which needs a patientRole to describe
                conv.warn("header participants that are patient contacts are not mapped: "
                          "there is no patientRole", level="unmapped", element="participant")
        conv.where = {"element": "componentOf"}
        encompassing = (header.get("componentOf") or {}).get("encompassingEncounter")
        encounter = conv.emit("resource/Encounter", src=encompassing, element="encompassingEncounter") \
            if isinstance(encompassing, dict) else None
        if encounter is None and isinstance(encompassing, dict):
            conv.warn("componentOf/encompassingEncounter holds nothing we can map to an Encounter",
                      level="partial")
        conv.encounter = encounter
        section_refs = []
        for section in doc["sections"]:
            section_refs.append(map_section(conv, section))
        conv.section = None
        conv.where = {"element": "ClinicalDocument", "line": header.get("_line")}
        if doc["body"] is None:
            conv.warn("the document has no body", level="partial")
        composition = conv.emit("document/Composition", src=header, sections=doc["sections"],
                                section_refs=section_refs, encounter=encounter)
        if composition and "date" not in conv.resources[composition["reference"]]:
            conv.warn("nothing in the document says when it was written: Composition.date and the "
                      "document Provenance's recorded are data-absent", level="partial")
        conv.settle_identities()
        # Every resource made from the document, except the Patient (the caller's record of the
        # person, id = patient_id, which this document is one source of among many) and the
        # statement-level Provenances (not clinical content).
        targets = [{"reference": ref} for ref in conv.resources
                   if not ref.startswith(("Patient/", "Provenance/"))]
        conv.emit("document/Provenance", src=header, targets=targets, composition=composition)
        _us_core_names(conv.resources.values())
        _fit_references(conv)
        _keep_claims(conv)
        conv.report.resources = len(conv.resources)
        return list(conv.resources.values()), conv.report


_DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


def _fit_references(conv: Conversion) -> None:
    """No reference to a type its element does not allow (R4); each left out is reported once
    per element and type."""
    dropped: dict[tuple, int] = {}
    for r in conv.resources.values():
        for path, target in drop_misdirected(r):
            key = (f"{r['resourceType']}.{path}", target)
            dropped[key] = dropped.get(key, 0) + 1
    for (element, target), n in dropped.items():
        conv.warn(f"{element} left out {n} time{'s' if n > 1 else ''}: the participant is a {target}, "
                  f"which R4 does not allow there", level="partial", element=None, line=None)


def _keep_claims(conv: Conversion) -> None:
    """A resource claims a US Core profile only when it conforms (checked once every rendering is
    merged); each claim dropped is reported, once per profile and reason."""
    dropped: dict[tuple, int] = {}
    for _, url, reason, instead in keep_claims(conv.resources.values(), conv.resources.get):
        key = (url.rsplit("/", 1)[-1], reason, instead and instead.rsplit("/", 1)[-1])
        dropped[key] = dropped.get(key, 0) + 1
    for (name, reason, instead), n in dropped.items():
        conv.warn(f"{n} resource{'s do' if n > 1 else ' does'} not claim {name}"
                  + (f" (only {instead})" if instead else "")
                  + f", which the source does not give enough for: {reason}",
                  level="warning", element=None, line=None)


_UNKNOWN = {"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown",
            "display": "Unknown"}


def _us_core_names(resources) -> None:
    """US Core requires Practitioner.name, Organization.name and Encounter.type; a participant
    the source names only by id gets a data-absent name, an encounter it gives no type the
    'unknown' type (as the IG's ConceptMap codes a missing code). Done once all renderings are
    merged (a name-less mention and a named one of the same person make one resource)."""
    for r in resources:
        if r["resourceType"] == "Practitioner" and not r.get("name"):
            r["name"] = [{"extension": [{"url": _DATA_ABSENT, "valueCode": "unknown"}]}]
        elif r["resourceType"] == "Organization" and not r.get("name"):
            r["_name"] = {"extension": [{"url": _DATA_ABSENT, "valueCode": "unknown"}]}
        elif r["resourceType"] == "Encounter" and not r.get("type"):
            r["type"] = [{"coding": [dict(_UNKNOWN)]}]


__all__ = ["map_document", "many"]
