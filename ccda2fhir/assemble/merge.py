"""How two renderings with the same id become one resource."""
from __future__ import annotations

from .ids import canonical


def merge(old: dict, new: dict) -> None:
    """Fold ``new`` into ``old``: missing fields added, list items added once, scalars kept."""
    for k, v in new.items():
        if k not in old:
            old[k] = v
        elif isinstance(old[k], dict) and isinstance(v, dict):
            merge(old[k], v)
        elif isinstance(old[k], list) and isinstance(v, list):
            seen = {canonical(x) for x in old[k]}
            for item in v:
                c = canonical(item)
                if c not in seen:
                    old[k].append(item)
                    seen.add(c)
