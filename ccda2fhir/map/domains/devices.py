"""Medical equipment: Product Instance -> Device (US Core Implantable Device when it carries
a UDI), Non-Medicinal Supply Activity / implant procedures -> DeviceUseStatement.

The C-CDA on FHIR IG has no page for these; choices follow FHIR R4 Device /
DeviceUseStatement and the US Core Implantable Device profile, noted below.
"""
from __future__ import annotations

import re

from ...assemble.ids import ii_key
from ..datatypes.codes import codeable_concept
from ..datatypes.dates import date, parse_ts
from ..datatypes.identifiers import id_key
from ..datatypes.navigation import children, has_template, many, one, statement_of, template_ids
from ..datatypes.status import negated, status_code
from ..datatypes.terminology import concept, concept_code
from ..datatypes.text import text
from ..engine.registry import template_filter, template_global
from ..engine.routes import section_keys, table
from ..shared.participants import product_device_ref
from ..state import current

FDA_UDI = "2.16.840.1.113883.3.3719"
FDA_ISSUER = "http://hl7.org/fhir/NamingSystem/fda-udi"
PRODUCT_INSTANCE = "2.16.840.1.113883.10.20.22.4.37"
UDI_ORGANIZER = "2.16.840.1.113883.10.20.22.4.311"
DEVICE_STATUS_OBS = "2.16.840.1.113883.10.20.22.4.305"
# UDI Organizer component templates -> what they carry
_UDI_PARTS = {
    "2.16.840.1.113883.10.20.22.4.304": "di", "2.16.840.1.113883.10.20.22.4.315": "lot",
    "2.16.840.1.113883.10.20.22.4.319": "serial", "2.16.840.1.113883.10.20.22.4.316": "manufactured",
    "2.16.840.1.113883.10.20.22.4.309": "expires", "2.16.840.1.113883.10.20.22.4.308": "distinct",
    "2.16.840.1.113883.10.20.22.4.301": "brand", "2.16.840.1.113883.10.20.22.4.317": "model",
    "2.16.840.1.113883.10.20.22.4.303": "company", "2.16.840.1.113883.10.20.22.4.302": "catalog",
}
_GS1_AI = re.compile(r"\((\d{2,4})\)([^(]*)")


def _real_ids(ids) -> list[dict]:
    """The ids that identify something: no nullFlavor, not a bare FDA root (the issuing agency)."""
    out = []
    for ii in many(ids):
        if not isinstance(ii, dict) or ii.get("nullFlavor"):
            continue
        if (ii.get("root") or "").strip() == FDA_UDI and not (ii.get("extension") or "").strip():
            continue
        if ii_key(ii):
            out.append(ii)
    return out


# Issuing agencies' roots (FDA UDI rule: GS1, HIBCC, ICCBBA) as senders write them.
UDI_ROOTS = (FDA_UDI, "1.3.160", "2.16.840.1.113883.6.40", "2.16.840.1.113883.6.18")
_ISSUERS = {"(": "http://hl7.org/fhir/NamingSystem/gs1-di", "0": "http://hl7.org/fhir/NamingSystem/gs1-di",
            "+": "http://hl7.org/fhir/NamingSystem/hibcc-dI",
            "=": "http://hl7.org/fhir/NamingSystem/iccbba-other-di"}


def _udi_ii(role) -> dict | None:
    """The id carrying the device's UDI: an FDA UDI (or issuing agency) root with the HRF as extension."""
    for ii in _real_ids((role or {}).get("id")):
        ext = (ii.get("extension") or "").strip()
        if ext and ((ii.get("root") or "").strip() in UDI_ROOTS or ext.startswith("(01)")):
            return ii
    return None


