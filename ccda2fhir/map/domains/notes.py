"""Note Activity -> US Core DocumentReference (C-CDA on FHIR: CF-notes).

Also the encounter lookup other templates may use: an <encounter> that only
carries an id (the Entry Reference pattern) is resolved to the Encounter made
from the full Encounter Activity with that id elsewhere in the document.
"""
from __future__ import annotations

import re
import weakref

from ...assemble.ids import ii_key
from ..datatypes.identifiers import identifier
from ..datatypes.navigation import many, one, statement_of
from ..datatypes.status import data_absent
from ..datatypes.text import base64, narrative_text
from ..engine.registry import template_filter, template_global
from ..state import current

_ENC_INDEX: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
ENCOUNTER_ACTIVITY = ("2.16.840.1.113883.10.20.22.4.49", "2.16.840.1.113883.10.20.1.21")


def _keys(stmt) -> list:
    """The statement's id keys in document order (a list: lookups must not depend on set order)."""
    out = []
    for k in (ii_key(i) for i in many((stmt or {}).get("id"))):
        if k and k not in out:
            out.append(k)
    return out


def _encounter_index(conv) -> dict:
    """ii key -> the fullest <encounter> statement in the body carrying that id."""
    index = _ENC_INDEX.get(conv)
    if index is not None:
        return index
    index = {}

    def visit(holder):
        for rel in many(holder.get("entryRelationship")) + many(holder.get("component")):
            if isinstance(rel, dict):
                walk(rel)

    def walk(holder):
        enc = holder.get("encounter")
        if isinstance(enc, dict):
            weight = len(enc)
            for k in _keys(enc):
                if k not in index or weight > len(index[k]):
                    index[k] = enc
        _, stmt = statement_of(holder)
        if stmt is not None:
            visit(stmt)

    for section in conv.doc.get("sections") or ():
        for entry in section.get("entries") or ():
            if isinstance(entry, dict):
                walk(entry)
    _ENC_INDEX[conv] = index
    return index


def _is_full_encounter(enc: dict) -> bool:
    """An encounter that says more than its id (an Encounter Activity, not a mere pointer)."""
    return any(k in enc for k in ("code", "effectiveTime", "templateId", "performer", "participant"))


@template_filter
def encounter_ref(enc) -> dict | None:
    """Reference to the Encounter an <encounter> (full, or only an id pointing at one) stands for.

    A pointer resolves to the Encounter Activity with the same id in the body, or to the
    header's encompassingEncounter; one that resolves to nothing gives no reference (no
    Encounter is invented from a bare id).
    """
    enc = one(enc)
    if not isinstance(enc, dict):
        return None
    conv = current()
    keys = _keys(enc)
    if _is_full_encounter(enc):
        return conv.emit("resource/Encounter", src=enc, element="encounter")
    if not keys:
        return None
    index = _encounter_index(conv)
    for k in keys:
        full = index.get(k)
        if full is not None and _is_full_encounter(full):
            return conv.emit("resource/Encounter", src=full, element="encounter")
    header_enc = (conv.header.get("componentOf") or {}).get("encompassingEncounter")
    if isinstance(header_enc, dict) and set(keys) & set(_keys(header_enc)) and conv.encounter:
        return conv.encounter
    return None


@template_global
def note_encounter(src, parents) -> dict | None:
    """DocumentReference.context.encounter (IG order): the note's own encounter
    entryRelationship, else an enclosing Encounter Activity, else the header's
    encompassingEncounter (context conduction)."""
    for rel in many((src or {}).get("entryRelationship")):
        if isinstance(rel, dict) and isinstance(rel.get("encounter"), dict):
            ref = encounter_ref(rel["encounter"])
            if ref:
                return ref
    for p in many(parents):
        if isinstance(p, dict) and (p.get("classCode") == "ENC" or
                                    any(t.get("root") in ENCOUNTER_ACTIVITY for t in many(p.get("templateId"))
                                        if isinstance(t, dict))):
            ref = encounter_ref(p)
            if ref:
                return ref
    return current().encounter


_WS = re.compile(r"\s+")


@template_global
def note_attachment(src) -> dict:
    """content.attachment from the note's text (IG): embedded B64 data with its mediaType as is;
    inline text with a mediaType, base64-encoded; else the referenced narrative as text/plain
    (ccda2fhir's narrative index keeps plain text, so text/plain is what it truly is)."""
    ed = one((src or {}).get("text"))
    if isinstance(ed, dict):
        media = (ed.get("mediaType") or "").strip()
        own = ed.get("_text") or ""
        if (ed.get("representation") or "").upper() == "B64" and own.strip():
            return {"contentType": media or "application/octet-stream", "data": _WS.sub("", own)}
        if media and own.strip():
            return {"contentType": media, "data": base64(own.strip())}
        ref_text = narrative_text(ed.get("reference"))
        if ref_text:
            return {"contentType": "text/plain", "data": base64(ref_text)}
        if own.strip():
            return {"contentType": "text/plain", "data": base64(own.strip())}
    return {"contentType": "text/plain", "extension": [data_absent("UNK")]}


# relatesTo.code is required in R4. RPLC/APND/XFRM have exact codes; the Note Activity's
# REFR reference (the document the note comes from) has none, so 'appends' is written:
# the nearest (the note adds to / belongs with that document), as the IG maps it to relatesTo.
_RELATES = {"RPLC": "replaces", "APND": "appends", "XFRM": "transforms"}


@template_global
def note_relates_to(src) -> list[dict]:
    """relatesTo from reference/externalDocument ids (IG: target.identifier)."""
    out = []
    for ref in many((src or {}).get("reference")):
        doc = (ref or {}).get("externalDocument") if isinstance(ref, dict) else None
        if not isinstance(doc, dict):
            continue
        code = _RELATES.get(ref.get("typeCode") or "", "appends")
        for ii in many(doc.get("id")):
            ident = identifier(ii)
            if ident:
                out.append({"code": code, "target": {"identifier": ident}})
    return out
