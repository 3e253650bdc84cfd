"""The product a statement gives (drug, vaccine): where it is, and its CodeableConcept."""
from __future__ import annotations

from ..datatypes.codes import codeable_concept
from ..datatypes.navigation import one
from ..datatypes.status import data_absent
from ..datatypes.text import text
from ..engine.registry import template_filter


def product_of(stmt) -> dict | None:
    """The manufacturedProduct of a substanceAdministration (consumable) or supply (product)."""
    if not isinstance(stmt, dict):
        return None
    holder = stmt.get("consumable") or stmt.get("product")
    mp = holder.get("manufacturedProduct") if isinstance(holder, dict) else None
    return mp if isinstance(mp, dict) else None


def material_of(product) -> dict:
    """The manufacturedMaterial (or manufacturedLabeledDrug) of a manufacturedProduct ({} when none)."""
    if not isinstance(product, dict):
        return {}
    m = product.get("manufacturedMaterial") or product.get("manufacturedLabeledDrug")
    return m if isinstance(m, dict) else {}


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
