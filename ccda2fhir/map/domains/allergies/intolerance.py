"""AllergyIntolerance specifics from the C-CDA on FHIR allergies mapping (CF-allergies).

One Allergy - Intolerance Observation (R2.x 4.7, R1.1 alert observation 1.18, IHE 4.6)
becomes one AllergyIntolerance; its Allergy Concern Act (4.30, R1.1 problem act 1.27) is
``parents[0]``. What the concern act holds besides the observation (criticality, severity,
reactions, comments, authors) is read here too: documents put them at either level.

Choices where the IG is silent are noted at each function; value maps the IG does not
publish are in ``data/valuemaps/allergies.json``.
"""
from __future__ import annotations

from ...datatypes.codes import alternate_codes, codeable_concept, coding
from ...datatypes.dates import datetime, earliest
from ...datatypes.navigation import many, one
from ...datatypes.status import data_absent, negated, status_code
from ...datatypes.terminology import concept
from ...datatypes.text import text
from ...engine.registry import template_global
from ...shared.comments import comments
from ...shared.nothing import says_nothing
from ...shared.participants import informant_ref
from ...state import current
from .nested import (CRITICALITY, STATUS, allergies_in, allergy_concern, allergy_kind, first_in_role,
                     nullified, substance, value_cd)

CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
ABATEMENT = "http://hl7.org/fhir/StructureDefinition/allergyintolerance-abatement"


# ---------------------------------------------------------------- identity
@template_global
def allergy_identifier_ids(src, parents) -> list:
    """The observation's ids, then its concern act's when the act holds only this allergy.

    The IG maps the observation ids. A concern act tracking one allergy is that allergy's
    record in the source system (its ids often differ from the observation's only in the
    root), so its ids identify the AllergyIntolerance too; with several allergies in one act
    they would identify several resources and are left out.
    """
    ids = [i for i in many(src.get("id")) if isinstance(i, dict)]
    concern = allergy_concern(parents)
    if concern and len(allergies_in(concern)) == 1:
        ids += [i for i in many(concern.get("id")) if isinstance(i, dict)]
    return ids


# ---------------------------------------------------------------- statuses
def _abated(src) -> bool:
    eff = one(src.get("effectiveTime"))
    high = eff.get("high") if isinstance(eff, dict) else None
    return isinstance(high, dict) and bool(high.get("value"))


@template_global
def allergy_verification(src, parents) -> dict | None:
    """entered-in-error for a nullified observation or concern; refuted for a negated
    observation the code could not turn into a 'no known ...' concept (see allergy_code)."""
    code = None
    if nullified(src) or nullified(allergy_concern(parents)):
        code = "entered-in-error"
    elif negated(src) and not _no_known(src):
        code = "refuted"
    if not code:
        return None
    return {"coding": [{"system": VERIFICATION, "code": code,
                        "display": {"entered-in-error": "Entered in Error", "refuted": "Refuted"}[code]}]}


@template_global
def allergy_clinical_status(src, parents) -> dict | None:
    """Allergy Status Observation (IG map), else the concern act's statusCode.

    None when entered-in-error (FHIR ait-2). An effectiveTime/high with a value means the
    allergy is over (IG: abatement): a status taken from the concern act or defaulted
    becomes resolved, while an explicit Allergy Status Observation is kept as the source
    states it. With no status anywhere: active (FHIR ait-1 requires one).
    """
    concern = allergy_concern(parents)
    if nullified(src) or nullified(concern):
        return None
    status_obs = first_in_role(src, concern, STATUS)
    c = None
    written = []
    if status_obs:
        value = value_cd(status_obs)
        c = concept(value, "AllergyStatus") or concept(value, "AllergyStatusExtra")
        # Our choice: the Allergy Status value as written (e.g. SNOMED 55561003 Active) follows
        # the FHIR code as a translation of the same concept (the required binding is met by
        # the first coding).
        written = (codeable_concept(value) or {}).get("coding", []) if c else []
    if c is None:
        c = concept(status_code(concern), "AllergyConcernStatus") if concern else None
        if _abated(src) and (c is None or c["code"] == "active"):
            c = concept("413322009", "AllergyStatus")
    if c is None:
        c = concept("55561003", "AllergyStatus")
    coding = [{"system": CLINICAL, "code": c["code"], "display": c.get("display")}]
    return {"coding": coding + [w for w in written if w not in coding]}


