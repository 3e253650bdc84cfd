"""References: each points at a resource type its element allows, and resolves in the Bundle."""
from __future__ import annotations

from typing import Callable

from .model import children, walk
from .problem import Problem


def target_type(reference: str, resolve: Callable | None = None) -> str | None:
    """The resource type a reference names: the resolved resource's, else ``Type/id``'s Type."""
    if resolve is not None:
        found = resolve(reference)
        if found is not None:
            return found.get("resourceType")
    parts = reference.split("/")
    if reference.startswith(("#", "urn:")) or len(parts) < 2:
        return None
    return parts[-2] if "_history" not in parts else parts[-4]


def wrong_targets(resource: dict, ref: str, resolve: Callable | None = None,
                  must_resolve: bool = False) -> list[Problem]:
    """Each Reference whose target type its element does not allow (``type.targetProfile``),
    and with ``must_resolve`` each that ``resolve`` cannot find."""
    out = []
    for node in walk(resource):
        kids = children(node.sd, node.path)
        for key, value in node.value.items():
            child = kids.get(key)
            if child is None or child.type != "Reference":
                continue
            allowed = child.info.get("targets") or ["Resource"]
            for i, v in enumerate(value) if isinstance(value, list) else ((None, value),):
                r = v.get("reference") if isinstance(v, dict) else None
                if not isinstance(r, str):
                    continue
                at = f"{node.where}.{key}" + (f"[{i}]" if i is not None else "")
                if must_resolve and not r.startswith("#") and (resolve is None or resolve(r) is None):
                    out.append(Problem(ref, at, "reference", f"{r} does not resolve inside the Bundle"))
                t = target_type(r, resolve)
                if t is not None and "Resource" not in allowed and t not in allowed:
                    out.append(Problem(ref, at, "reference",
                                       f"points at a {t}; {child.path} allows {', '.join(allowed)}"))
    return out
