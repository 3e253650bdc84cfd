"""Is this valid FHIR R4, and does it keep the profiles it claims?

``check_resource(resource)`` and ``check_bundle(bundle)`` return a list of ``Problem`` (empty when
valid) from four checks, each selectable: ``schema`` (the official R4 JSON schema), ``invariants``
(every error-severity R4 invariant, by FHIRPath, on every element it applies to), ``references``
(each Reference points at a type its element allows; in a Bundle, resolves there) and
``profiles`` (each US Core 6.1.0 profile in ``meta.profile``). Needs the ``[check]`` extra
(jsonschema, fhirpathpy); the definitions are generated data (ccda2fhir/data/fhir/, CC0).
"""
from __future__ import annotations

from typing import Callable, Iterable

from .invariants import broken
from .problem import Problem
from .profiles import profile_problems
from .references import wrong_targets
from .schema import schema_problems

CHECKS = ("schema", "invariants", "references", "profiles")


def check_resource(resource: dict, *, resolve: Callable | None = None,
                   checks: Iterable[str] = CHECKS, must_resolve: bool = False) -> list[Problem]:
    """Every problem of one resource. ``resolve(reference) -> resource | None`` finds what its
    references point at (for target types, ``resolve()`` in invariants, and ``must_resolve``)."""
    checks = set(checks)
    unknown = checks - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown checks {sorted(unknown)}; choose from {', '.join(CHECKS)}")
    ref = f"{resource.get('resourceType')}/{resource.get('id')}"
    out = []
    if "schema" in checks:
        out += schema_problems(resource, ref)
    if "invariants" in checks:
        out += broken(resource, ref, resolve)
    if "references" in checks:
        out += wrong_targets(resource, ref, resolve, must_resolve)
    if "profiles" in checks:
        out += profile_problems(resource, ref, resolve)
    return out


def bundle_resolver(bundle: dict) -> Callable[[str], dict | None]:
    """Looks a reference up among a Bundle's entries, by ``Type/id`` or by ``fullUrl``."""
    index = {}
    for e in bundle.get("entry") or ():
        r = e.get("resource") or {}
        if r.get("resourceType") and r.get("id"):
            index[f"{r['resourceType']}/{r['id']}"] = r
        if e.get("fullUrl"):
            index[e["fullUrl"]] = r
    return index.get


def check_bundle(bundle: dict, *, checks: Iterable[str] = CHECKS) -> list[Problem]:
    """Every problem of a Bundle and of each resource in it; references must resolve inside it."""
    checks = tuple(checks)
    resolve = bundle_resolver(bundle)
    # the Bundle's own rules (bdl-*, its schema) on the Bundle without its resources; each
    # resource is then checked once, as itself
    shell = {**bundle, "entry": [{k: v for k, v in e.items() if k != "resource"}
                                 for e in bundle.get("entry") or ()]}
    out = []
    if "schema" in checks:
        out += schema_problems(shell, "Bundle")
    if "invariants" in checks:
        out += broken(bundle, "Bundle", resolve)
    for e in bundle.get("entry") or ():
        r = e.get("resource")
        if isinstance(r, dict):
            out += check_resource(r, resolve=resolve, checks=checks, must_resolve="references" in checks)
    return out


__all__ = ["CHECKS", "Problem", "bundle_resolver", "check_bundle", "check_resource"]
