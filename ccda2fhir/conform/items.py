"""FHIRPath items for the rule evaluator: ``(value, type)`` pairs (type None where the JSON does not
say it), and what the evaluator, its operators and functions read off them."""
from __future__ import annotations

Item = tuple  # (value, type name or None)


def is_type(item: Item, type_name: str) -> bool:
    value, t = item
    if t is None:
        if isinstance(value, dict):
            t = value.get("resourceType")
        elif isinstance(value, bool):
            t = "boolean"
        elif isinstance(value, int):
            t = "integer"
        elif isinstance(value, float):
            t = "decimal"
        elif isinstance(value, str):
            t = "string"
    return t is not None and t.lower() == type_name.lower()


def single(items: list):
    if not items:
        return None
    if len(items) > 1:
        raise ValueError("a single value was expected, got a collection")
    return items[0][0]


def as_bool(items: list):
    """A collection as a boolean: None for empty, the value of a single boolean, True otherwise."""
    if not items:
        return None
    if len(items) == 1:
        v = items[0][0]
        return v if isinstance(v, bool) else True
    # several items: FHIRPath calls it an error; validators read a filled collection as true
    return True


def boolean(value) -> list:
    return [] if value is None else [(value, "boolean" if isinstance(value, bool) else None)]


def same(p, q) -> bool:
    if isinstance(p, (int, float)) and isinstance(q, (int, float)) and not isinstance(p, bool):
        return float(p) == float(q)
    return p == q
