"""The state of one conversion: resources made so far, where we are, what to report."""
from __future__ import annotations

import json
from contextvars import ContextVar
from importlib import resources

from ..assemble import identity as idn
from ..assemble.ids import canonical, patient_namespace, resource_id
from ..assemble.merge import Merger
from ..report import Report
from . import engine
from .prune import one_per_choice

_CURRENT: ContextVar["Conversion"] = ContextVar("ccda2fhir_conversion")


def _merge_types() -> frozenset:
    data = json.loads(resources.files("ccda2fhir.data").joinpath("resources.json").read_text())
    return frozenset(data["merge"])


MERGE_TYPES = _merge_types()
PATIENT_COMPARTMENT = frozenset(json.loads(resources.files("ccda2fhir.data")
                                           .joinpath("patient_compartment.json").read_text())["types"])
# elements that make a resource outside the compartment types one patient's own (Device.patient)
_PATIENT_ELEMENTS = ("patient", "subject", "beneficiary")
WRAPPED_TYPES = frozenset(json.loads(resources.files("ccda2fhir.data").joinpath("resources.json")
                                     .read_text())["wrapped"])


def _required() -> dict:
    data = json.loads(resources.files("ccda2fhir.data").joinpath("required.json").read_text())
    data.pop("_comment", None)
    return {rt: [tuple(keys) for keys in groups] for rt, groups in data.items()}


REQUIRED = _required()
_NOT_YET = object()


def _identity(value):
    """What makes two template variables the same: the object for plain data, the value otherwise."""
    if isinstance(value, dict):
        ref = value.get("reference")
        return ("ref", ref) if isinstance(ref, str) and len(value) == 1 else ("obj", id(value))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_identity(v) for v in value))
    try:
        hash(value)
    except TypeError:
        return ("obj", id(value))
    return ("val", value)


def _memo_key(template: str, variables: dict) -> tuple:
    """(template, name, identity, name, identity, ...) in name order: two keys are equal exactly
    when the templates and the (name, _identity(value)) pairs are (the common types inline)."""
    key = [template]
    for name in sorted(variables):
        value = variables[name]
        t = type(value)
        if t is dict:
            ref = value.get("reference") if len(value) == 1 else None
            ident = ("ref", ref) if isinstance(ref, str) else ("obj", id(value))
        elif t is str or value is None:
            ident = ("val", value)
        else:
            ident = _identity(value)
        key.append(name)
        key.append(ident)
    return tuple(key)


def current() -> "Conversion":
    """The conversion the running template belongs to."""
    return _CURRENT.get()


