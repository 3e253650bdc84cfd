"""AllergyIntolerance specifics from the C-CDA on FHIR allergies mapping (CF-allergies).

One Allergy - Intolerance Observation (R2.x 4.7, R1.1 alert observation 1.18, IHE 4.6)
becomes one AllergyIntolerance; its Allergy Concern Act (4.30, R1.1 problem act 1.27) is
``parents[0]``. What the concern act holds besides the observation (criticality, severity,
reactions, comments, authors) is read here too: documents put them at either level.

Choices where the IG is silent are noted at each function; value maps the IG does not
publish are in ``data/valuemaps/allergies.json``.
"""
from __future__ import annotations

from .codes import alternate_codes, codeable_concept, coding
from .dates import datetime
from .navigation import children, has_template, many, one
from ..engine.registry import template_global
from .status import data_absent, negated, status_code
from .terminology import concept
from .text import text

CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
ABATEMENT = "http://hl7.org/fhir/StructureDefinition/allergyintolerance-abatement"

# Nested statements by role: templateIds (R2.x, R1.1, IHE) and, for the templateless ones
# some systems send, the observation code that names the role.
REACTION = ("2.16.840.1.113883.10.20.22.4.9", "2.16.840.1.113883.10.20.1.54")
SEVERITY = ("2.16.840.1.113883.10.20.22.4.8", "2.16.840.1.113883.10.20.1.55",
            "1.3.6.1.4.1.19376.1.5.3.1.4.1")
STATUS = ("2.16.840.1.113883.10.20.22.4.28", "2.16.840.1.113883.10.20.1.39",
          "1.3.6.1.4.1.19376.1.5.3.1.4.1.1")
CRITICALITY = ("2.16.840.1.113883.10.20.22.4.145",)
COMMENT = ("2.16.840.1.113883.10.20.22.4.64", "2.16.840.1.113883.10.20.1.40",
           "1.3.6.1.4.1.19376.1.5.3.1.4.2")
ALLERGY = ("2.16.840.1.113883.10.20.22.4.7", "2.16.840.1.113883.10.20.22.4.90",
           "2.16.840.1.113883.10.20.1.18", "1.3.6.1.4.1.19376.1.5.3.1.4.6")
_ROLE_CODES = {"SEV": SEVERITY, "33999-4": STATUS, "82606-5": CRITICALITY}


def _is(stmt, roles: tuple) -> bool:
    if not isinstance(stmt, dict):
        return False
    if has_template(stmt, *roles):
        # A reaction carries its own templates plus, in HITSP C32, the allergy ones: the
        # most specific role wins, so an R1.1 reaction is never taken for a severity.
        return not (roles is not REACTION and has_template(stmt, *REACTION))
    if stmt.get("templateId"):
        return False
    code = stmt.get("code") if isinstance(stmt.get("code"), dict) else {}
    return _ROLE_CODES.get(code.get("code")) is roles


def _nested(stmt, roles: tuple) -> list[dict]:
    return [c for c in children(stmt) if _is(c, roles)]


CONCERN = ("2.16.840.1.113883.10.20.22.4.30", "2.16.840.1.113883.10.20.1.27",
           "1.3.6.1.4.1.19376.1.5.3.1.4.5.1", "1.3.6.1.4.1.19376.1.5.3.1.4.5.2",
           "1.3.6.1.4.1.19376.1.5.3.1.4.5.3")


def _concern(parents):
    """The Allergy Concern Act holding the observation (None when it sits elsewhere, say in
    an encounter, whose status says nothing about the allergy)."""
    p = one(parents)
    if not isinstance(p, dict):
        return None
    code = p.get("code") if isinstance(p.get("code"), dict) else {}
    return p if has_template(p, *CONCERN) or code.get("code") == "CONC" else None


def _allergies_in(concern) -> list[dict]:
    return [c for c in children(concern)
            if has_template(c, *ALLERGY) and not _is(c, REACTION) and not _is(c, SEVERITY)]


def _first(src, concern, roles):
    """The nested statement of a role: the observation's own first, then the concern act's."""
    found = _nested(src, roles) or (_nested(concern, roles) if concern else [])
    return found[0] if found else None


def _cd(stmt):
    return one((stmt or {}).get("value")) if isinstance(stmt, dict) else None


SNOMED = "2.16.840.1.113883.6.96"


def _kind(src):
    """The allergy-type concept: the observation value (C-CDA); HITSP C83 puts it in
    observation/code instead (a SNOMED code where C-CDA has ASSERTION)."""
    value = _cd(src)
    code = src.get("code") if isinstance(src.get("code"), dict) else None
    if not (code and code.get("code") and (code.get("codeSystem") or "").strip() == SNOMED):
        return value
    if not (isinstance(value, dict) and value.get("code")) or (not _types(value) and _types(code)):
        # no coded value, or a value no map knows ('Adverse reaction to substance') beside a
        # code that says the type ('drug allergy'): the code is the type
        return code
    return value


