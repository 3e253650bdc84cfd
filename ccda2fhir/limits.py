"""Every limit on one document, with its default, in one place.

``convert()``, the CLI (its ``--max-bytes``, ``--max-depth``, ... flags and their help) and the
service all read ``LIMITS``, and a test checks that README's security section lists each one
with this default, so code, ``--help`` and README cannot disagree.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The bounds one conversion runs within (each is a keyword of ``convert()``)."""

    max_bytes: int = field(default=50 * MB, metadata={
        "help": "largest input accepted, in bytes"})
    max_depth: int = field(default=200, metadata={
        "help": "deepest element nesting accepted, in levels (XML nested deeper than 256 is always refused)"})
    max_attributes: int = field(default=256, metadata={
        "help": "most attributes on one element"})
    max_text: int = field(default=50 * MB, metadata={
        "help": "longest text node or attribute value, in characters (an embedded PDF's base64)"})
    timeout: float = field(default=300.0, metadata={
        "help": "seconds one document may take before its worker is stopped (the library's convert() "
                "has no limit unless given timeout=)"})


LIMITS = Limits()


def described() -> list[tuple[str, object, str]]:
    """(name, default, what it bounds) for every limit, in declaration order."""
    return [(f.name, getattr(LIMITS, f.name), f.metadata["help"]) for f in fields(Limits)]
