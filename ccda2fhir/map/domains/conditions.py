"""Condition specifics from the C-CDA on FHIR problems mapping (CF-problems)."""
from __future__ import annotations

from ..datatypes.codes import codeable_concept
from ..datatypes.dates import end, period, start
from ..datatypes.extensions import extension_url
from ..datatypes.identifiers import identifiers
from ..datatypes.navigation import has_template, many, one
from ..datatypes.quantities import age
from ..datatypes.status import data_absent, negated, status_code
from ..datatypes.terminology import concept
from ..datatypes.text import text
from ..engine.registry import template_global
from ..shared.provenance import author_agents, authored_at
from ..state import current, warn

CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
US_CORE_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/condition-category"
HEALTH_CONCERN_ACT = "2.16.840.1.113883.10.20.22.4.132"
_CATEGORY_CODES = {
    "problem-list-item": (CATEGORY, "Problem List Item"),
    "encounter-diagnosis": (CATEGORY, "Encounter Diagnosis"),
    "health-concern": (US_CORE_CATEGORY, "Health Concern"),
}


def _category_code(section, parents, category) -> str:
    if category:
        return category
    if any(has_template(p, HEALTH_CONCERN_ACT) for p in many(parents)):
        return "health-concern"
    code = ((section or {}).get("code") or {}).get("code")
    c = concept(code, "ProblemCategory")
    return c["code"] if c else "problem-list-item"


@template_global
def condition_category(section, parents, category=None) -> dict:
    """Condition.category from the explicit category, a Health Concern Act parent, or the section."""
    code = _category_code(section, parents, category)
    system, display = _CATEGORY_CODES.get(code, (CATEGORY, code))
    return {"coding": [{"system": system, "code": code, "display": display}]}


# Acts that wrap problem observations and carry the concern's own identity.
# Concern acts whose ids also identify the Condition made from the problem they hold. Risk
# Concern Act 4.136 is a concern act like the Health Concern Act (same route): its ids name the
# risk concern the Condition is.
WRAPPERS = ("2.16.840.1.113883.10.20.22.4.3", "2.16.840.1.113883.10.20.1.27",
            "1.3.6.1.4.1.19376.1.5.3.1.4.5.2", "2.16.840.1.113883.10.20.22.4.80", HEALTH_CONCERN_ACT,
            "2.16.840.1.113883.10.20.22.4.34", "2.16.840.1.113883.10.20.22.4.136")


@template_global
def condition_categories(src, section, parents, category=None) -> list[dict]:
    """The FHIR category, then the observation's own code (IG: Problem Observation /code ->
    .category), then the code of an Encounter Diagnosis / Hospital Admission Diagnosis wrapper."""
    out = [condition_category(section, parents, category)]
    own = codeable_concept((src or {}).get("code"))
    if own and own.get("coding"):
        out.append(own)
    for p in many(parents)[:1]:
        if has_template(p, "2.16.840.1.113883.10.20.22.4.80", "2.16.840.1.113883.10.20.22.4.34"):
            cc = codeable_concept(p.get("code"))
            if cc and cc.get("coding") and cc not in out:
                out.append(cc)
    return out


@template_global
def condition_identifiers(src, parents) -> list[dict]:
    """The observation's identifiers, then its wrapping concern act's.

    Our choice: the concern act's ids also identify the Condition (senders refer to a problem by
    either, e.g. Entry Reference acts point at concern ids), so both are kept; the observation's own
    ids come first and alone make the resource's id.
    """
    ids = many((src or {}).get("id"))
    for p in many(parents)[:1]:
        if has_template(p, *WRAPPERS):
            ids = ids + many(p.get("id"))
    return identifiers(ids)


@template_global
def own_or_concern_time(src, concern):
    """The observation's effectiveTime; the concern act's only when the observation has none at all.

    Our choice (the IG maps only the observation's): senders that date the concern and not the
    problem mean the concern's dates. An observation that says its onset is unknown (nullFlavor)
    keeps it unknown.
    """
    own = one((src or {}).get("effectiveTime"))
    if own is not None:
        return own
    return one((concern or {}).get("effectiveTime")) if isinstance(concern, dict) else None


