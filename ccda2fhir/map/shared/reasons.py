"""Why something was done: Indications (4.19) and RSON reasons -> reasonCode / reasonReference."""
from __future__ import annotations

from ..datatypes.codes import codeable_concept
from ..datatypes.navigation import many, one, related
from ..engine.registry import template_filter, template_global
from ..state import current
from .statements import logical_ref, nests_statements, refs_to_statements

INDICATIONS = ("2.16.840.1.113883.10.20.22.4.19", "2.16.840.1.113883.10.20.1.28")

R11_PROBLEM_ACT = "2.16.840.1.113883.10.20.1.27"
# code systems of 'no immunization / refusal reason' codes (HL7 ActReason, ActNoImmunizationReason VS)
REFUSAL_SYSTEMS = ("2.16.840.1.113883.5.8", "2.16.840.1.113883.11.19725", "2.16.840.1.113883.1.11.19717")


def reason_observations(stmt) -> list[dict]:
    """Indication observations (4.19 / R1.1 10.20.1.28), also those R1.1 wraps in an RSON
    Problem Act (10.20.1.27); refusal-reason codes (ActNoImmunizationReason) left out."""
    found = list(related(stmt, *INDICATIONS))
    for act in related(stmt, R11_PROBLEM_ACT):
        found.extend(related(act, *INDICATIONS))
    return [o for o in found if not _is_refusal(o)]


def _is_refusal(obs) -> bool:
    code = obs.get("code") if isinstance(obs.get("code"), dict) else {}
    return code.get("codeSystem") in REFUSAL_SYSTEMS


@template_filter
def refusal_observations(stmt) -> list[dict]:
    """R1.1 refusal reasons: Problem observations (in RSON Problem Acts) coded from ActNoImmunizationReason."""
    found = list(related(stmt, *INDICATIONS))
    for act in related(stmt, R11_PROBLEM_ACT):
        found.extend(related(act, *INDICATIONS))
    return [o for o in found if _is_refusal(o)]


@template_filter
def indications(stmt) -> list[dict]:
    """reasonCode from Indication observations (4.19): their value (the code when no value)."""
    out = []
    for obs in reason_observations(stmt):
        cc = codeable_concept(one(obs.get("value")))
        if not cc:
            code = obs.get("code") if isinstance(obs.get("code"), dict) else {}
            if code.get("code") not in (None, "404684003", "75321-0", "ASSERTION", "409586006"):
                cc = codeable_concept(code)
        if cc and cc not in out:
            out.append(cc)
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


REASON_TYPES = ("Condition", "Observation", "Procedure", "AllergyIntolerance", "DiagnosticReport",
                 "DocumentReference")


@template_global
def indication_reasons(src) -> dict:
    """{'codes': reasonCode, 'refs': reasonReference} from Indications (4.19, and R1.1's forms).

    IG: when the indication's id is a statement converted elsewhere, reference it; else its value
    is a reasonCode. Our addition: an indication with an id of its own and a coded problem also
    becomes a Condition (resource/Indication) that reasonReference points at, so the source
    statement keeps its identity and dates; its value stays in reasonCode too.
    """
    refs = []
    resolved_codes = []
    for obs in reason_observations(src):
        found = [r for r in refs_to_statements(obs.get("id"), REASON_TYPES, exclude=obs)
                 if r["reference"].split("/")[0] in REASON_TYPES]
        cc = codeable_concept(one(obs.get("value")))
        if found:
            refs.extend(r for r in found if r not in refs)
            if cc:
                resolved_codes.append(cc)
        elif many(obs.get("id")) and cc and cc.get("coding"):
            made = current().emit("resource/Indication", src=obs, parents=[src])
            if made and made not in refs:
                refs.append(made)
        elif not (cc and cc.get("coding")) and not nests_statements(obs):
            # Choice: an indication with no coded problem (value absent or nullFlavor) is only a
            # pointer by id to the problem that is the reason (C-CDA 4.19: its id may equal the
            # problem's id). When that problem is not in this document, keep the pointer as a
            # logical reference (Reference.identifier); its text/code, if any, stays in reasonCode.
            ref = logical_ref(obs.get("id"), exclude=obs)
            if ref and ref not in refs:
                refs.append(ref)
    codes = []
    for c in reasons(src) + indications(src):
        if c not in resolved_codes and c not in codes:
            codes.append(c)
    return {"codes": codes, "refs": refs}
