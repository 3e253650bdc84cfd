"""R4's error-severity invariants, each evaluated on every node it is defined for."""
from __future__ import annotations

from typing import Callable

from . import fhirpath
from .model import Node, children, element_constraints, model, root_constraints, walk
from .problem import Problem

# ele-1 ("hasValue() or (children().count() > id.count())") holds on every element of every
# resource: checked natively (no element is empty) rather than by FHIRPath on each node.
NATIVE = frozenset({"ele-1"})


def constraints_of(node: Node) -> list:
    """(sd, path, [key, human, expression]) of each invariant that applies at ``node``."""
    out = []
    if node.type is not None:
        out += root_constraints(node.type)
        if node.via is not None:
            out += [(node.via[0], node.via[1], c) for c in element_constraints(*node.via)]
    else:
        out += [(node.sd, node.path, c) for c in element_constraints(node.sd, node.path)]
    return [x for x in out if x[2][0] not in NATIVE]


def primitive_constraints(node: Node) -> list:
    """(where, value, type, [key, human, expression]) for the invariants on a node's primitive
    children (txt-1 and txt-2 on Narrative.div)."""
    out = []
    for key, child in children(node.sd, node.path).items():
        if key not in node.value or child.type in model()["types"]:
            continue
        for c in element_constraints(node.sd, child.path):
            if c[0] not in NATIVE:
                out.append((f"{node.where}.{key}", node.value[key], child.type, c))
    return out


def broken(resource: dict, ref: str, resolve: Callable | None = None) -> list[Problem]:
    """Every R4 error-severity invariant ``resource`` breaks."""
    out = []
    for node in walk(resource):
        if node.value is not resource and not (node.value.keys() - {"id"}):
            out.append(Problem(ref, node.where, "ele-1", "All FHIR elements must have a @value or children"))
        todo = [(node.where, node.value, node.type or node.path, node.type, c) for _, _, c in constraints_of(node)]
        todo += [(where, v, t, t, c) for where, v, t, c in primitive_constraints(node)]
        for where, value, type_path, item_type, (key, human, expression) in todo:
            try:
                ok = fhirpath.holds(expression, value, type_path, resource, resolve, item_type)
            except Exception as exc:  # neither evaluator can: say so, do not pass it silently
                out.append(Problem(ref, where, key, f"could not be evaluated: {type(exc).__name__}: {exc}"))
                continue
            if not ok:
                out.append(Problem(ref, where, key, human))
    return out