@template_global
def concern_ended(concern) -> str | None:
    """When a completed concern act ended (its effectiveTime/high): the problem's abatement when
    the observation gives none (our choice: a concern is completed when its problem no longer is).
    Only a concern act's: an encounter or procedure holding the problem ends, the problem need not."""
    if not isinstance(concern, dict) or not _is_concern(concern) or status_code(concern) != "completed":
        return None
    return end(concern.get("effectiveTime"))


# Concern acts: C-CDA's wrapper that tracks a problem (or allergy) as a concern of the provider.
CONCERN_ACTS = ("2.16.840.1.113883.10.20.22.4.3", "2.16.840.1.113883.10.20.1.27",
                "1.3.6.1.4.1.19376.1.5.3.1.4.5.1", "1.3.6.1.4.1.19376.1.5.3.1.4.5.2",
                "1.3.6.1.4.1.19376.1.5.3.1.4.5.3", HEALTH_CONCERN_ACT, "2.16.840.1.113883.10.20.22.4.136",
                "2.16.840.1.113883.10.20.22.4.30")


def _is_concern(act: dict) -> bool:
    """A concern act: by template, or by the CONC code untemplated senders keep."""
    code = act.get("code") if isinstance(act.get("code"), dict) else {}
    return has_template(act, *CONCERN_ACTS) or code.get("code") == "CONC"


@template_global
def onset_age_beside_date(src, concern, age_obs) -> list[dict]:
    """The condition-onset-age extension when a Problem Observation gives both its onset date and
    an Age Observation: the IG says only one of onsetDateTime / onsetAge may be present and maps the
    date; the age (a separate source fact, e.g. 'age 57 at onset') is kept, not dropped, in this
    converter-defined extension (data/extensions.json), as for family history conditions."""
    onset_age = age(one((age_obs or {}).get("value"))) if isinstance(age_obs, dict) else None
    if onset_age and start(own_or_concern_time(src, concern)):
        return [{"url": extension_url("condition-onset-age"), "valueAge": onset_age}]
    return []


@template_global
def concern_period(concern) -> list[dict]:
    """The concern-period extension (data/extensions.json) from a concern act's effectiveTime.

    C-CDA R2.1 (Problem / Allergy Concern Act): effectiveTime/low 'equates to the time the concern
    was authored in the patient's chart', high to when it was completed (no longer tracked). The
    C-CDA on FHIR IG maps neither; FHIR R4, US Core and HL7's extension registry have no element
    for a concern's own span (onset/abatement belong to the problem or allergy itself, and the
    observation's own dates stay there), so the low/high are kept, as written, in this converter-
    defined Period extension on the Condition or AllergyIntolerance the concern holds. (recordedDate
    still takes low when no author/time says when it was recorded.)
    """
    if not isinstance(concern, dict) or not _is_concern(concern):
        return []
    eff = one(concern.get("effectiveTime"))
    span = period(eff)
    if span and eff.get("value"):
        # IVL_TS is either a point (@value) or an interval (low/high), never both (CDA datatypes
        # dtr1-3); the interval is what C-CDA asks of a concern, the stray @value is reported
        warn(f"concern act effectiveTime has both @value {eff['value']!r} and low/high; "
              "@value left out (an IVL_TS is one or the other)")
    return [{"url": extension_url("concern-period"), "valuePeriod": span}] if span else []


@template_global
def wrapper_provenance(wrapper) -> None:
    """A Provenance, targeting the resource being rendered, for the authors of the act that wraps
    its observation (Problem / Allergy / Health Concern Act, Encounter Diagnosis ...). The wrapper
    makes no resource of its own, so the engine's per-statement Provenance never sees its authors;
    the IG (CF-problems, CF-allergies) recommends that authors recorded on the concern act be
    mapped to the Condition / AllergyIntolerance. Made, like every entry Provenance, when an author
    gives a time and a known agent. Returns nothing (use in ``{% set _ = ... %}``)."""
    if not isinstance(wrapper, dict) or not wrapper.get("author"):
        return None
    if not (has_template(wrapper, *WRAPPERS) or _is_concern(wrapper)):
        return None
    when, agents = authored_at(wrapper["author"]), author_agents(wrapper["author"])
    if when and agents:
        current().emit_after("resource/EntryProvenance", "target", recorded=when, agents=agents)
    return None


