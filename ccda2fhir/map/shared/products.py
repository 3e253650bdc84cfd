"""A manufactured material (drug, vaccine) -> its CodeableConcept."""
from __future__ import annotations

from ..datatypes.codes import codeable_concept
from ..datatypes.navigation import one
from ..datatypes.status import data_absent
from ..datatypes.text import text
from ..engine.registry import template_filter

@template_filter
def med_concept(material) -> dict:
    """The CodeableConcept of a manufacturedMaterial: code (+translations), else its name, else
    data-absent (a MedicationStatement/Request needs medication[x])."""
    material = material or {}
    cc = codeable_concept(material.get("code"))
    name = text(one(material.get("name")))
    if cc:
        if name and "text" not in cc and not cc.get("coding"):
            cc["text"] = name
        return cc
    if name:
        return {"text": name}
    code = material.get("code") if isinstance(material.get("code"), dict) else {}
    return {"extension": [data_absent(code.get("nullFlavor") or "UNK")]}