def _gs1_date(yymmdd: str) -> str | None:
    """GS1 YYMMDD -> FHIR date (GS1: DD 00 means the month's end is not given: month precision)."""
    if not re.fullmatch(r"\d{6}", yymmdd or ""):
        return None
    yy, mm, dd = int(yymmdd[:2]), yymmdd[2:4], yymmdd[4:]
    year = 2000 + yy if yy < 50 else 1900 + yy  # GS1 General Specifications' 50-year window, simplified
    ts = parse_ts(f"{year}{mm}{'' if dd == '00' else dd}")
    return ts.date() if ts else None


def parse_udi(hrf: str) -> dict:
    """The GS1 parts of a human-readable UDI: (01) DI, (11) manufactured, (17) expires, (10) lot, (21) serial."""
    out = {}
    for ai, value in _GS1_AI.findall(hrf or ""):
        value = value.strip()
        if not value:
            continue
        if ai == "01":
            out["di"] = value
        elif ai == "10":
            out["lot"] = value
        elif ai == "21":
            out["serial"] = value
        elif ai == "11":
            out["manufactured"] = _gs1_date(value)
        elif ai == "17":
            out["expires"] = _gs1_date(value)
    return {k: v for k, v in out.items() if v}


def _udi_organizer(stmt) -> dict | None:
    for c in children(stmt):
        if has_template(c, UDI_ORGANIZER):
            return c
    return None


SAFETY_OBS = ("2.16.840.1.113883.10.20.22.4.314", "2.16.840.1.113883.10.20.22.4.318")  # latex, MRI safety


def _organizer_parts(org) -> dict:
    out = {}
    for c in children(org):
        if has_template(c, *SAFETY_OBS):
            cc = codeable_concept(one(c.get("value")))
            if cc:
                out.setdefault("safety", []).append(cc)
            continue
        kind = next((_UDI_PARTS[t] for t in (x.get("root") for x in many(c.get("templateId")) if isinstance(x, dict))
                     if t in _UDI_PARTS), None)
        if not kind:
            continue
        value = one(c.get("value"))
        if not isinstance(value, dict):
            continue
        if kind in ("manufactured", "expires"):
            v = date(value)
        elif value.get("xsi_type") == "II":
            v = (value.get("extension") or "").strip() or None
        else:
            v = text(value)
        if v:
            out[kind] = v
    return out


@template_global
def device_facts(role, stmt=None) -> dict:
    """Everything known about one Product Instance: its UDI parts (from the HRF and, when the
    statement holds one, the UDI Organizer, which wins), names and the id to key it by."""
    role = role or {}
    udi = _udi_ii(role)
    facts = {}
    if udi:
        facts["hrf"] = udi["extension"].strip()
        facts.update(parse_udi(facts["hrf"]))
    # a UDI Organizer mapped on its own (nested where no Product Instance consumes it) is the device
    org = role if has_template(role, UDI_ORGANIZER) else _udi_organizer(stmt) if stmt else None
    if org:
        if not udi:
            oi = _udi_ii(org)
            if oi:
                facts["hrf"] = oi["extension"].strip()
                facts.update(parse_udi(facts["hrf"]))
        facts.update(_organizer_parts(org))
    # the organizer's own id is the UDI again: it lives in udiCarrier, not twice in identifier
    facts["ids"] = [] if org is role else _real_ids(role.get("id"))
    facts["own_type"] = org is not role
    # Key: the real ids with the device's code. Senders reuse one participantRole id for
    # different devices (the HL7 R2.1 CCD: pacemaker and GI prosthesis); those stay apart.
    key = id_key(facts["ids"])
    if facts.get("hrf"):
        # a UDI names one device instance: the Product Instance and a UDI Organizer carrying it
        # are the same Device (merged)
        facts["key"] = f"{FDA_UDI}|{facts['hrf']}"
    elif key:
        code = one(((role.get("playingDevice") or {}).get("code")))
        facts["key"] = f"{key} {(code or {}).get('code') or ''}".strip() if isinstance(code, dict) else key
    return facts


