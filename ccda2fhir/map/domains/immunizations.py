"""Immunization Activity specifics (C-CDA on FHIR: CF-immunizations)."""
from __future__ import annotations

from ..datatypes.codes import codeable_concept, coding
from ..datatypes.dates import datetime as dt, start
from ..datatypes.identifiers import id_key
from ..datatypes.navigation import has_template, many, one, related
from ..datatypes.quantities import number
from ..datatypes.status import data_absent, negated, status_code
from ..datatypes.terminology import concept
from ..datatypes.text import text
from ..engine.registry import template_filter, template_global
from ..shared.nothing import nothing_code
from ..shared.participants import role_ref
from ..shared.products import material_of, med_concept, product_of
from ..shared.reasons import refusal_observations
from ..state import current

REFUSAL_REASON = ("2.16.840.1.113883.10.20.22.4.53",)
QRDA_REASON = "2.16.840.1.113883.10.20.24.3.88"
REACTION = ("2.16.840.1.113883.10.20.22.4.9", "2.16.840.1.113883.10.20.1.54")
INSTRUCTION = ("2.16.840.1.113883.10.20.22.4.20", "2.16.840.1.113883.10.20.1.49")
PLANNED_IMMUNIZATION = "2.16.840.1.113883.10.20.22.4.120"
SERIES_NUMBER = "2.16.840.1.113883.10.20.1.46"


def _refusals(src) -> list[dict]:
    """What says the vaccine was refused: Immunization Refusal Reasons (4.53, 'the rationale for
    the patient declining an immunization') and R1.1 reasons coded from ActNoImmunizationReason."""
    return related(src, *REFUSAL_REASON) + refusal_observations(src)


@template_global
def immunization_status(src) -> str:
    """not-done when negationInd is true (IG) or a refusal reason says the vaccine was refused,
    whatever negationInd says (a refused vaccine was not given; the contradiction is reported), or
    when the vaccine is coded 'no vaccine administered' (CVX 998; reported: its status says otherwise);
    else the IG ConceptMap ImmunizationStatus; active or no status on a historical (EVN)
    immunization -> completed."""
    if negated(src):
        return "not-done"
    refused = _refusals(src)
    if refused:
        why = ", ".join(c.get("code") or "?" for c in (r.get("code") or {} for r in refused)
                        if isinstance(c, dict)) or "uncoded"
        current().warn(f"an Immunization Refusal Reason ({why}) on an immunization whose negationInd is "
                       f"{src.get('negationInd') or 'absent'}: status not-done (a refused vaccine was "
                       "not given), the reason in statusReason", level="warning")
        return "not-done"
    said = nothing_code(material_of(product_of(src)).get("code"))
    if said:   # 'MMR' coded CVX 998: the sender says this vaccine was not given
        current().warn(f"the vaccine is coded {said['code']} ({said['display']}) on an immunization whose "
                       f"statusCode is {(src.get('statusCode') or {}).get('code') or 'absent'}: status "
                       "not-done (no vaccine was given)", level="warning")
        return "not-done"
    c = concept(status_code(src), "ImmunizationStatus")
    return c["code"] if c else "completed"



@template_global
def immunization_status_reason(src, status) -> dict | None:
    """statusReason (IG: the refusal reason, 'generally only used for the status of not-done')."""
    return (refusal_reasons(src) or [None])[0] if status == "not-done" else None


@template_filter
def refusal_reasons(src) -> list[dict]:
    """Immunization Refusal Reason (4.53: its code) and QRDA Reason (24.3.88: its value)."""
    out = []
    for obs in related(src, *REFUSAL_REASON, QRDA_REASON) + refusal_observations(src):
        cc = None
        if has_template(obs, QRDA_REASON):
            cc = codeable_concept(one(obs.get("value")))
        cc = cc or codeable_concept(obs.get("code"))
        if cc and cc not in out:
            out.append(cc)
    return out


@template_filter
def vaccine_code(material) -> dict:
    """vaccineCode: the CVX code with its translations (NDC...), else the name, else data-absent."""
    return med_concept(material)


@template_global
def occurrence(src) -> dict:
    """{'occurrenceDateTime': ...} from effectiveTime @value or low (IG); else
    {'occurrenceString': ...} (occurrence[x] is required) with the time's own words."""
    eff = one((src or {}).get("effectiveTime"))
    when = start(eff)
    if when:
        return {"occurrenceDateTime": when}
    words = None
    if isinstance(eff, dict):
        low = eff.get("low") if isinstance(eff.get("low"), dict) else {}
        nf = eff.get("nullFlavor") or low.get("nullFlavor")
        c = concept(nf, "NullFlavorDataAbsentReason") if nf else None
        words = (c.get("display") or c.get("code")) if c else None
    return {"occurrenceString": words or "unknown"}


