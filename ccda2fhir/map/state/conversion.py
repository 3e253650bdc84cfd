"""The state of one conversion: resources made so far, where we are, what to report."""
from __future__ import annotations

import json
from contextvars import ContextVar
from importlib import resources

from ...report import Report
from ..engine import build
from ..engine.prune import one_per_choice
from .store import ResourceStore

_CURRENT: ContextVar["Conversion"] = ContextVar("ccda2fhir_conversion")


WRAPPED_TYPES = frozenset(json.loads(resources.files("ccda2fhir.data").joinpath("resources.json")
                                     .read_text())["wrapped"])


def _required() -> dict:
    data = json.loads(resources.files("ccda2fhir.data").joinpath("required.json").read_text())
    data.pop("_comment", None)
    return {rt: [tuple(keys) for keys in groups] for rt, groups in data.items()}


REQUIRED = _required()
# per type: (the first name of each required element, every key that holds it: a primitive
# given only as its extension, _date with data-absent-reason, is present)
_REQUIRED_KEYS = {rt: [(keys[0], keys + tuple(f"_{k}" for k in keys)) for keys in groups]
                  for rt, groups in REQUIRED.items()}
_NOT_YET = object()


def _identity(value):
    """What makes two template variables the same: the object for plain data, the value otherwise."""
    if isinstance(value, dict):
        ref = value.get("reference")
        return ("ref", ref) if isinstance(ref, str) and len(value) == 1 else ("obj", id(value))
    if isinstance(value, (list, tuple)):
        return ("list", tuple([_identity(v) for v in value]))
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


def emit(template: str, **variables) -> dict | None:
    """``current().emit(...)``: a resource of the running conversion made from a template."""
    return _CURRENT.get().emit(template, **variables)


def warn(reason: str, level: str = "partial") -> None:
    """Report an issue of the running conversion ('partial' mapping by default); nothing when no
    conversion runs (a filter called on its own)."""
    try:
        conv = _CURRENT.get()
    except LookupError:
        return
    conv.warn(reason, level=level)


class Conversion(ResourceStore):
    """Holds the walked document, the resources made from it and the report.

    It knows templates and resources, no clinical domain: what a document adds to every resource
    made (its authors' Provenance) and how a nested statement is mapped by its own route belong to
    the document layer (map.document.DocumentConversion overrides ``after_made`` and ``map_nested``).
    """

    # templates whose rendering over a statement does not make that statement's own resource
    NOT_THE_STATEMENT: frozenset = frozenset()

    def __init__(self, doc: dict, patient_id: str, options: dict | None = None) -> None:
        super().__init__(patient_id)
        self.doc = doc
        self.header = doc["header"]
        self.narrative = doc["narrative"]
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
            key, res = build(template, variables)
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
        missing = [first for first, keys in _REQUIRED_KEYS.get(res["resourceType"], ())
                   if res.keys().isdisjoint(keys)]
        if missing:
            # The safety net under every template: never emit a resource FHIR would reject.
            self.warn(f"{res['resourceType']} not made: the source gives nothing for its required "
                      f"{', '.join(missing)}", level="partial")
            return None
        one_per_choice(res)
        ref = self.add(res, key)
        self._record_made(template, variables, ref)
        self.after_made(template, variables, ref)
        return ref

    def after_made(self, template: str, variables: dict, ref: dict) -> None:
        """Called with each resource made, once added: nothing here (see the class)."""

    def map_nested(self, element: str, stmt: dict, parents: list) -> int:
        """Map a statement nested in the one rendering now by its own route; how many resources
        it made. Only the document layer knows routes to sections and entries."""
        raise NotImplementedError("nested statements are mapped by map.document.DocumentConversion")

    # Resources are made inside-out (a template maps what it nests while it renders), so a nested
    # statement may need the resource its holder becomes before that resource exists.
    def _record_made(self, template: str, variables: dict, ref: dict) -> None:
        src = variables.get("src")
        if not isinstance(src, dict) or template in self.NOT_THE_STATEMENT:
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

    def warn(self, reason: str, level: str = "warning", **where) -> None:
        """Record an issue at the current location (overridable by ``where``)."""
        loc = {**self.where, **where}
        self.report.add(level, reason, **loc)