def _types(cd) -> bool:
    """Whether a concept gives an allergy type or category."""
    return any(concept(cd, name) for name in ("AllergyIntoleranceType", "AllergyTypeExtra",
                                                "AllergyIntoleranceCategory", "AllergyCategoryExtra"))


def _substance(src) -> dict | None:
    """participant[@typeCode=CSM]/participantRole/playingEntity (any participant when untyped)."""
    parts = many(src.get("participant"))
    for p in sorted(parts, key=lambda p: p.get("typeCode") != "CSM"):
        entity = ((p.get("participantRole") or {}).get("playingEntity"))
        if isinstance(entity, dict):
            return entity
    return None


def _nullified(stmt) -> bool:
    return status_code(stmt) == "nullified"


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
    concern = _concern(parents)
    if concern and len(_allergies_in(concern)) == 1:
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
    if _nullified(src) or _nullified(_concern(parents)):
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
    concern = _concern(parents)
    if _nullified(src) or _nullified(concern):
        return None
    status_obs = _first(src, concern, STATUS)
    c = None
    written = []
    if status_obs:
        value = _cd(status_obs)
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
    value = _kind(src)
    c = concept(value, "AllergyIntoleranceType") or concept(value, "AllergyTypeExtra")
    return c["code"] if c else None


@template_global
def allergy_category(src) -> list[str]:
    value = _kind(src)
    c = concept(value, "AllergyIntoleranceCategory") or concept(value, "AllergyCategoryExtra")
    return [c["code"]] if c else []


@template_global
def allergy_kind_source(src) -> dict:
    """`_category` / `_type`: the allergy-type concept's own coding ('Propensity to adverse
    reactions to drug', 'Food allergy'...) kept beside the FHIR codes it became, in HL7's
    alternate-codes extension: on the category when it gave one, else on the type."""
    source = alternate_codes(_kind(src))
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
    read the same way (filters/nothing.py), never as an allergy to 'Allergy to substance'.
    """
    if not negated(src):
        from .nothing import says_nothing
        said = says_nothing(src)
        if not said or said["reason"] != "nilknown" or _substance_named(src):
            return None
    entity = _substance(src)
    code = (entity or {}).get("code") if isinstance((entity or {}).get("code"), dict) else None
    if code and coding(code):
        return concept(code, "NegatedSubstance")
    for value in (_cd(src), _kind(src)):
        c = concept(value, "NoKnownAllergies") or concept(value, "NoKnownAllergiesExtra")
        if c:
            return c
    return None


def _substance_named(src) -> bool:
    entity = _substance(src) or {}
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
    entity = _substance(src) or {}
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
    cc = codeable_concept(_kind(src))
    if cc:
        return cc
    return {"extension": [data_absent(code.get("nullFlavor") or "UNK")]}


# ---------------------------------------------------------------- criticality, reactions
@template_global
def allergy_criticality(src, parents) -> str | None:
    obs = _first(src, _concern(parents), CRITICALITY)
    c = concept(_cd(obs), "Criticality") if obs else None
    return c["code"] if c else None


@template_global
def allergy_criticality_source(src, parents) -> dict | None:
    """`_criticality`: the Criticality Observation's own coding, beside the FHIR code (alternate-codes)."""
    obs = _first(src, _concern(parents), CRITICALITY)
    return alternate_codes(_cd(obs)) if obs and allergy_criticality(src, parents) else None


def _severity(obs) -> str | None:
    value = _cd(obs)
    c = concept(value, "Severity") or concept(value, "AllergySeverityExtra")
    return c["code"] if c else None


def _severity_source(obs) -> dict | None:
    """`_severity`: the Severity Observation's own coding, beside the FHIR severity (alternate-codes)."""
    return alternate_codes(_cd(obs))


