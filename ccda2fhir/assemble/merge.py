"""How two renderings with the same id become one resource."""
from __future__ import annotations

from .ids import canonical

DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


def _absent(value) -> bool:
    """A placeholder that only says the value is missing (data-absent-reason and nothing else)."""
    return (isinstance(value, dict) and list(value) == ["extension"]
            and all(isinstance(e, dict) and e.get("url") == DATA_ABSENT for e in value["extension"]))


def merge(old: dict, new: dict, same_item=None) -> None:
    """Fold ``new`` into ``old``: missing fields added, list items added once, scalars kept;
    a data-absent placeholder gives way to a real value. ``same_item(key, a, b)``, when given,
    folds a top-level list item into an item already there that says the same (the name "Henry Seven"
    again, now with its prefix "Dr."), instead of appending it."""
    for k, v in new.items():
        if k not in old or (_absent(old[k]) and not _absent(v)):
            old[k] = v
        elif _absent(v):
            continue
        elif isinstance(old[k], dict) and isinstance(v, dict):
            merge(old[k], v)
        elif isinstance(old[k], list) and isinstance(v, list):
            seen = {canonical(x) for x in old[k]}
            for item in v:
                c = canonical(item)
                if c in seen:
                    continue
                match = next((x for x in old[k] if same_item(k, x, item)), None) if same_item else None
                if isinstance(match, dict) and isinstance(item, dict):
                    merge(match, item)
                    continue
                old[k].append(item)
                seen.add(c)
