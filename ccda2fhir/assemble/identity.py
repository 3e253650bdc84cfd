"""Who a shared resource is: the content that tells one practitioner, organization or drug from another.

Vendors reuse identifiers (an NPI of all zeros, one dummy id on every clinician, a sample id copied
into production), so an identifier alone cannot say that two mentions are the same thing. For the
types listed in data/resources.json ("identity"), each mention's identity-defining elements are
reduced to sets of tokens: name words for names and strings, system|code for codings, the target
for references. Two mentions agree when, element by element, one's tokens contain the other's (or
either says nothing): "John Smith" and "John A Smith" agree, "Albert Davis" and "Tracy Davis" do not.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

_WORD = re.compile(r"[^\W_]+")

Identity = tuple[frozenset, ...]     # one token set per identity element, in the data file's order


def _load() -> tuple[dict[str, tuple[str, ...]], frozenset]:
    data = json.loads(resources.files("ccda2fhir.data").joinpath("resources.json").read_text())["identity"]
    return ({rt: tuple(rule["elements"]) for rt, rule in data.items()},
            frozenset(rt for rt, rule in data.items() if rule["report"]))


IDENTITY_ELEMENTS, REPORTED = _load()


def _words(text) -> set[str]:
    return set(_WORD.findall(text.lower())) if isinstance(text, str) else set()


def _tokens(value) -> set[str]:
    """The tokens of one element's value, whatever its FHIR type."""
    if isinstance(value, str):
        return _words(value)
    if isinstance(value, list):
        return set().union(*(_tokens(v) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if isinstance(value.get("reference"), str):                       # Reference
        return {value["reference"]}
    if "coding" in value or ("text" in value and "family" not in value and "given" not in value):
        codes = {f"{c.get('system', '')}|{c['code']}" for c in value.get("coding", ())
                 if isinstance(c, dict) and c.get("code")}
        return codes or _words(value.get("text"))                     # CodeableConcept
    if "family" in value or "given" in value or "text" in value:      # HumanName: no prefix/suffix
        words = _words(value.get("family"))
        for g in value.get("given", ()):
            words |= _words(g)
        return words or _words(value.get("text"))
    if isinstance(value.get("deviceIdentifier"), str):                # Device.udiCarrier
        return {value["deviceIdentifier"]}
    return set()


def identity(resource: dict) -> Identity | None:
    """The resource's identity tokens, or None for a type without identity rules."""
    elements = IDENTITY_ELEMENTS.get(resource.get("resourceType"))
    if elements is None:
        return None
    return tuple([frozenset(_tokens(resource.get(e))) for e in elements])


def says_nothing(ident: Identity) -> bool:
    """A mention known only by its identifier (no name, no code)."""
    return not any(ident)


def _letters(words: frozenset) -> list[str]:
    return sorted("".join(words))


def agree(a: Identity, b: Identity) -> bool:
    """Whether two mentions can be the same thing: no element where both speak and differ (the
    same words spaced otherwise, "DoctorsTogether" and "Doctors Together", do not differ)."""
    return all(not x or not y or x <= y or y <= x or _letters(x) == _letters(y) for x, y in zip(a, b))


def joined(a: Identity, b: Identity) -> Identity:
    """What two agreeing mentions say together."""
    return tuple(x | y for x, y in zip(a, b))


def key_part(ident: Identity) -> str:
    """The identity as part of an id key (sorted tokens per element), stable across documents."""
    return ";".join(" ".join(sorted(x)) for x in ident)


def describe(resource: dict) -> str:
    """How a mention reads in a report line: its first identity element as a person reads it."""
    elements = IDENTITY_ELEMENTS.get(resource.get("resourceType"), ())
    value = next((resource[e] for e in elements if resource.get(e)), None)
    value = value[0] if isinstance(value, list) and value else value
    if isinstance(value, dict):
        coding = next((c for c in value.get("coding", ()) if isinstance(c, dict)), {})
        given = " ".join(g for g in value.get("given", ()) if isinstance(g, str))
        value = (value.get("text") or " ".join(x for x in (given, value.get("family")) if x)
                 or coding.get("display") or coding.get("code") or value.get("reference"))
    return " ".join(str(value).split())[:60] if value else "no name"


@lru_cache(maxsize=None)
def item_matcher(resource_type: str):
    """For merging two mentions of one thing: ``same(key, a, b)`` says whether ``b``, an item of
    one of this type's identity elements (a HumanName), says nothing ``a`` does not, so that it is
    folded into ``a`` rather than the same name appended twice."""
    elements = frozenset(IDENTITY_ELEMENTS.get(resource_type, ()))

    def same(key: str, a, b) -> bool:
        if key not in elements:
            return False
        tb = _tokens(b)
        return bool(tb) and tb <= _tokens(a)
    return same
