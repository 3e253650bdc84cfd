"""The US Core 6.1.0 profiles a resource claims: the snapshot's structure (ccda2fhir.conform, with
what R4 requires too) and every invariant, here evaluated by fhirpathpy."""
from __future__ import annotations

from typing import Callable

from .. import conform
from ..conform.structure import problems as structure_problems
from ..conform.structure import typed_instances
from . import fhirpath
from .model import primitives
from .problem import Problem


def profile_problems(resource: dict, ref: str, resolve: Callable | None = None) -> list[Problem]:
    """Each way ``resource`` falls short of a profile in its ``meta.profile``."""
    out = []
    for url in (resource.get("meta") or {}).get("profile", ()):
        prof = conform.profile(url)
        name = url.rsplit("/", 1)[-1]
        if prof is None:
            out.append(Problem(ref, "meta.profile", "profile", f"claims {url}, which is not a US Core "
                                                               f"{conform.US_CORE_VERSION} profile"))
            continue
        if resource.get("resourceType") != prof.type:
            out.append(Problem(ref, "meta.profile", name, f"profiles {prof.type}"))
            continue
        for msg in structure_problems(prof, resource, profiles=conform.profile, resolve=resolve):
            where, _, what = msg.partition(": ")
            out.append(Problem(ref, where, name, what))
        cache: dict = {(): [resource]}
        for segs, inv in prof.invariants:
            for value, t in typed_instances(prof, resource, segs, cache):
                type_path = _type_path(t) if segs else resource["resourceType"]
                try:
                    ok = fhirpath.holds(inv["expression"], value, type_path or inv["id"].split(":")[0],
                                        resource, resolve, t)
                except Exception as exc:
                    out.append(Problem(ref, inv["id"], inv["key"], f"could not be evaluated: {exc}"))
                    break
                if not ok:
                    out.append(Problem(ref, inv["id"], inv["key"], f"{name}: {inv['human']}"))
                    break
    return out


def _type_path(suffix: str | None) -> str | None:
    """A choice key's suffix as the type fhirpathpy knows (DateTime -> dateTime)."""
    if not suffix:
        return None
    lower = suffix[0].lower() + suffix[1:]
    return lower if lower in primitives() else suffix
