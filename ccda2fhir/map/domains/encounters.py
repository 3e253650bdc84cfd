"""Encounter specifics (C-CDA on FHIR: CF-encounters), for header and body encounters alike."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from ...assemble.ids import ii_key
from ..datatypes.codes import codeable_concept, coding
from ..datatypes.dates import datetime, end, period, start
from ..datatypes.identifiers import id_key
from ..datatypes.navigation import children, many, one, related, template_ids
from ..datatypes.status import data_absent, status_code
from ..datatypes.terminology import concept, system_uri
from ..engine.registry import template_global
from ..shared.participants import location_ref, practitioner_ref
from ..shared.statements import statement_index
from ..state import current

ACT_CODE = "2.16.840.1.113883.5.4"
# Senders sometimes put the ActEncounterCode value set OID where the ActCode system belongs.
ACT_CODE_OIDS = (ACT_CODE, "2.16.840.1.113883.1.11.13955")
_PLANNED_MOODS = ("INT", "ARQ", "PRMS", "PRP", "RQO", "APT")
ENCOUNTER_DIAGNOSIS = "2.16.840.1.113883.10.20.22.4.80"
HOSPITAL_DISCHARGE_DIAGNOSIS = "2.16.840.1.113883.10.20.22.4.33"
HOSPITAL_ADMISSION_DIAGNOSIS = "2.16.840.1.113883.10.20.22.4.34"
PROBLEM_OBSERVATIONS = ("2.16.840.1.113883.10.20.22.4.4", "2.16.840.1.113883.10.20.1.28",
                        "1.3.6.1.4.1.19376.1.5.3.1.4.5")
_DIAGNOSIS_USE = {HOSPITAL_DISCHARGE_DIAGNOSIS: "DD", HOSPITAL_ADMISSION_DIAGNOSIS: "AD"}
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
def encounter_class(code, src=None) -> dict:
    """Encounter.class: a v3 ActCode from the code or a translation, or from a CPT E/M code (the
    encounter's own, then those of its billing-code acts); data-absent-reason when none says (IG)."""
    cd = one(code)
    candidates = [cd] + many((cd or {}).get("translation")) if isinstance(cd, dict) else []
    candidates += [one(a.get("code")) for a in _billing_acts(src)]
    # The same encounter elsewhere (header and body share ids): its codes count too, so the one
    # merged Encounter gets one class whichever rendering comes first.
    for other in _same_encounters(src):
        ocd = one(other.get("code"))
        if isinstance(ocd, dict):
            candidates += [ocd] + many(ocd.get("translation"))
        candidates += [one(a.get("code")) for a in _billing_acts(other)]
    for c in candidates:
        if isinstance(c, dict) and c.get("code") and (
                c.get("codeSystem") in ACT_CODE_OIDS or system_uri(c.get("codeSystem")) == V3_ACT_CODE):
            out = coding(c)
            out["system"] = V3_ACT_CODE
            return out
    cpt = _cpt_classes()
    for c in candidates:
        if isinstance(c, dict) and system_uri(c.get("codeSystem")) == "http://www.ama-assn.org/go/cpt":
            cls = cpt["cpt"].get((c.get("code") or "").strip())
            if cls:
                return {"system": V3_ACT_CODE, "code": cls, "display": cpt["display"][cls]}
    return {"extension": [data_absent("UNK")]}


def _same_encounters(src) -> list[dict]:
    """Other encounters of the document with one of this encounter's ids (header and body)."""
    if not isinstance(src, dict) or not many(src.get("id")):
        return []
    try:
        conv = current()
    except LookupError:
        return []
    keys = {k for k in (ii_key(ii) for ii in many(src.get("id"))) if k}
    out = []
    header = (conv.header.get("componentOf") or {}).get("encompassingEncounter")
    if isinstance(header, dict) and header is not src and keys & {ii_key(ii) for ii in many(header.get("id"))}:
        out.append(header)
    idx = statement_index(conv)
    for k in keys:
        for _s, element, stmt, _p in idx.get(k, ()):
            if element == "encounter" and stmt is not src and stmt not in out:
                out.append(stmt)
    return out


_BILLING_SYSTEMS = ("2.16.840.1.113883.6.12", "2.16.840.1.113883.6.285", "2.16.840.1.113883.6.14")


def _billing_acts(src) -> list[dict]:
    """Untemplated acts nested in an encounter that only carry a CPT/HCPCS code: the encounter's
    further E&M billing codes (HL7 example 'Multiple CPT E&M Codes Single Encounter')."""
    out = []
    for act in children(src) if isinstance(src, dict) else []:
        code = one(act.get("code"))
        if not template_ids(act) and isinstance(code, dict) and code.get("codeSystem") in _BILLING_SYSTEMS \
                and not children(act):
            out.append(act)
    return out


@template_global
def encounter_billing_types(src) -> list[dict]:
    """More Encounter.type entries from the encounter's billing-code acts."""
    return [cc for cc in (codeable_concept(a.get("code")) for a in _billing_acts(src)) if cc]


@template_global
def encounter_type(code) -> list[dict]:
    """Encounter.type: the code without its v3 ActCode codings (those are the class), or with
    them when the code says nothing else ('ambulatory' is the type the source gives)."""
    cc = codeable_concept(code)
    if not cc:
        return []
    kept = [c for c in cc.get("coding", []) if c.get("system") != V3_ACT_CODE
            and c.get("system") != "urn:oid:2.16.840.1.113883.1.11.13955"]
    if kept:
        cc["coding"] = kept
    return [cc]


def _has_time(eff) -> bool:
    if not isinstance(eff, dict):
        return False
    return any(isinstance(x, dict) and x.get("value") for x in (eff, eff.get("low"), eff.get("high")))


@template_global
def encounter_status(src) -> str:
    """Encounter.status: the effectiveTime decides when it has an end or is a point (IG);
    otherwise the statusCode through the IG ConceptMap; 'unknown' when nothing says."""
    eff = one((src or {}).get("effectiveTime"))
    sc = status_code(src)
    if not _has_time(eff) and sc in (None, "completed", "active"):
        # The same encounter elsewhere (header/body) may say when it was: one status for both.
        for other in _same_encounters(src):
            if _has_time(one(other.get("effectiveTime"))):
                src, eff = other, one(other.get("effectiveTime"))
                sc = status_code(src) or sc
                break
    if (src or {}).get("moodCode") in _PLANNED_MOODS or "2.16.840.1.113883.10.20.22.4.40" in template_ids(src):
        # Planned Encounter (4.40): planned, unless cancelled or otherwise ended.
        c = concept(sc, "EncounterStatus")
        return c["code"] if c and c["code"] in ("cancelled", "entered-in-error", "finished") \
            and sc != "completed" else "planned"
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


def _rank(obs: dict) -> int | None:
    """Diagnosis rank from a nested Rank observation (QRDA 2.16.840.1.113883.10.20.24.3.166, value INT)."""
    for r in related(obs, "2.16.840.1.113883.10.20.24.3.166"):
        v = one(r.get("value"))
        try:
            n = int((v or {}).get("value"))
        except (TypeError, ValueError):
            continue
        if n > 0:
            return n
    return None


@template_global
def encounter_diagnoses(src) -> list[dict]:
    """Encounter.diagnosis: the problem observations of each Encounter Diagnosis act (4.80), and of
    Hospital Admission/Discharge Diagnosis acts (4.34/4.33) nested in the encounter, become
    Conditions (category encounter-diagnosis, IG); admission/discharge ones say so in use."""
    out = []
    for act in related(src, ENCOUNTER_DIAGNOSIS, HOSPITAL_DISCHARGE_DIAGNOSIS, HOSPITAL_ADMISSION_DIAGNOSIS):
        use = next((_DIAGNOSIS_USE[t] for t in _DIAGNOSIS_USE if t in template_ids(act)), None)
        for obs in related(act, *PROBLEM_OBSERVATIONS):
            ref = current().emit("resource/Condition", src=obs, parents=[act, src],
                                 category="encounter-diagnosis")
            if ref:
                d = {"condition": ref}
                rank = _rank(obs)
                if rank:
                    d["rank"] = rank
                if use:
                    d["use"] = {"coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/diagnosis-role", "code": use,
                        "display": "Discharge diagnosis" if use == "DD" else "Admission diagnosis"}]}
                if d not in out:
                    out.append(d)
    return out