@template_global
def allergy_reactions(src, parents) -> list[dict]:
    """reaction[] from the Reaction Observations (the observation's, then any the concern act holds).

    manifestation: the reaction value (its originalText or the reaction's text when the value
    is uncoded); onset: effectiveTime/low; severity: the reaction's Severity Observation, else
    the one at the allergy level (IG: it applies to every reaction). description: the
    reaction's own text when it says more than the manifestation; note: its Comment
    Activities. With severity but no
    reaction at all, one reaction of unknown manifestation carries the severity (else lost).
    Medications or procedures nested in a reaction (given in response to it) are mapped as
    resources of their own.
    """
    from .conditions import comments
    concern = _concern(parents)
    reactions = _nested(src, REACTION)
    if concern is not None and len(_allergies_in(concern)) <= 1:
        reactions += _nested(concern, REACTION)
    top_sev = _first(src, concern, SEVERITY)
    top = _severity(top_sev) if top_sev else None
    out = []
    for r in reactions:
        manifest = codeable_concept(_cd(r))
        own_text = text(r.get("text"))
        if manifest and not manifest.get("text") and own_text:
            manifest["text"] = own_text
        if not manifest and own_text:
            manifest = {"text": own_text}
        if not manifest:
            value = _cd(r) or {}
            manifest = {"extension": [data_absent(value.get("nullFlavor") or "UNK")]}
        # the reaction's own Severity Observation when it maps, else the allergy-level one
        sev_obs = [o for o in _nested(r, SEVERITY)[:1] if _severity(o)] or ([top_sev] if top else [])
        reaction = {
            "manifestation": [manifest],
            "description": own_text if own_text and own_text != manifest.get("text") else None,
            "onset": _onset(r.get("effectiveTime")),
            "severity": _severity(sev_obs[0]) if sev_obs else None,
            "_severity": _severity_source(sev_obs[0]) if sev_obs else None,
            "note": comments(r),
        }
        out.append({k: v for k, v in reaction.items() if v})
        _map_nested(r, [src] + list(many(parents)))
        if many(r.get("id")):
            # keeps the reaction's identity and end date, which reaction[] has no place for
            from ..state import current
            current().emit_after("resource/AllergyReaction", "allergy", src=r)
    if not out and top:
        out.append({"manifestation": [{"extension": [data_absent("UNK")]}], "severity": top,
                    "_severity": _severity_source(top_sev)})
    return out


def _onset(eff) -> str | None:
    eff = one(eff)
    if not isinstance(eff, dict):
        return None
    return datetime(eff.get("low")) or datetime(eff)


def _map_nested(reaction: dict, parents: list) -> None:
    """Map what a Reaction Observation holds besides its severity and comments (C-CDA: medications and
    procedures given in response to the reaction) through the ordinary routes, so the
    absorbed reaction does not take them down with it."""
    from ..state import current
    from .navigation import statement_of
    rels = [rel for rel in many(reaction.get("entryRelationship")) if isinstance(rel, dict)]
    todo = []
    for rel in rels:
        el, stmt = statement_of(rel)
        if stmt is not None and not _is(stmt, SEVERITY) and not has_template(stmt, *COMMENT):
            todo.append((el, stmt))
    if not todo:
        return
    conv = current()
    for el, stmt in todo:
        conv.map_nested(el, stmt, [reaction] + parents)


# ---------------------------------------------------------------- dates, people, context
@template_global
def allergy_recorded(src, parents) -> str | None:
    """recordedDate: the earliest author/time (IG), the concern act's authors when the
    observation has none (IG note); else the concern act's effectiveTime/low, which C-CDA
    defines as when the allergy was first recorded as a concern."""
    from .dates import earliest
    concern = _concern(parents) or {}
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
    authors = [a for a in many(src.get("author")) if isinstance(a, dict)]
    if not authors:
        concern = _concern(parents) or {}
        authors = [a for a in many(concern.get("author")) if isinstance(a, dict)]
    return authors


@template_global
def allergy_asserter(src, parents):
    """asserter from the observation's (else the concern's) informant: the IG does not map it;
    FHIR defines asserter as the source of the information, which is what informant says."""
    from .participants import informant_ref
    concern = _concern(parents) or {}
    for inf in many(src.get("informant")) + many(concern.get("informant")):
        ref = informant_ref(inf)
        if ref:
            return ref
    return None


@template_global
def allergy_encounter(src, parents):
    """encounter: an encounter the observation or its concern act holds (SUBJ), referenced;
    the dispatcher maps that encounter itself, to the same resource."""
    from ..state import current
    concern = _concern(parents) or {}
    for stmt in [src, concern]:
        for rel in many(stmt.get("entryRelationship")):
            enc = rel.get("encounter") if isinstance(rel, dict) else None
            if isinstance(enc, dict) and many(enc.get("id")):
                return current().emit("resource/Encounter", src=enc, parents=[stmt], element="encounter")
    return None


@template_global
def allergy_notes(src, parents) -> list[dict]:
    """note[] from Comment Activities in the observation and in its concern act."""
    from .conditions import comments
    concern = _concern(parents)
    notes = comments(src)
    if concern is not None and len(_allergies_in(concern)) <= 1:
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
    concern = _concern(parents) if parents else None
    status = ((allergy_clinical_status(src, parents) or {}).get("coding") or [{}])[0].get("code")
    if high and status == "active":
        # the same precedence as for problems: the stated status wins over the end date, which
        # this extension still keeps as the source gives it (no FHIR rule forbids it here)
        from ..state import current
        current().warn(f"the Allergy Status says active but the allergy's effectiveTime/high gives an "
                       f"end ({high}): clinicalStatus follows the status; the end is kept in the "
                       "allergyintolerance-abatement extension", level="warning")
    if not high and concern and status_code(concern) == "completed" and status != "active":
        ceff = one(concern.get("effectiveTime"))
        high = datetime(ceff.get("high")) if isinstance(ceff, dict) else None
    return [{"url": ABATEMENT, "valueDateTime": high}] if high else []