@template_global
def device_udi_carrier(facts) -> list[dict]:
    """udiCarrier (US Core Implantable Device): deviceIdentifier and carrierHRF of an FDA UDI."""
    if not facts or not (facts.get("hrf") or facts.get("di")):
        return []
    hrf = facts.get("hrf") or ""
    # issuer: the issuing agency the HRF's form names (GS1 '(01)', HIBCC '+', ICCBBA '=');
    # jurisdiction: the FDA, whose UDI rule these C-CDA templates implement
    return [{"deviceIdentifier": facts.get("di"), "issuer": _ISSUERS.get(hrf[:1]),
             "jurisdiction": FDA_ISSUER, "carrierHRF": hrf or None}]


@template_global
def device_names(facts, device) -> list[dict]:
    """deviceName: the UDI Organizer's brand name (udi-label-name) and the playingDevice's
    manufacturerModelName (model-name)."""
    names = []
    if facts.get("brand"):
        names.append({"name": facts["brand"], "type": "udi-label-name"})
    name = text((device or {}).get("manufacturerModelName"))
    if name:
        names.append({"name": name, "type": "model-name"})
    return names


@template_global
def device_type(device) -> dict | None:
    """Device.type: the playingDevice code (with its originalText). Nothing when the source
    names no kind: the same UDI is often written again elsewhere with its code, and a
    data-absent type would sit beside that code once the renderings merge."""
    return codeable_concept(one((device or {}).get("code")))


@template_global
def device_status(stmt) -> str | None:
    """Device.status from an Implantable Device Status Observation (NCI C45329 Active / C154407 Inactive)."""
    for c in children(stmt):
        if has_template(c, DEVICE_STATUS_OBS):
            hit = concept(one(c.get("value")), "DeviceStatus")
            if hit:
                return hit["code"]
    for c in children(_udi_organizer(stmt) or {}) if stmt else ():
        if has_template(c, DEVICE_STATUS_OBS):
            hit = concept(one(c.get("value")), "DeviceStatus")
            if hit:
                return hit["code"]
    return None


def _product_roles(stmt) -> list[dict]:
    """The participantRoles of a statement's device/product participants (Product Instance first)."""
    found = []
    for p in many((stmt or {}).get("participant")):
        if not isinstance(p, dict) or p.get("typeCode") not in ("DEV", "PRD", None):
            continue
        role = p.get("participantRole")
        if isinstance(role, dict) and (has_template(role, PRODUCT_INSTANCE) or isinstance(role.get("playingDevice"), dict)):
            found.append(role)
    product = (stmt or {}).get("product")
    if isinstance(product, dict):
        for key in ("manufacturedProduct",):
            mp = product.get(key)
            if isinstance(mp, dict) and isinstance(mp.get("manufacturedMaterial"), dict):
                found.append({"id": mp.get("id"), "playingDevice": mp["manufacturedMaterial"],
                              "scopingEntity": {"desc": (mp.get("manufacturerOrganization") or {}).get("name")}})
    return found


@template_global
def statement_devices(stmt) -> list[dict]:
    """References to the Devices of a statement's product participants."""
    return [r for r in (product_device_ref(role, stmt) for role in _product_roles(stmt)) if r]


@template_global
def supply_device(stmt) -> dict | None:
    """DeviceUseStatement.device (1..1): the product participant's Device; a supply naming no
    product is itself the description of the equipment (its code/text) -> a Device from that."""
    refs = statement_devices(stmt)
    if refs:
        return refs[0]
    code = one((stmt or {}).get("code"))
    if not codeable_concept(code):
        t = text((stmt or {}).get("text"))
        if not t:
            return None
        code = {"_text": t}
    return current().emit("resource/ProductDevice", src={}, stmt=None, device={"code": code})


