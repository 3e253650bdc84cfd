"""Encounter specifics (C-CDA on FHIR: CF-encounters), for header and body encounters alike."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from .codes import codeable_concept, coding, codings
from .navigation import many, one, related
from .participants import location_ref, practitioner_ref
from .registry import template_filter, template_global
from .status import data_absent, status_code
from .terminology import concept

ACT_CODE = "2.16.840.1.113883.5.4"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


@lru_cache(maxsize=1)
def _cpt_classes() -> dict:
    raw = json.loads(resources.files("ccda2fhir.data").joinpath("encounter_class.json").read_text())
    table = {}
    for cls, ranges in raw["cpt"].items():
        for r in ranges:
            lo, _, hi = r.partition("-")
            for n in range(int(lo), int(hi or lo) + 1):
                table[str(n)] = cls
    return {"cpt": table, "display": raw["display"]}


@template_global
def encounter_class(code) -> dict:
    """Encounter.class: a v3 ActCode from the code or a translation, or from a CPT E/M code;
    data-absent-reason when neither says (IG)."""
    cd = one(code)
    candidates = [cd] + many((cd or {}).get("translation")) if isinstance(cd, dict) else []
    for c in candidates:
        if isinstance(c, dict) and c.get("codeSystem") == ACT_CODE and c.get("code"):
            out = coding(c)
            out["system"] = V3_ACT_CODE
            return out
    cpt = _cpt_classes()
    for c in candidates:
        if isinstance(c, dict) and c.get("codeSystem") == "2.16.840.1.113883.6.12":
            cls = cpt["cpt"].get((c.get("code") or "").strip())
            if cls:
                return {"system": V3_ACT_CODE, "code": cls, "display": cpt["display"][cls]}
    return {"extension": [data_absent("UNK")]}


@template_global
def encounter_type(code) -> list[dict]:
    """Encounter.type: the code without its v3 ActCode codings."""
    cc = codeable_concept(code)
    if not cc:
        return []
    cc["coding"] = [c for c in cc.get("coding", []) if c.get("system") != V3_ACT_CODE]
    if not cc["coding"]:
        del cc["coding"]
    return [cc] if cc else []


@template_global
def encounter_status(src) -> str:
    """Encounter.status: the effectiveTime decides when it has an end or is a point (IG);
    otherwise the statusCode through the IG ConceptMap; 'unknown' when nothing says."""
    eff = one((src or {}).get("effectiveTime"))
    sc = status_code(src)
    if sc not in (None, "completed", "active"):
        c = concept(sc, "EncounterStatus")
        if c:
            return c["code"]
    if isinstance(eff, dict):
        if eff.get("value") or (isinstance(eff.get("high"), dict) and eff["high"].get("value")):
            return "finished"
        if isinstance(eff.get("low"), dict) and eff["low"].get("value"):
            return "in-progress" if sc == "active" else "finished"
    c = concept(sc, "EncounterStatus")
    return c["code"] if c else "unknown"


@template_global
def encounter_participants(src) -> list[dict]:
    """Encounter.participant from performers (body) and encounterParticipants/responsibleParty (header)."""
    out = []
    for p in many((src or {}).get("performer")) + many((src or {}).get("encounterParticipant")):
        if not isinstance(p, dict):
            continue
        who = practitioner_ref(p.get("assignedEntity"))
        if not who or not who["reference"].startswith(("Practitioner", "PractitionerRole", "RelatedPerson")):
            continue
        types = [t for t in (codeable_concept(p.get("sdtc_functionCode")),) if t]
        if p.get("typeCode"):
            types.append({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                      "code": p["typeCode"]}]})
        part = {"type": types, "individual": who, "period": None}
        from .dates import period
        part["period"] = period(p.get("time"))
        out.append({k: v for k, v in part.items() if v})
    rp = (src or {}).get("responsibleParty")
    if isinstance(rp, dict):
        who = practitioner_ref(rp.get("assignedEntity"))
        if who and who["reference"].startswith(("Practitioner", "PractitionerRole")):
            out.append({"type": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "RESP"}]}],
                "individual": who})
    return out


@template_global
def encounter_locations(src) -> list[dict]:
    """Encounter.location from participant[LOC] (body) or location/healthCareFacility (header)."""
    out = []
    for p in many((src or {}).get("participant")):
        if isinstance(p, dict) and p.get("typeCode") == "LOC":
            ref = location_ref(p.get("participantRole"))
            if ref:
                out.append({"location": ref})
    hcf = ((src or {}).get("location") or {}).get("healthCareFacility")
    if isinstance(hcf, dict):
        ref = location_ref(hcf)
        if ref:
            out.append({"location": ref})
    return out


@template_global
def encounter_diagnoses(src) -> list[dict]:
    """Encounter.diagnosis: each Encounter Diagnosis act's problem observations become
    Conditions (category encounter-diagnosis)."""
    from ..conversion import current
    out = []
    for act in related(src, "2.16.840.1.113883.10.20.22.4.80"):
        for obs in related(act, "2.16.840.1.113883.10.20.22.4.4"):
            ref = current().emit("resource/Condition", src=obs, parents=[act, src],
                                 category="encounter-diagnosis")
            if ref:
                out.append({"condition": ref})
    return out


@template_global
def reasons(src) -> list[dict]:
    """reasonCode from Indication observations (RSON): their value, else their code."""
    out = []
    for obs in related(src, "2.16.840.1.113883.10.20.22.4.19", "2.16.840.1.113883.10.20.1.28"):
        cc = codeable_concept(one(obs.get("value"))) or None
        if cc:
            out.append(cc)
    for rel in many((src or {}).get("entryRelationship")):
        if isinstance(rel, dict) and rel.get("typeCode") == "RSON":
            obs = rel.get("observation")
            if isinstance(obs, dict) and not related({"entryRelationship": [rel]},
                                                     "2.16.840.1.113883.10.20.22.4.19"):
                cc = codeable_concept(one(obs.get("value")))
                if cc and cc not in out:
                    out.append(cc)
    return out


__all__ = ["codings"]
