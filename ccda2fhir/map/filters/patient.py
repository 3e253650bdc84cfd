"""Patient-only conversions: US Core race and ethnicity, language, deceased, multiple birth."""
from __future__ import annotations

from .codes import coding
from .dates import datetime
from .navigation import many, one
from .registry import template_filter

RACE_URL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
ETHNICITY_URL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
CDC_RACE = "urn:oid:2.16.840.1.113883.6.238"
# OMB minimum categories (US Core: these go to ombCategory, any other CDC code to detailed).
OMB_RACE = frozenset({"1002-5", "2028-9", "2054-5", "2076-8", "2106-3", "UNK", "ASKU"})
OMB_ETHNICITY = frozenset({"2135-2", "2186-5", "UNK", "ASKU"})


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
    out = {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": code}]}}
    pref = (lc.get("preferenceInd") or {}).get("value")
    if pref in ("true", "false"):
        out["preferred"] = pref == "true"
    return out


@template_filter
def communications(lcs) -> list[dict]:
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
    from .terminology import concept
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
    from .addresses import address
    from .codes import codeable_concept
    from .names import human_name
    from .telecoms import contact_points
    out = []
    for g in many(guardians):
        if not isinstance(g, dict):
            continue
        person = g.get("guardianPerson") or {}
        rel = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "N",
                            "display": "Next-of-Kin"}]}]
        role = codeable_concept(g.get("code"))
        if role:
            rel.insert(0, role)
        contact = {"relationship": rel, "name": human_name(person.get("name")),
                   "telecom": contact_points(g.get("telecom")), "address": address(g.get("addr"))}
        org = g.get("guardianOrganization")
        if isinstance(org, dict):
            from .participants import organization_ref
            contact["organization"] = organization_ref(org)
        out.append({k: v for k, v in contact.items() if v})
    return out