@template_global
def device_use_status(stmt, element) -> str:
    """DeviceUseStatement.status. A supply's statusCode through DeviceUseStatus; an intent
    (INT) is 'intended'. An implant procedure that is completed put the device in: the use is
    'active' unless its Implantable Device Status says inactive (C-CDA: 'Procedure is
    completed, even though the implant is still active')."""
    if (stmt or {}).get("moodCode") in ("INT", "RQO", "PRP", "ARQ"):
        return "intended"
    code = status_code(stmt)
    if element == "procedure":
        ds = device_status(stmt)
        if ds == "inactive":
            return "completed"
        if code in (None, "completed", "active"):
            return "active"
    return concept_code(code, "DeviceUseStatus", "active" if code is None else "completed")


@template_global
def procedure_template(stmt, element) -> str:
    """The resource template a statement gets outside any section restriction (the
    procedures route's template for a Procedure Activity), for DeviceUseStatement.derivedFrom."""
    routes = table()
    route = routes.match(element, template_ids(stmt), set())
    template = route.template_for(stmt) if route else None
    if not template or template == "resource/DeviceUseStatement":
        fb = routes.fallback.get(element)
        template = fb.template_for(stmt) if fb else None
    return template or "resource/Procedure"


@template_global
def derived_procedure(stmt, parents, element) -> dict | None:
    """The Procedure an implant procedure is (rendered by the procedures mapping), referenced
    from the DeviceUseStatement as derivedFrom."""
    if element == "supply":
        return None
    return current().emit(procedure_template(stmt, element), src=stmt, parents=parents, element=element)


@template_global
def device_use_applies(stmt) -> bool:
    """Whether a procedure in the equipment section states a device use: not negated, names a device."""
    return not negated(stmt) and bool(_product_roles(stmt))


@template_filter
def named(names) -> list[dict]:
    """deviceName entries that have a name (FHIR requires name and type)."""
    return [n for n in many(names) if isinstance(n, dict) and n.get("name") and n.get("type")]


@template_global
def grouped_entries(src, parents, section) -> list[dict]:
    """References to what the statements grouped by an organizer/act are mapped to (for a
    List of them). Each is rendered through its own route exactly as the dispatcher will when
    it descends, so both renderings are one resource."""
    conv = current()
    keys = section_keys(section) if section else set()
    out = []
    for rel in many((src or {}).get("entryRelationship")) + many((src or {}).get("component")):
        element, child = statement_of(rel)
        if child is None:
            continue
        route = table().match(element, template_ids(child), keys)
        template = route.template_for(child) if route else None
        if not template:
            continue
        ref = conv.emit(template, src=child, parents=[src] + list(many(parents)), element=element)
        if ref and {"item": ref} not in out:
            out.append({"item": ref})
    return out


# Coded device observations kept as Device.property (type = the observation's code, valueCode =
# its coded value): the Implantable Device Status (4.305) and the UDI Organizer's Device Status
# (4.306, FHIR device-status codes), beside the Device.status they map to; the Latex (4.314) and
# MRI (4.318) Safety observations, whose value also goes to Device.safety but whose code (which
# safety question it answers) has no other home there. Our choice: the UDI field observations
# (DI, lot, serial, dates, distinct id) are not repeated here, their values having dedicated
# Device elements and their codes only naming the field.
PROPERTY_OBS = (DEVICE_STATUS_OBS, "2.16.840.1.113883.10.20.22.4.306") + SAFETY_OBS


@template_global
def device_properties(stmt, role=None) -> list[dict]:
    """property: the device status and safety observations as they were written (their code and
    coded value; see PROPERTY_OBS), so the source is not reduced to the FHIR enums alone."""
    out = []
    holders = [stmt, _udi_organizer(stmt) if stmt else None]
    if role is not None and has_template(role, UDI_ORGANIZER):
        holders.append(role)
    for holder in holders:
        for c in children(holder or {}):
            if has_template(c, *PROPERTY_OBS):
                kind, value = codeable_concept(c.get("code")), codeable_concept(one(c.get("value")))
                if kind and value:
                    prop = {"type": kind, "valueCode": [value]}
                    if prop not in out:
                        out.append(prop)
    return out
