"""DICOM (DIR): Study Acts -> ImagingStudy, SOP instance references -> derivedFrom."""
from __future__ import annotations

from ...assemble.ids import ii_key
from ..datatypes.codes import coding
from ..datatypes.navigation import add_once, many, one, statement_of, template_ids
from ..engine.registry import template_global
from ..shared.statements import statement_index
from ..state import current

SOP_INSTANCE = "2.16.840.1.113883.10.20.6.2.8"
DCM_UID = "1.2.840.10008.2.6.1"


def _uid(stmt) -> str | None:
    for ii in many((stmt or {}).get("id")):
        if isinstance(ii, dict) and ii.get("root") and not ii.get("extension") and not ii.get("nullFlavor"):
            return ii["root"]
    return None


@template_global
def imaging_series(study) -> list[dict]:
    """ImagingStudy.series from a DIR Study Act's Series Acts (code 113015; id root = series UID,
    code qualifier Modality (121139) value = modality) and their SOP Instance Observations (6.2.8:
    id root = SOP instance UID, code = SOP class UID). A series with no UID or no modality
    (both required by FHIR) is reported and left out."""
    conv = current()
    out = []
    for rel in many((study or {}).get("entryRelationship")):
        el, series = statement_of(rel)
        if el != "act" or series is None:
            continue
        uid = _uid(series)
        code = one(series.get("code")) or {}
        modality = None
        for q in many(code.get("qualifier")):
            if isinstance(q, dict) and (one(q.get("name")) or {}).get("code") == "121139":
                modality = coding(one(q.get("value")))
        if not uid or not modality:
            conv.warn("DICOM series without a UID or a modality: not kept", level="partial",
                      line=series.get("_line"))
            continue
        instances = []
        for r2 in many(series.get("entryRelationship")):
            el2, sop = statement_of(r2)
            if sop is None or SOP_INSTANCE not in template_ids(sop):
                continue
            sop_uid = _uid(sop)
            cls = one(sop.get("code")) or {}
            if sop_uid and cls.get("code"):
                inst = {"uid": sop_uid, "sopClass": {"system": "urn:ietf:rfc:3986",
                                                     "code": "urn:oid:" + cls["code"]}}
                if cls.get("displayName"):
                    inst["title"] = cls["displayName"]
                instances.append(inst)
            else:
                conv.warn("DICOM SOP instance without a UID or a SOP class: not kept", level="partial",
                          line=sop.get("_line"))
            if sop.get("text") or sop.get("effectiveTime"):
                # R4 ImagingStudy.series.instance has uid, sopClass, number and title only
                conv.warn("DICOM SOP instance: its retrieval reference (WADO) and time have no FHIR R4 "
                          "ImagingStudy element; not kept", level="partial", line=sop.get("_line"))
        s = {"uid": uid, "modality": modality, "numberOfInstances": len(instances) or None,
             "instance": instances or None}
        out.append({k: v for k, v in s.items() if v is not None})
    return out


STUDY_ACT = "2.16.840.1.113883.10.20.6.2.6"


def _said(v) -> str | None:
    """A source value as the report says it: 'display (code)' of a code (not ASSERTION), or the value."""
    v = one(v)
    if not isinstance(v, dict):
        return None
    if v.get("code"):
        return None if v["code"] == "ASSERTION" else \
            (f"{v['displayName']} ({v['code']})" if v.get("displayName") else v["code"])
    return v.get("value")


def _study_holding(conv, sop) -> dict | None:
    """The DIR Study Act (6.2.6) of this document that lists the SOP instance ``sop`` names."""
    idx = statement_index(conv)
    for ii in many((sop or {}).get("id")):
        k = ii_key(ii)
        for _section, _el, stmt, parents in idx.get(k, ()) if k else ():
            if stmt is sop:
                continue
            for p in parents:
                if STUDY_ACT in template_ids(p):
                    return p
    return None


@template_global
def image_reference(src, parents) -> bool:
    """derivedFrom of the finding holding a SOP Instance Observation = the ImagingStudy made from
    the Study Act that lists the instance (see resource/ImageReference). What R4 cannot say (the
    frames, the purpose of the reference) is reported with the codes it would have kept."""
    conv = current()
    where = dict(conv.where)
    lost = []
    for rel in many((src or {}).get("entryRelationship")):
        _, q = statement_of(rel)
        if q is None:
            continue
        parts = [_said(q.get("code")), _said(one(q.get("value")))]
        for _, inner in (statement_of(r) for r in many(q.get("entryRelationship"))):
            if inner is not None:
                parts.append(f"{_said(inner.get('code'))} = {_said(one(inner.get('value')))}")
        lost.append(" ".join(x for x in parts if x))
    if lost:
        conv.warn("image reference: " + "; ".join(lost) + ": no FHIR R4 element for the frames or "
                  "the purpose of a reference; not kept", level="partial")
    holder = one(parents) if parents else None
    study = _study_holding(conv, src)
    if study is None or not isinstance(holder, dict):
        conv.warn("image reference to a SOP instance no Study Act of the document lists: not kept",
                  level="partial")
        return False

    def on_holder(res: dict) -> None:
        if res.get("resourceType") != "Observation":
            conv.warn(f"image reference on a {res.get('resourceType')}, which has no derivedFrom: "
                      "not kept", level="partial", **where)
            return

        def on_study(st: dict) -> None:
            if st.get("resourceType") == "ImagingStudy":
                add_once(res.setdefault("derivedFrom", []), {"reference": f"ImagingStudy/{st['id']}"})
        conv.when_made(study, on_study)

    conv.when_made(holder, on_holder)
    return True


@template_global
def imaging_modalities(series) -> list[dict]:
    """ImagingStudy.modality: the modality of each series, each once."""
    out = []
    for s in many(series):
        if isinstance(s, dict) and s.get("modality"):
            add_once(out, s["modality"])
    return out