@template_global
def condition_profile(src, section, parents, category=None) -> str:
    """The US Core profile claimed: Encounter Diagnosis when the category (see condition_category)
    is encounter-diagnosis, else Problems and Health Concerns."""
    if _category_code(section, parents, category) == "encounter-diagnosis":
        return "http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition-encounter-diagnosis"
    return "http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition-problems-health-concerns"


ABATED_STATUSES = ("inactive", "resolved", "remission")


def _stated_status(status_obs) -> str | None:
    c = concept(one(status_obs.get("value")), "ProblemStatus") if isinstance(status_obs, dict) else None
    return c["code"] if c else None


@template_global
def condition_status(src, concern, status_obs) -> dict:
    """clinicalStatus with abatementDateTime / _abatementDateTime, decided together: an abated
    Condition is inactive, resolved or remission (FHIR con-4). The first that speaks decides:

    1. the Problem Status Observation (IG: the concern's statusCode "is to be used only if the
       C-CDA Problem Status Observation is missing");
    2. an end date of the problem itself: inactive, resolved when no concern act states a status
       (C-CDA: the Problem Observation's effectiveTime "is the definitive indication of whether or
       not the underlying condition is resolved", the concern's statusCode that of the concern);
    3. the concern act's statusCode (IG ConceptMap; only a concern act's: the status of an
       encounter or procedure holding the problem says nothing about it);
    4. an unknown end (high nullFlavor UNK, which the IG reads "resolved, date unknown"): resolved;
    5. active.
    An active, recurrence or relapse status keeps no abatement: an end date it contradicts is
    reported (not silently dropped), an unknown end is no end. A completed concern's end is the
    abatement only when the status allows one (it stays in the concern-period extension anyway).
    """
    own_time = one(own_or_concern_time(src, concern))
    own_end = end(own_time)
    end_date = own_end or concern_ended(concern)
    high = own_time.get("high") if isinstance(own_time, dict) else None
    high_nf = high.get("nullFlavor") if isinstance(high, dict) and not high.get("value") else None
    stated = _stated_status(status_obs)
    concern_code = None
    if isinstance(concern, dict) and _is_concern(concern):
        c = concept(status_code(concern), "ConditionClinicalStatus")
        concern_code = c["code"] if c else None
    if stated:
        code = stated
    elif own_end:
        code = "inactive" if concern_code else "resolved"
    elif concern_code:
        code = concern_code
    elif high_nf == "UNK":
        code = "resolved"
    else:
        code = "active"
    coding = [{"system": CLINICAL, "code": code}]
    if stated:
        # Our choice: the Problem Status value as written (e.g. SNOMED 55561003 Active) follows
        # the FHIR code as a translation of the same concept (the required binding is met by the
        # first coding).
        written = codeable_concept(one(status_obs.get("value"))) or {}
        coding += [c for c in written.get("coding", []) if c not in coding]
    out = {"clinicalStatus": {"coding": coding}}
    if code not in ABATED_STATUSES:
        if own_end:
            current().warn(f"the Problem Status says {code} but the problem's effectiveTime/high gives "
                           f"an end ({own_end}): clinicalStatus follows the status and the end date is "
                           f"left out (FHIR con-4: an abated Condition is inactive, resolved or "
                           f"remission)", level="warning")
        return out
    if end_date:
        out["abatementDateTime"] = end_date
    elif high_nf:
        out["_abatementDateTime"] = {"extension": [data_absent(high_nf)]}
    return out


@template_global
def condition_verification(src) -> dict | None:
    """verificationStatus refuted for a negated Problem Observation (CF-problems: negationInd true);
    else none."""
    if negated(src):
        return {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                            "code": "refuted"}]}
    return None


@template_global
def condition_code(src) -> dict:
    """Condition.code from the observation value; the text when uncoded; data-absent when nothing."""
    cc = codeable_concept(one((src or {}).get("value")))
    if cc:
        return cc
    t = text((src or {}).get("text"))
    if t:
        return {"text": t}
    value = one((src or {}).get("value")) or {}
    return {"extension": [data_absent(value.get("nullFlavor") or "UNK")]}