@template_global
def encounter_source(src):
    """The statement to render for an encounter: a bare pointer (an <encounter> holding only an id,
    as problem acts use to name the encounter they were recorded in) is rendered from the full
    Encounter Activity with that id elsewhere in the document, so the one Encounter resource gets
    the real status, class and dates rather than the pointer's unknowns."""
    if not isinstance(src, dict) or src.get("code") or src.get("effectiveTime") or not many(src.get("id")):
        return src
    try:
        idx = statement_index(current())
    except LookupError:
        return src
    for ii in many(src.get("id")):
        k = ii_key(ii)
        for _section, element, stmt, _parents in idx.get(k, ()) if k else ():
            if element == "encounter" and stmt is not src and (stmt.get("code") or stmt.get("effectiveTime")):
                return stmt
    return src


@template_global
def encounter_destination(src) -> dict | None:
    """hospitalization.destination: the 'discharged to' location (participant typeCode DST,
    a Service Delivery Location) as the HL7 example 'Inpatient Encounter Discharged to Rehab
    Location' gives it."""
    for p in many((src or {}).get("participant")):
        if isinstance(p, dict) and p.get("typeCode") == "DST":
            ref = location_ref(p.get("participantRole"))
            if ref:
                return ref
    return None


def _when(stmt) -> tuple:
    eff = one((stmt or {}).get("effectiveTime"))
    return (datetime(eff), start(eff), end(eff))


@template_global
def encounter_key(src) -> str | None:
    """The Encounter's key: its ids (header and body renderings of one encounter are one
    resource). Our choice: when the document gives the same id to other Encounter Activities
    with a different time (senders that reuse one id for every visit: the EMERGE samples), an
    id cannot name them all; each visit stays its own Encounter, keyed by its ids and its time
    (the header's encounter keeps the plain key: it merges with the body encounter holding it)."""
    key = id_key((src or {}).get("id"))
    if not key or not isinstance(src, dict) or not src.get("effectiveTime"):
        return key
    header = (current().header.get("componentOf") or {}).get("encompassingEncounter")
    if src is header:
        return key
    mine = _when(src)
    for other in _same_encounters(src):
        # the header's encompassingEncounter is the same encounter whatever time it gives
        if other is not header and other.get("effectiveTime") and _when(other) != mine:
            return f"{key} {'|'.join(str(x) for x in mine)}"
    return key
