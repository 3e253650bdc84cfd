"""FHIRPath evaluation for the validator: fhirpathpy with its R4 model, expressions parsed once.

fhirpathpy lacks three functions R4's invariants use; they are supplied here: ``hasValue()``,
``resolve()`` (inside the Bundle being checked) and ``htmlChecks()`` (the narrative rules, see
xhtml.py).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable

from .xhtml import html_problems


@lru_cache(maxsize=1)
def _fhirpathpy():
    try:
        import fhirpathpy
        from fhirpathpy.engine.nodes import ResourceNode
        from fhirpathpy.models import models
    except ImportError as exc:  # pragma: no cover - the [check] extra is missing
        raise ImportError("ccda2fhir.validate needs fhirpathpy: pip install 'ccda2fhir[check]'") from exc
    return fhirpathpy, ResourceNode, models["r4"]


def _has_value(inputs):
    return [len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], (dict, list))]


def _html_checks(inputs):
    return [len(inputs) == 1 and isinstance(inputs[0], str) and not html_problems(inputs[0])]


_RESOLVER: list[Callable | None] = [None]


def _resolve(inputs):
    out = []
    for value in inputs:
        ref = value.get("reference") if isinstance(value, dict) else value
        if not isinstance(ref, str):
            continue
        found = _RESOLVER[0](ref) if _RESOLVER[0] else None
        if found is not None:
            _, ResourceNode, _ = _fhirpathpy()
            out.append(ResourceNode.create_node(found, found.get("resourceType")))
    return out


def _string_test(test):
    """startsWith/endsWith/matches that answer false on an empty input, as HL7's Java validator
    does (fhirpathpy answers empty): ref-1 then holds on a Reference with no reference."""
    def fn(inputs, arg):
        if not inputs:
            return [False]
        if len(inputs) != 1 or not isinstance(inputs[0], str) or not isinstance(arg, str):
            return []
        return [test(inputs[0], arg)]
    return fn


_FUNCTIONS = {
    "startsWith": {"fn": _string_test(str.startswith), "arity": {1: ["String"]}},
    "endsWith": {"fn": _string_test(str.endswith), "arity": {1: ["String"]}},
    "matches": {"fn": _string_test(lambda s, p: re.search(p, s, re.DOTALL) is not None),
                "arity": {1: ["String"]}},
    "hasValue": {"fn": _has_value, "arity": {0: []}},
    "htmlChecks": {"fn": _html_checks, "arity": {0: []}},
    "resolve": {"fn": _resolve, "arity": {0: []}},
}


@lru_cache(maxsize=None)
def compiled(expression: str):
    """The expression parsed once, as a function of (node, variables). It runs inside
    ``select()`` so that ``$this`` is the node (fhirpathpy binds it only inside functions)."""
    fhirpathpy, _, r4 = _fhirpathpy()
    return fhirpathpy.compile(f"select({expression})", r4,
                              options={"userInvocationTable": _FUNCTIONS, "traceFn": _quiet})


def _quiet(label, value) -> None:
    """trace() in R4's expressions (ref-1, dom-3) would print otherwise."""


def evaluate(expression: str, value, path: str, resource: dict, resolve: Callable | None = None) -> list:
    """Evaluate on ``value`` of ``resource``; ``path`` is what fhirpathpy types the node by: its
    datatype (``Period``, ``dateTime``) or, inside a backbone element, its element path."""
    _, ResourceNode, _ = _fhirpathpy()
    _RESOLVER[0] = resolve
    try:
        root = ResourceNode.create_node(resource, resource.get("resourceType"))
        node = root if value is resource else ResourceNode.create_node(value, path)
        return compiled(expression)(node, {"resource": root, "rootResource": root})
    finally:
        _RESOLVER[0] = None


def holds(expression: str, value, path: str, resource: dict, resolve: Callable | None = None,
          item_type: str | None = None) -> bool:
    """True when the invariant evaluates to ``true``: false or empty fails, as FHIR's validators
    read it (``telecom or endpoint`` with neither present is empty).

    Where fhirpathpy fails on the data (it cannot compare Quantities in a unit it does not
    convert, as rng-2 in [degF]; it refuses a filled collection as a boolean, as pd-1's
    ``telecom or endpoint``, which validators read as true), ccda2fhir.conform's evaluator
    answers; an expression neither can evaluate raises.
    """
    try:
        return evaluate(expression, value, path, resource, resolve) == [True]
    except Exception as first:
        from ..conform.rules import holds as rules_holds
        from .translate import translate
        try:
            focus = None if value is resource else (value, item_type)
            return rules_holds(translate(expression), resource, focus, resolve)
        except Exception:
            raise first from None