class Conversion:
    """Holds the walked document, the resources made from it and the report."""

    def __init__(self, doc: dict, patient_id: str, options: dict | None = None) -> None:
        self.doc = doc
        self.header = doc["header"]
        self.narrative = doc["narrative"]
        self.patient_id = patient_id
        self.patient = {"reference": f"Patient/{patient_id}"}
        self._patient_ns = patient_namespace(patient_id)
        self.resources: dict[str, dict] = {}      # "Type/id" -> resource, in order made
        self._content: dict[str, str] = {}        # "Type/id" -> canonical first rendering
        self.report = Report()
        self.section: dict | None = None
        self.entry_refs: list[dict] = []          # top-level refs made from the current section
        self.where: dict = {}
        self.options = options or {}
        self.encounter: dict | None = None        # the header's encompassingEncounter, once made
        self._memo: dict = {}                     # (template, variables' identities) -> Reference
        self._after: list[list] = []              # per rendering in progress: emits waiting for it
        self._made_from: dict[int, dict] = {}     # id(statement) -> Reference of the resource made of it
        self._on_made: dict[int, list] = {}       # id(statement) -> callbacks waiting for that resource
        self._accounted: set[int] = set()         # id(statement) of those folded or reported already
        self._named: dict[tuple, list] = {}       # (type, key) -> [[identity, ref], ...] of shared things
        self._id_only: dict[tuple, str] = {}      # (type, key) -> ref of a mention known by its id alone
        self._alias: dict[str, str] = {}          # ref folded away -> the ref that holds it now
        self._merger = Merger()
        # What is keyed by id() above lives as long as the conversion: a filter's temporary dict
        # (a payer's organization) freed after its emit could otherwise hand its id to the next
        # one, which would then be taken for it (memo hit, 'already made').
        self._alive: list = []

    def __enter__(self) -> "Conversion":
        self._token = _CURRENT.set(self)
        return self

    def __exit__(self, *exc) -> None:
        _CURRENT.reset(self._token)

    def emit(self, template: str, **variables) -> dict | None:
        """Render a resource template, add the resource once, return a Reference to it.

        The template may give ``"$key"`` (the source identifier key) and ``"id"``;
        without a key the resource is keyed by its content. Returns None when the
        template produced nothing worth a resource.
        """
        if "section" not in variables:
            variables["section"] = self.section
        if "patient" not in variables:
            variables["patient"] = self.patient
        # The document does not change while it converts, so the same template over the same
        # objects renders the same resource: a practitioner named on thirty entries renders once.
        memo_key = _memo_key(template, variables)
        ref = self._memo.get(memo_key, _NOT_YET)
        if ref is not _NOT_YET:
            if ref and ref["reference"] in self._alias:
                ref = {"reference": self._alias[ref["reference"]]}
            return dict(ref) if ref else None
        ref = self._render_and_add(template, variables)
        self._memo[memo_key] = ref
        self._alive.append(variables)
        return dict(ref) if ref else None

    def emit_after(self, template: str, back: str, **variables) -> None:
        """Emit ``template`` once the resource being rendered now is made, with its Reference as
        the variable ``back`` (for resources that point at their parent: reaction -> allergy)."""
        if not self._after:
            raise RuntimeError("emit_after outside a template rendering")
        self._after[-1].append((template, back, variables))

    def _render_and_add(self, template: str, variables: dict) -> dict | None:
        self._after.append([])
        try:
            key, res = engine.build(template, variables)
        finally:
            pending = self._after.pop()
        ref = self._finish(template, variables, res, key)
        for child, back, child_vars in pending:
            if ref is None:
                self.warn(f"{child.split('/')[-1]} not made: the resource it belongs to was not made",
                          level="partial")
            else:
                self.emit(child, **{**child_vars, back: ref})
        return ref

    def _finish(self, template: str, variables: dict, res: dict | None, key=None) -> dict | None:
        """Add a built (pruned) resource, keyed by ``key`` (its ``$key``), unless FHIR would reject it."""
        if not res or len(res) <= 1 or "resourceType" not in res:
            return None
        # a primitive given only as its extension (_date with data-absent-reason) is present
        missing = [keys[0] for keys in REQUIRED.get(res["resourceType"], ())
                   if not any(k in res or f"_{k}" in res for k in keys)]
        if missing:
            # The safety net under every template: never emit a resource FHIR would reject.
            self.warn(f"{res['resourceType']} not made: the source gives nothing for its required "
                      f"{', '.join(missing)}", level="partial")
            return None
        one_per_choice(res)
        ref = self.add(res, key)
        self._record_made(template, variables, ref)
        src = variables.get("src")
        if isinstance(src, dict) and src.get("author") and template.startswith("resource/") \
                and template != "resource/EntryProvenance":
            self._provenance(src["author"], ref)
        return ref

    # Resources are made inside-out (a template maps what it nests while it renders), so a nested
    # statement may need the resource its holder becomes before that resource exists.
    _NOT_THE_STATEMENT = frozenset({"resource/EntryProvenance", "document/Provenance",
                                    "document/SourceDocument"})

    def _record_made(self, template: str, variables: dict, ref: dict) -> None:
        src = variables.get("src")
        if not isinstance(src, dict) or template in self._NOT_THE_STATEMENT:
            return
        key = id(src)
        # the rendering the dispatcher asked for (it passes `element`) names the statement's
        # resource; other templates rendered over it (a Medication from a substanceAdministration)
        # only when nothing else did
        if "element" in variables or key not in self._made_from:
            self._made_from[key] = ref
        for fn in self._on_made.pop(key, ()):
            fn(self.resources[ref["reference"]])

    def resource_of(self, stmt) -> dict | None:
        """The Reference of the resource made from this statement (or the header), if any yet."""
        ref = self._made_from.get(id(stmt)) if isinstance(stmt, dict) else None
        return dict(ref) if ref else None

    def account_for(self, stmt: dict) -> None:
        """Record that a statement making no resource of its own is accounted for: folded into
        another resource (labels, a status), or reported with its own reason. The dispatcher
        then does not report it again as an entry nothing maps."""
        self._accounted.add(id(stmt))
        self._alive.append(stmt)

    def accounted(self, stmt: dict) -> bool:
        return id(stmt) in self._accounted

    def report_once(self, stmt: dict, reason: str, level: str = "unmapped", **where) -> None:
        """Say why a statement makes no resource, once however often its holder is rendered
        (a policy rendered for its List and by its route); it is then accounted for."""
        if self.accounted(stmt):
            return
        self.account_for(stmt)
        self.warn(reason, level=level, line=stmt.get("_line"), **where)

    def when_made(self, stmt: dict, fn) -> None:
        """Call ``fn(resource)`` with the resource made from ``stmt``: now if it exists, else as
        soon as it is made (a statement still rendering)."""
        ref = self.resource_of(stmt)
        if ref:
            fn(self.resources[ref["reference"]])
        else:
            self._on_made.setdefault(id(stmt), []).append(fn)
            self._alive.append(stmt)

    def _provenance(self, authors, ref: dict) -> None:
        """A Provenance for a statement's authors (IG: author -> Provenance), when they say when:
        Provenance.recorded is required."""
        from .filters.provenance import author_agents, authored_at
        when, agents = authored_at(authors), author_agents(authors)
        if when and agents:
            self.emit("resource/EntryProvenance", target=ref, recorded=when, agents=agents)

    def id_for(self, resource_type: str, key: str, resource: dict | None = None) -> str:
        """The id of a resource of this type and key: in the patient's namespace when it is the
        patient's own (a Patient-compartment type, or a resource whose patient is this Patient)."""
        if resource_type in PATIENT_COMPARTMENT or (
                resource is not None and any(resource.get(e) == self.patient for e in _PATIENT_ELEMENTS)):
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

    def warn(self, reason: str, level: str = "warning", **where) -> None:
        """Record an issue at the current location (overridable by ``where``)."""
        loc = {**self.where, **where}
        self.report.add(level, reason, **loc)


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
