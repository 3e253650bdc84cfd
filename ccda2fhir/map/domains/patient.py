"""Patient-only conversions: US Core race and ethnicity, language, deceased, multiple birth."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from ..datatypes.addresses import address
from ..datatypes.codes import codeable_concept, coding
from ..datatypes.dates import datetime, end, parse_ts, period
from ..datatypes.identifiers import identifier, identifiers
from ..datatypes.names import human_name
from ..datatypes.navigation import many, one
from ..datatypes.telecoms import contact_points
from ..datatypes.terminology import concept
from ..engine.registry import template_filter, template_global
from ..shared.participants import CONTACT_CLASSES, ROLE_CODE, contact_participant, organization_ref
from ..state import current

RACE_URL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
ETHNICITY_URL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
CDC_RACE = "urn:oid:2.16.840.1.113883.6.238"
ISO639_2 = "http://terminology.hl7.org/CodeSystem/iso639-2"
PROFICIENCY_URL = "http://hl7.org/fhir/StructureDefinition/patient-proficiency"
BIRTH_TIME_URL = "http://hl7.org/fhir/StructureDefinition/patient-birthTime"

# OMB minimum categories (US Core: these go to ombCategory, any other CDC code to detailed).
OMB_RACE = frozenset({"1002-5", "2028-9", "2054-5", "2076-8", "2106-3", "UNK", "ASKU"})
OMB_ETHNICITY = frozenset({"2135-2", "2186-5", "UNK", "ASKU"})


@lru_cache(maxsize=1)
def _omb_ranges() -> dict:
    data = json.loads(resources.files("ccda2fhir.data").joinpath("valuemaps", "header.json").read_text())
    return data["_OmbRanges"]


def _omb_parent(kind: str, code: str) -> dict | None:
    """The OMB category Coding a detailed CDC race/ethnicity code falls under (by code range)."""
    m = re.match(r"^(\d{4})-\d$", code or "")
    if not m:
        return None
    n = int(m.group(1))
    for low, high, omb, display in _omb_ranges()[kind]:
        if low <= n <= high:
            return {"system": CDC_RACE, "code": omb, "display": display}
    return None


def _omb_extension(url: str, omb: frozenset, codes: list) -> dict | None:
    parts, texts = [], []
    for cd in codes:
        if not isinstance(cd, dict):
            continue
        if cd.get("nullFlavor") in ("UNK", "ASKU") and not cd.get("code"):
            parts.append({"url": "ombCategory", "valueCoding": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor",
                "code": cd["nullFlavor"], "display": "Unknown" if cd["nullFlavor"] == "UNK" else "Asked but no answer"}})
            texts.append("Unknown" if cd["nullFlavor"] == "UNK" else "Asked but no answer")
            continue
        c = coding(cd)
        if not c:
            continue
        c["system"] = CDC_RACE
        parts.append({"url": "ombCategory" if c["code"] in omb else "detailed", "valueCoding": c})
        texts.append(c.get("display") or c["code"])
    if not parts:
        return None
    # IG CF-patient: a detailed code under an OMB category the sender did not give adds that category
    kind = "race" if omb is OMB_RACE else "ethnicity"
    have = {p["valueCoding"]["code"] for p in parts if p["url"] == "ombCategory"}
    for p in list(parts):
        if p["url"] == "detailed":
            parent = _omb_parent(kind, p["valueCoding"]["code"])
            if parent and parent["code"] not in have:
                have.add(parent["code"])
                parts.append({"url": "ombCategory", "valueCoding": parent})
    # ombCategory slices come before detailed ones, as US Core lists them.
    parts.sort(key=lambda p: p["url"] != "ombCategory")
    parts.append({"url": "text", "valueString": ", ".join(dict.fromkeys(texts))})
    return {"url": url, "extension": parts}


@template_filter
def us_core_race(patient) -> dict | None:
    """US Core race extension from raceCode and sdtc:raceCode."""
    if not isinstance(patient, dict):
        return None
    return _omb_extension(RACE_URL, OMB_RACE, many(patient.get("raceCode")) + many(patient.get("sdtc_raceCode")))


@template_filter
def us_core_ethnicity(patient) -> dict | None:
    """US Core ethnicity extension from ethnicGroupCode and sdtc:ethnicGroupCode."""
    if not isinstance(patient, dict):
        return None
    return _omb_extension(ETHNICITY_URL, OMB_ETHNICITY,
                          many(patient.get("ethnicGroupCode")) + many(patient.get("sdtc_ethnicGroupCode")))


@template_filter
def communication(lc) -> dict | None:
    """Patient.communication from a languageCommunication (BCP 47 language, preference)."""
    lc = one(lc)
    if not isinstance(lc, dict):
        return None
    lang = lc.get("languageCode") or {}
    code = (lang.get("code") or "").strip()
    if not code or lang.get("nullFlavor"):
        return None
    tag = bcp47(code)
    out = {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": tag}]}}
    if tag.lower() != code.lower() and re.match(r"^[A-Za-z]{3}$", code):
        # the sender's ISO 639-2 code, kept as a second coding
        out["language"]["coding"].append({"system": ISO639_2, "code": code})
    pref = (lc.get("preferenceInd") or {}).get("value")
    if pref in ("true", "false"):
        out["preferred"] = pref == "true"
    # modeCode / proficiencyLevelCode -> one patient-proficiency extension (IG CF-patient).
    parts = []
    for sub, key in (("level", "proficiencyLevelCode"), ("type", "modeCode")):
        c = coding(lc.get(key))
        if c:
            parts.append({"url": sub, "valueCoding": c})
    if parts:
        out["extension"] = [{"url": PROFICIENCY_URL, "extension": parts}]
    return out


_BCP47 = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")


@template_filter
def bcp47(code) -> str | None:
    """A BCP 47 tag from a CDA languageCode: ISO 639-2 codes to their two-letter form
    (value map LanguageBcp47), '_' to '-'; otherwise the code as sent."""
    if not isinstance(code, str) or not code.strip():
        return None
    code = code.strip()
    hit = concept(code, "LanguageBcp47")
    if hit:
        return hit["code"]
    if not _BCP47.match(code):
        return code
    parts = code.replace("_", "-").split("-")
    lang = concept(parts[0], "LanguageBcp47")
    out = [lang["code"] if lang else parts[0]] + parts[1:]
    return "-".join(out)


@template_filter
def communications(lcs) -> list[dict]:
    """Patient.communication for each languageCommunication (see communication); those with no
    language code left out."""
    return [c for c in (communication(x) for x in many(lcs)) if c]


@template_filter
def deceased(patient) -> dict:
    """{'DateTime': ..} or {'Boolean': ..} from sdtc:deceasedTime / sdtc:deceasedInd."""
    if not isinstance(patient, dict):
        return {}
    t = datetime(patient.get("sdtc_deceasedTime"))
    if t:
        return {"DateTime": t}
    ind = (patient.get("sdtc_deceasedInd") or {}).get("value")
    if ind in ("true", "false"):
        return {"Boolean": ind == "true"}
    return {}


@template_filter
def multiple_birth(patient) -> dict:
    """{'Integer': n} or {'Boolean': b} from sdtc:multipleBirthOrderNumber / Ind."""
    if not isinstance(patient, dict):
        return {}
    order = (patient.get("sdtc_multipleBirthOrderNumber") or {}).get("value")
    if order and order.strip().isdigit() and int(order) > 0:
        return {"Integer": int(order)}
    ind = (patient.get("sdtc_multipleBirthInd") or {}).get("value")
    if ind in ("true", "false"):
        return {"Boolean": ind == "true"}
    return {}


@template_filter
def gender(cd) -> str | None:
    """Patient.gender from administrativeGenderCode (IG ConceptMap; UN -> other, unknown otherwise)."""
    cd = one(cd)
    if not isinstance(cd, dict):
        return None
    if cd.get("nullFlavor") and not cd.get("code"):
        return "unknown"
    code = (cd.get("code") or "").strip().upper()
    c = concept(code, "AdministrativeGender")
    if c:
        return c["code"]
    return {"MALE": "male", "FEMALE": "female", "UN": "other"}.get(code, "unknown")


@template_filter
def guardian_contacts(guardians) -> list[dict]:
    """Patient.contact from each guardian: relationship, name, telecom, address."""
    out = []
    for g in many(guardians):
        if not isinstance(g, dict):
            continue
        person = g.get("guardianPerson") or {}
        # IG CF-patient: a fixed GUARD first, then guardian/code and asPatientRelationship/code.
        rel = [{"coding": [{"system": ROLE_CODE, "code": "GUARD", "display": "guardian"}]}]
        for cd in (g.get("code"), (person.get("sdtc_asPatientRelationship") or {}).get("code")):
            role = codeable_concept(cd)
            if role and role not in rel:
                rel.append(role)
        contact = {"relationship": rel, "name": human_name(person.get("name")),
                   "telecom": contact_points(g.get("telecom")), "address": address(g.get("addr"))}
        org = g.get("guardianOrganization")
        if isinstance(org, dict):
            contact["organization"] = organization_ref(org)
        out.append({k: v for k, v in contact.items() if v})
    return out


def _qualifiers(pn: dict) -> set:
    out = set()
    for key in ("family", "given", "prefix", "suffix"):
        for part in many(pn.get(key)):
            if isinstance(part, dict):
                out.update((part.get("qualifier") or "").split())
    return out


@template_filter
def patient_names(names) -> list[dict]:
    """Patient.name: every name, with use from the IG NameUse map, refined where CDA says more.

    Our choices (the IG is silent): a name whose parts carry qualifier BR (birth
    name) and no @use gets use 'maiden'; a name whose validTime has ended
    (high with a value) gets use 'old' (FHIR: no longer in use), its period kept.
    """
    out = []
    for pn in many(names):
        if not isinstance(pn, dict):
            continue
        hn = human_name(pn)
        if not hn:
            continue
        if "use" not in hn and "BR" in _qualifiers(pn):
            hn["use"] = "maiden"
        if end(pn.get("validTime")) and hn.get("use") in (None, "usual", "official"):
            hn["use"] = "old"
        out.append(hn)
    return out


@template_filter
def birth_time(ts) -> dict | None:
    """The patient-birthTime extension (on _birthDate) when birthTime carries a time of day."""
    t = parse_ts(one(ts))
    if t is None or not t.h:
        return None
    value = datetime(one(ts))
    if not value or "T" not in value:
        return None       # a time with no UTC offset: FHIR dateTime cannot hold it
    return {"extension": [{"url": BIRTH_TIME_URL, "valueDateTime": value}]}


# US Core birth sex: M, F, or UNK (asked, not known / not asked).
_BIRTH_SEX = {"M": "M", "F": "F", "UN": "UNK", "UNK": "UNK", "ASKU": "UNK"}


@template_filter
def birth_sex(observations) -> str | None:
    """US Core birthsex code from the Birth Sex Observation (…22.4.200): the latest one."""
    best = None
    for obs in many(observations):
        if isinstance(obs, dict):
            best = obs
    if best is None:
        return None
    value = one(best.get("value"))
    if not isinstance(value, dict):
        return None
    code = (value.get("code") or value.get("nullFlavor") or "").strip().upper()
    return _BIRTH_SEX.get(code)


@template_global
def header_contacts() -> list[dict]:
    """Patient.contact from the header participants that are emergency contacts, next of kin,
    guardians or caregivers: relationship (class, then code), name, telecom, address, organization."""
    out = []
    for part in many(current().header.get("participant")):
        if not contact_participant(part):
            continue
        ae = part["associatedEntity"]
        rel = [{"coding": [dict(CONTACT_CLASSES[ae["classCode"]])]}]
        role = codeable_concept(ae.get("code"))
        if role:
            rel.append(role)
        person = ae.get("associatedPerson") if isinstance(ae.get("associatedPerson"), dict) else {}
        contact = {"relationship": rel, "name": human_name(person.get("name")),
                   "telecom": contact_points(ae.get("telecom")), "address": address(ae.get("addr")),
                   "period": period(part.get("time"))}
        org = ae.get("scopingOrganization")
        if isinstance(org, dict):
            contact["organization"] = organization_ref(org)
        contact = {k: v for k, v in contact.items() if v}
        if len(contact) > 1:
            out.append(contact)
    return out


_CONTACT_DETAILS = ("name", "telecom", "address", "organization")


@template_filter
def merge_contacts(contacts) -> list[dict]:
    """One Patient.contact per person: contacts with the same name, telecom and address
    (a guardian also listed as next of kin and emergency contact) keep all relationships."""
    out: list[dict] = []
    for c in many(contacts):
        if not isinstance(c, dict):
            continue
        if not any(c.get(k) for k in _CONTACT_DETAILS):
            current().warn("a patient contact whose source gives only its relationship is not mapped: "
                           "FHIR requires its name, telecom, address or organization (pat-1)",
                           level="partial")
            continue
        key = {k: v for k, v in c.items() if k != "relationship"}
        for o in out:
            if {k: v for k, v in o.items() if k != "relationship"} == key:
                for r in c.get("relationship", []):
                    if r not in o.setdefault("relationship", []):
                        o["relationship"].append(r)
                break
        else:
            out.append({**c, "relationship": list(c.get("relationship", []))})
    return out


@template_filter
def patient_identifiers(ids, identified_by=None) -> list[dict]:
    """Patient.identifier: every id, except nullFlavored ones (a masked SSN, MSK, 'SHALL
    NOT be used for matching' per the HL7 example; an NI id identifies nothing). An
    sdtc:identifiedBy/alternateIdentification naming the same id gives its Identifier.type."""
    types = {}
    for ib in many(identified_by):
        alt = ib.get("sdtc_alternateIdentification") if isinstance(ib, dict) else None
        if not isinstance(alt, dict):
            continue
        cc = codeable_concept(alt.get("sdtc_code"))
        for ii in many(alt.get("sdtc_id")):
            ident = identifier(ii)
            if ident and cc:
                types.setdefault((ident.get("system"), ident["value"]), cc)
    out = identifiers([ii for ii in many(ids) if isinstance(ii, dict) and not ii.get("nullFlavor")])
    for ident in out:
        cc = types.get((ident.get("system"), ident["value"]))
        if cc:
            ident["type"] = cc
    return out