# ---------------------------------------------------------------- type, category
@template_global
def allergy_type(src) -> str | None:
    """type (allergy | intolerance) from the allergy-type concept through the IG ConceptMap
    AllergyIntoleranceType, then AllergyTypeExtra; None when neither knows it."""
    value = allergy_kind(src)
    c = concept(value, "AllergyIntoleranceType") or concept(value, "AllergyTypeExtra")
    return c["code"] if c else None


@template_global
def allergy_category(src) -> list[str]:
    """category from the allergy-type concept (the observation value; HITSP C83: its code) through
    the IG ConceptMap AllergyIntoleranceCategory, then AllergyCategoryExtra; [] when neither knows it."""
    value = allergy_kind(src)
    c = concept(value, "AllergyIntoleranceCategory") or concept(value, "AllergyCategoryExtra")
    return [c["code"]] if c else []


@template_global
def allergy_kind_source(src) -> dict:
    """`_category` / `_type`: the allergy-type concept's own coding ('Propensity to adverse
    reactions to drug', 'Food allergy'...) kept beside the FHIR codes it became, in HL7's
    alternate-codes extension: on the category when it gave one, else on the type."""
    source = alternate_codes(allergy_kind(src))
    if not source:
        return {}
    if allergy_category(src):
        return {"category": [source]}
    return {"type": source} if allergy_type(src) else {}


# ---------------------------------------------------------------- code
def _no_known(src) -> dict | None:
    """The 'no known ... allergy' Coding for a negated observation, if the IG (or our map) has one.

    IG CF-allergies: negated with a nullFlavor substance -> NoKnownAllergies by the
    observation value; negated with a substance -> its negated concept where one exists. A
    statement that says 'no known allergies' without negationInd (its words, no substance) is
    read the same way (shared/nothing.py), never as an allergy to 'Allergy to substance'.
    """
    if not negated(src):
        said = says_nothing(src)
        if not said or said["reason"] != "nilknown" or _substance_named(src):
            return None
    entity = substance(src)
    code = (entity or {}).get("code") if isinstance((entity or {}).get("code"), dict) else None
    if code and coding(code):
        return concept(code, "NegatedSubstance")
    for value in (value_cd(src), allergy_kind(src)):
        c = concept(value, "NoKnownAllergies") or concept(value, "NoKnownAllergiesExtra")
        if c:
            return c
    return None


def _substance_named(src) -> bool:
    entity = substance(src) or {}
    return bool(coding(entity.get("code"))) if isinstance(entity.get("code"), dict) else False


@template_global
def allergy_code(src) -> dict:
    """AllergyIntolerance.code (US Core 1..1).

    - negated, 'no known' concept found: that SNOMED concept, with the observation's text;
    - else the substance code with its translations and originalText (playingEntity/name
      as text when the code has none or is a nullFlavor); a negated one is refuted (allergy_verification);
    - no substance at all: the allergy-type concept (value, or C83 code);
    - nothing coded or written anywhere: data-absent-reason.
    """
    nka = _no_known(src)
    if nka:
        out = {"coding": [nka]}
        t = text(src.get("text"))
        if t:
            out["text"] = t
        return out
    entity = substance(src) or {}
    code = entity.get("code") if isinstance(entity.get("code"), dict) else {}
    cc = codeable_concept(code) or {}
    names = [n.get("_text") if isinstance(n, dict) else n for n in many(entity.get("name"))]
    names = [" ".join(n.split()) for n in names if isinstance(n, str) and n.strip()]
    # The name says what the substance is when the code itself is a nullFlavor: its
    # originalText is then often a placeholder ('Coded Allergy Name Not Available', VA C32).
    if names and (not cc.get("text") or not code.get("code")):
        cc["text"] = names[0]
    if cc:
        return cc
    # No substance named: the allergy-type concept ('allergy to drug') says more than
    # data-absent (negated: a refuted 'allergy to ...'). IHE PCC puts the allergen itself here.
    cc = codeable_concept(allergy_kind(src))
    if cc:
        return cc
    return {"extension": [data_absent(code.get("nullFlavor") or "UNK")]}


# ---------------------------------------------------------------- criticality, reactions
@template_global
def allergy_criticality(src, parents) -> str | None:
    """criticality (low | high | unable-to-assess): the value of the Criticality Observation (4.145,
    or code 82606-5) in the observation, else in its concern act, through the IG ConceptMap Criticality."""
    obs = first_in_role(src, allergy_concern(parents), CRITICALITY)
    c = concept(value_cd(obs), "Criticality") if obs else None
    return c["code"] if c else None


