"""How two renderings with the same id become one resource."""
from __future__ import annotations

from .ids import canonical

DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


def _absent(value) -> bool:
    """A placeholder that only says the value is missing (data-absent-reason and nothing else)."""
    return (isinstance(value, dict) and list(value) == ["extension"]
            and all(isinstance(e, dict) and e.get("url") == DATA_ABSENT for e in value["extension"]))


class Merger:
    """Merges renderings into resources, remembering the canonical form of the list items it has
    seen: a participant named a thousand times with a new telephone number each time costs each
    merge its new items, not the whole list again (that was quadratic in the mentions)."""

    def __init__(self) -> None:
        # id(list) -> [the list, canonical forms of its items, how many items they cover]; holding
        # the list keeps its id from being reused while the entry lives
        self._seen: dict[int, list] = {}

    def merge(self, old: dict, new: dict, same_item=None) -> None:
        """Fold ``new`` into ``old``: missing fields added, list items added once, scalars kept;
        a data-absent placeholder gives way to a real value. ``same_item(key, a, b)``, when given,
        folds a top-level list item into an item already there that says the same (the name "Henry
        Seven" again, now with its prefix "Dr."), instead of appending it."""
        for k, v in new.items():
            if k not in old or (_absent(old[k]) and not _absent(v)):
                old[k] = v
            elif _absent(v):
                continue
            elif isinstance(old[k], dict) and isinstance(v, dict):
                self.merge(old[k], v)
            elif isinstance(old[k], list) and isinstance(v, list):
                self._extend(old[k], k, v, same_item)

    def _extend(self, items: list, key: str, new: list, same_item) -> None:
        seen = self._canonical_forms(items)
        for item in new:
            c = canonical(item)
            if c in seen:
                continue
            match = next((x for x in items if same_item(key, x, item)), None) if same_item else None
            if isinstance(match, dict) and isinstance(item, dict):
                self.merge(match, item)
                seen.clear()           # the item changed: its canonical form is computed anew
                seen.update(canonical(x) for x in items)
                continue
            items.append(item)
            seen.add(c)
        self._seen[id(items)][2] = len(items)

    def _canonical_forms(self, items: list) -> set:
        entry = self._seen.get(id(items))
        if entry is None or entry[0] is not items or entry[2] != len(items):
            # first merge into this list, or someone else changed it since: start from its items
            entry = self._seen[id(items)] = [items, {canonical(x) for x in items}, len(items)]
        return entry[1]


def merge(old: dict, new: dict, same_item=None) -> None:
    """One merge on its own (a conversion keeps one Merger for all of its merges)."""
    Merger().merge(old, new, same_item)