@template_global
def primary_source(src) -> dict:
    """primarySource (the IG: 'unavailable in CDA', so data-absent-reason by default).

    An <informant> on the statement says who the record came from: when the informant is
    not one of the performers (the patient, a relative, another provider's record) the
    data is secondary -> primarySource false. Otherwise {'_primarySource': data-absent}.
    """
    performer_keys = {id_key((p.get("assignedEntity") or {}).get("id"))
                      for p in many((src or {}).get("performer")) if isinstance(p, dict)}
    for inf in many((src or {}).get("informant")):
        if not isinstance(inf, dict):
            continue
        entity = inf.get("relatedEntity") or inf.get("assignedEntity")
        if not isinstance(entity, dict):
            continue
        key = id_key(entity.get("id"))
        if key is None or key not in performer_keys:
            return {"primarySource": False}
    return {"_primarySource": {"extension": [data_absent("UNK")]}}


@template_filter
def immunization_performers(src) -> list[dict]:
    """performer: each performer as actor (the PractitionerRole when the performer names an
    organization or role, as the IG's example output does), function AP (administering provider) (IG)."""
    out = []
    for p in many((src or {}).get("performer")):
        ref = role_ref(p.get("assignedEntity")) if isinstance(p, dict) else None
        if ref:
            out.append({"function": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v2-0443", "code": "AP",
                "display": "Administering Provider"}]}, "actor": ref})
    return out


@template_filter
def dose_number(src):
    """protocolApplied.doseNumberPositiveInt from repeatNumber (@value, else low), else an R1.1
    Medication Series Number Observation."""
    rn = one((src or {}).get("repeatNumber"))
    n = None
    if isinstance(rn, dict):
        n = number(rn.get("value")) if rn.get("value") is not None else number(rn.get("low"))
    if n is None:
        # R1.1 Medication Series Number Observation (10.20.1.46): value INT
        for obs in related(src, SERIES_NUMBER):
            v = one(obs.get("value"))
            if isinstance(v, dict) and v.get("value") is not None:
                n = number(v.get("value"))
                break
    return n if isinstance(n, int) and n > 0 else None


@template_filter
def reactions(src, parents=None) -> list[dict]:
    """reaction: each Reaction Observation (4.9) as an Observation (detail) with its date (IG:
    'reaction observation value mapped to reaction detail (Observation) valueCodeableConcept')."""
    out = []
    for obs in related(src, *REACTION):
        ref = current().emit("resource/Observation", src=obs, parents=[src] + many(parents),
                           element="observation")
        item = {}
        when = start(one(obs.get("effectiveTime")))
        if when:
            item["date"] = when
        if ref:
            item["detail"] = ref
        if item:
            out.append(item)
    return out


@template_filter
def education(src) -> list[dict]:
    """education from Instruction acts (4.20): documentType from the instruction's words
    (Immunization.education needs documentType or reference), presentationDate from its time."""
    out = []
    for act in related(src, *INSTRUCTION):
        code = act.get("code") if isinstance(act.get("code"), dict) else {}
        words = text(act.get("text")) or (code.get("displayName") or "").strip() or None
        if not words:
            cod = coding(code)
            words = cod["code"] if cod else None
        if not words:
            continue
        item = {"documentType": words}
        when = dt(one(act.get("effectiveTime")))
        if when:
            item["presentationDate"] = when
        out.append(item)
    return out


@template_filter
def instruction_notes(src) -> list[dict]:
    """Instruction act texts as notes (education carries only their kind)."""
    out = []
    for act in related(src, *INSTRUCTION):
        t = text(act.get("text"))
        if t:
            out.append({"text": t})
    return out


@template_global
def forecast_status(src) -> dict:
    """ImmunizationRecommendation.recommendation.forecastStatus: a planned immunization is due;
    one planned NOT to be given (negationInd) is contraindicated."""
    code, display = ("contraindicated", "Contraindicated") if negated(src) else ("due", "Due")
    return {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status",
                        "code": code, "display": display}]}


@template_global
def due_date_criterion(src) -> list[dict]:
    """dateCriterion: when the planned immunization is due (LOINC 30980-7 'Date vaccine due')."""
    when = start(one((src or {}).get("effectiveTime")))
    if not when:
        return []
    return [{"code": {"coding": [{"system": "http://loinc.org", "code": "30980-7",
                                   "display": "Date vaccine due"}]}, "value": when}]
