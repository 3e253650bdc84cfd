"""Cleaning a rendered resource: no empty values, one value per choice element."""
from __future__ import annotations

import re

_EXTENSIONS = frozenset({"extension", "modifierExtension"})
# A FHIR choice element is <name><Type>; when a template fills two types of one
# choice (say onsetDateTime and onsetAge) the first filled one wins.
_CHOICE = re.compile(
    r"^([a-z][A-Za-z]*?)(Boolean|Integer|Decimal|String|DateTime|Date|Time|Instant|Uri|Url|Canonical|"
    r"Code|Id|Markdown|Base64Binary|PositiveInt|UnsignedInt|Oid|Uuid|Age|Quantity|Period|Range|Ratio|"
    r"SampledData|Attachment|CodeableConcept|Coding|Reference|Identifier|Duration|Timing|Annotation|"
    r"HumanName|Address|ContactPoint|Money|Signature|Dosage|Expression)$")
# Elements whose names look like choices but are not.
_NOT_CHOICE = frozenset({"birthDate", "recordedDate", "assertedDate", "issuedDate", "authoredOn",
                         "lastOccurrence", "onsetString"})


def prune(value):
    """Drop nulls, blank strings, empty lists and objects, at every depth."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = prune(v)
            if v is not None:
                if k in _EXTENSIONS:
                    # an extension left with only its url says nothing: FHIR forbids it
                    v = [x for x in v if not (isinstance(x, dict) and x.keys() <= {"url"})] or None
                    if v is None:
                        continue
                out[k] = v
        return out or None
    if isinstance(value, list):
        out = [x for x in (prune(v) for v in value) if x is not None]
        return out or None
    if isinstance(value, str):
        return value if value.strip() else None
    return value


def one_per_choice(resource: dict) -> dict:
    """Keep the first filled type of each top-level choice element."""
    seen = set()
    for key in list(resource):
        if key in _NOT_CHOICE:
            continue
        m = _CHOICE.match(key)
        if m:
            base = m.group(1)
            if base in seen:
                del resource[key]
            else:
                seen.add(base)
    return resource