@template_global
def allergy_criticality_source(src, parents) -> dict | None:
    """`_criticality`: the Criticality Observation's own coding, beside the FHIR code (alternate-codes)."""
    obs = first_in_role(src, allergy_concern(parents), CRITICALITY)
    return alternate_codes(value_cd(obs)) if obs and allergy_criticality(src, parents) else None


# ---------------------------------------------------------------- dates, people, context
@template_global
def allergy_recorded(src, parents) -> str | None:
    """recordedDate: the earliest author/time (IG), the concern act's authors when the
    observation has none (IG note); else the concern act's effectiveTime/low, which C-CDA
    defines as when the allergy was first recorded as a concern."""
    concern = allergy_concern(parents) or {}
    times = [a.get("time") for a in many(src.get("author")) if isinstance(a, dict)]
    when = earliest(times)
    if not when:
        when = earliest([a.get("time") for a in many(concern.get("author")) if isinstance(a, dict)])
    if not when:
        eff = one(concern.get("effectiveTime"))
        if isinstance(eff, dict):
            when = datetime(eff.get("low")) or datetime(eff)
    return when


@template_global
def allergy_authors(src, parents) -> list:
    """The observation's authors, else its concern act's (CF-allergies: authors recorded only on the
    Allergy Concern Act are mapped to the AllergyIntolerance); recorder is the latest of them."""
    authors = [a for a in many(src.get("author")) if isinstance(a, dict)]
    if not authors:
        concern = allergy_concern(parents) or {}
        authors = [a for a in many(concern.get("author")) if isinstance(a, dict)]
    return authors


@template_global
def allergy_asserter(src, parents):
    """asserter from the observation's (else the concern's) informant: the IG does not map it;
    FHIR defines asserter as the source of the information, which is what informant says."""
    concern = allergy_concern(parents) or {}
    for inf in many(src.get("informant")) + many(concern.get("informant")):
        ref = informant_ref(inf)
        if ref:
            return ref
    return None


@template_global
def allergy_encounter(src, parents):
    """encounter: an encounter the observation or its concern act holds (SUBJ), referenced;
    the dispatcher maps that encounter itself, to the same resource."""
    concern = allergy_concern(parents) or {}
    for stmt in [src, concern]:
        for rel in many(stmt.get("entryRelationship")):
            enc = rel.get("encounter") if isinstance(rel, dict) else None
            if isinstance(enc, dict) and many(enc.get("id")):
                return current().emit("resource/Encounter", src=enc, parents=[stmt], element="encounter")
    return None


@template_global
def allergy_notes(src, parents) -> list[dict]:
    """note[] from Comment Activities in the observation and in its concern act."""
    concern = allergy_concern(parents)
    notes = comments(src)
    if concern is not None and len(allergies_in(concern)) <= 1:
        notes += [n for n in comments(concern) if n not in notes]
    return notes


@template_global
def allergy_abatement(src, parents=None) -> list[dict]:
    """The allergyintolerance-abatement extension from effectiveTime/high (IG CF-allergies).
    When the observation gives none, a completed Allergy Concern Act's effectiveTime/high (our
    choice, as for problems: a concern is completed when its allergy no longer is; an active
    concern's end says nothing about the allergy, nor does any end when an Allergy Status
    Observation still says active)."""
    eff = one(src.get("effectiveTime"))
    high = datetime(eff.get("high")) if isinstance(eff, dict) else None
    concern = allergy_concern(parents) if parents else None
    status = ((allergy_clinical_status(src, parents) or {}).get("coding") or [{}])[0].get("code")
    if high and status == "active":
        # the same precedence as for problems: the stated status wins over the end date, which
        # this extension still keeps as the source gives it (no FHIR rule forbids it here)
        current().warn(f"the Allergy Status says active but the allergy's effectiveTime/high gives an "
                       f"end ({high}): clinicalStatus follows the status; the end is kept in the "
                       "allergyintolerance-abatement extension", level="warning")
    if not high and concern and status_code(concern) == "completed" and status != "active":
        ceff = one(concern.get("effectiveTime"))
        high = datetime(ceff.get("high")) if isinstance(ceff, dict) else None
    return [{"url": ABATEMENT, "valueDateTime": high}] if high else []
