"""Every limit, with its default, in one place: those on one document, and the service's.

``convert()``, the CLI (its ``--max-bytes``, ``--max-depth``, ... flags and their help) and the
service all read ``LIMITS``; the service (``ccda2fhir serve``) also reads ``SERVICE``. Tests check
that README lists each one with this default, so code, ``--help`` and README cannot disagree.
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


@dataclass(frozen=True)
class ServiceLimits:
    """The bounds of the HTTP service beyond one document's (each is a ``ccda2fhir serve`` flag)."""

    header_timeout: float = field(default=10.0, metadata={
        "help": "seconds from a request's first byte (or a new connection) to the end of its headers; "
                "a slower client is dropped"})
    body_timeout: float = field(default=60.0, metadata={
        "help": "seconds for a request's whole body to arrive once its headers are in (a slower client is "
                "answered 408); also how long the rest of a body is read and dropped after an early answer"})
    keep_alive: float = field(default=5.0, metadata={
        "help": "seconds an idle keep-alive connection stays open"})
    max_header_bytes: int = field(default=65536, metadata={
        "help": "largest request line and headers, in bytes (431 past it)"})
    queue_per_worker: int = field(default=64, metadata={
        "help": "conversions waiting or running per worker; a request past them is answered 503 with "
                "Retry-After"})
    max_connections: int = field(default=1000, metadata={
        "help": "open connections; a request on one past them is answered 503"})
    backlog: int = field(default=2048, metadata={
        "help": "connections the kernel queues before the server accepts them"})
    shutdown_timeout: float = field(default=30.0, metadata={
        "help": "seconds in-flight requests get to finish after SIGTERM"})


SERVICE = ServiceLimits()


def described(limits: Limits | ServiceLimits = LIMITS) -> list[tuple[str, object, str]]:
    """(name, default, what it bounds) for every limit of ``limits`` (LIMITS or SERVICE), in
    declaration order."""
    return [(f.name, getattr(limits, f.name), f.metadata["help"]) for f in fields(limits)]
