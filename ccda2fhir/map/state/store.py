"""The resources of one conversion: each added once, merged, or kept apart, by id and identity.

Ids are deterministic (assemble.ids): the same key in the same patient's namespace is the same id,
so a resource rendered twice is merged into one; things named by a shared identifier (a
practitioner, a drug) are one resource per thing the identifier names (assemble.identity).
"""
from __future__ import annotations

import json
from importlib import resources

from ...assemble import identity as idn
from ...assemble.ids import canonical, patient_namespace, resource_id
from ...assemble.merge import Merger
from ..engine.prune import one_per_choice


def _data(name: str) -> dict:
    return json.loads(resources.files("ccda2fhir.data").joinpath(name).read_text())


MERGE_TYPES = frozenset(_data("resources.json")["merge"])
PATIENT_COMPARTMENT = frozenset(_data("patient_compartment.json")["types"])
# elements that make a resource outside the compartment types one patient's own (Device.patient)
_PATIENT_ELEMENTS = ("patient", "subject", "beneficiary")


class ResourceStore:
    """The resources made so far ("Type/id" -> resource, in order made) and what decides their ids."""

    def __init__(self, patient_id: str) -> None:
        self.patient_id = patient_id
        self.patient = {"reference": f"Patient/{patient_id}"}
        self._patient_ns = patient_namespace(patient_id)
        self.resources: dict[str, dict] = {}      # "Type/id" -> resource, in order made
        self._content: dict[str, str] = {}        # "Type/id" -> canonical first rendering
        self._named: dict[tuple, list] = {}       # (type, key) -> [[identity, ref], ...] of shared things
        self._id_only: dict[tuple, str] = {}      # (type, key) -> ref of a mention known by its id alone
        self._alias: dict[str, str] = {}          # ref folded away -> the ref that holds it now
        self._merger = Merger()

    def warn(self, reason: str, level: str = "warning", **where) -> None:
        """Record an issue (the conversion says where)."""
        raise NotImplementedError

    def id_for(self, resource_type: str, key: str, resource: dict | None = None) -> str:
        """The id of a resource of this type and key: in the patient's namespace when it is the
        patient's own (a Patient-compartment type, or a resource whose patient is this Patient)."""
        if resource_type in PATIENT_COMPARTMENT:
            return resource_id(resource_type, key, self._patient_ns)
        if resource is not None:
            patient = self.patient
            for e in _PATIENT_ELEMENTS:
                if resource.get(e) == patient:
                    return resource_id(resource_type, key, self._patient_ns)
        return resource_id(resource_type, key)

    def add(self, res: dict, key: str | None = None) -> dict:
        """Add a finished resource (merging or disambiguating on id clash); returns its Reference."""
        rt = res["resourceType"]
        if key is not None and not res.get("id"):
            ident = idn.identity(res)
            if ident is not None:
                return {"reference": self._add_shared(res, key, ident)}
        content = canonical(res)
        if not res.get("id"):
            res["id"] = self.id_for(rt, key or content, res)
        ref = f"{rt}/{res['id']}"
        existing = self.resources.get(ref)
        if existing is None:
            self._store(res, ref, content)
        elif self._content[ref] != content:
            if rt in MERGE_TYPES or key is None:
                self._merger.merge(existing, res)
                one_per_choice(existing)  # the two renderings may have filled different choice types
            else:
                # Two different statements share an identifier (common in test
                # documents): keep both, the second keyed by its content too.
                res["id"] = self.id_for(rt, f"{key}|{content}", res)
                self.warn(f"{rt} identifier {key!r} is used by more than one statement; kept both")
                return self.add(res)
        return {"reference": ref}

    def _store(self, res: dict, ref: str, content: str | None = None) -> None:
        """Put a resource at ``ref``, or fold it into the one already there."""
        existing = self.resources.get(ref)
        if existing is not None:
            self._merger.merge(existing, res, idn.item_matcher(existing["resourceType"]))
            one_per_choice(existing)
            return
        rt, rid = ref.split("/", 1)
        res = {"resourceType": rt, "id": rid, **{k: v for k, v in res.items() if k not in ("resourceType", "id")}}
        self.resources[ref] = res
        self._content[ref] = content if content is not None else canonical(res)

    def _add_shared(self, res: dict, key: str, ident) -> str:
        """A practitioner, organization, drug ... named with an identifier: one resource per thing
        the identifier names, told apart by name or code (data/resources.json, "identity")."""
        rt = res["resourceType"]
        named = self._named.setdefault((rt, key), [])
        if idn.says_nothing(ident):
            if len(named) == 1:                       # known by its id alone: who it names
                ref = named[0][1]
            else:                                     # none named yet, or the id names several
                ref = self._id_only.setdefault((rt, key), f"{rt}/{self.id_for(rt, key, res)}")
            self._store(res, ref)
            return ref
        fits = [c for c in named if idn.agree(c[0], ident)]
        if len(fits) == 1:
            fits[0][0] = idn.joined(fits[0][0], ident)
            self._store(res, fits[0][1])
            return fits[0][1]
        ref = f"{rt}/{self.id_for(rt, f'{key}|{idn.key_part(ident)}', res)}"
        if named and rt in idn.REPORTED:
            others = ", ".join(idn.describe(self.resources[c[1]]) for c in named)
            why = "could be more than one of" if fits else "differs from"
            self.warn(f"{rt} identifier {key!r} names {idn.describe(res)!r}, which {why} what it names "
                      f"elsewhere ({others}): kept apart")
        named.append([ident, ref])
        self._store(res, ref)
        return ref

    def settle_identities(self) -> None:
        """Fold each resource first made from an identifier alone into the one thing that identifier
        turned out to name, and point every reference at it (done once all mentions are made).
        Mentions that became the same once their references moved (two PractitionerRoles of one
        practitioner) are folded too."""
        folded = {}
        for (rt, key), ref in self._id_only.items():
            named = self._named.get((rt, key), ())
            if len(named) == 1 and ref in self.resources:
                folded[ref] = named[0][1]
        self._id_only.clear()
        while folded:
            for old, new in folded.items():
                self._store(self.resources.pop(old), new)
                self._content.pop(old, None)
            self._alias.update(folded)
            for res in self.resources.values():
                _retarget(res, folded)
            self._merger = Merger()   # lists changed in place: what it remembers of them is stale
            folded = self._same_after_retarget()

    def _same_after_retarget(self) -> dict:
        folded = {}
        for named in self._named.values():
            kept: dict = {}
            for cluster in named:
                res = self.resources.get(cluster[1])
                if res is None:
                    continue
                ident = idn.identity(res)
                if ident in kept:
                    folded[cluster[1]] = kept[ident]
                else:
                    kept[ident] = cluster[1]
            named[:] = [[ident, ref] for ident, ref in kept.items()]
        return folded


def _retarget(value, alias: dict) -> bool:
    """Point references at their new targets, in place; whether anything changed. A list in which
    two items became the same keeps the first."""
    changed = False
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "reference" and isinstance(v, str) and v in alias:
                value[k] = alias[v]
                changed = True
            elif isinstance(v, (dict, list)):
                changed |= _retarget(v, alias)
    elif isinstance(value, list):
        for v in value:
            changed |= _retarget(v, alias)
        if changed:
            seen, kept = set(), []
            for v in value:
                c = canonical(v)
                if c not in seen:
                    seen.add(c)
                    kept.append(v)
            value[:] = kept
    return changed
