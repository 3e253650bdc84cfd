"""Reading a request body: its framing, type and encoding checked before a byte of it is read, then
the body streamed under the size limit (as sent and inflated) and within the body timeout.

A body past the limit is answered 413 as soon as its declared length or the bytes read pass it;
what the client still sends is read and thrown away by the protocol (ccda2fhir.serve.protocol),
so a client that sends it all still receives its 413.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .encoding import GZIP_CODINGS, InflateError, Inflater, TooLarge
from .problems import Problem

XML_TYPES = ("application/xml", "text/xml", "application/hl7-cda+xml", "application/octet-stream")
_CURL_HINT = "curl: -H 'Content-Type: application/xml' --data-binary @doc.xml"


class ClientGone(Exception):
    """The client closed its connection before the request was answered."""


@dataclass(frozen=True)
class Framing:
    """What the headers say of the body to come."""

    length: int | None      # Content-Length, None when chunked
    gzip: bool


def header_values(scope: dict, name: bytes) -> list[str]:
    """Every value of one request header (latin-1, as HTTP defines header bytes)."""
    return [v.decode("latin-1") for k, v in scope["headers"] if k == name]


def _one(scope: dict, name: bytes) -> str | None:
    values = header_values(scope, name)
    if len(values) > 1:
        raise Problem(400, "structure", f"the {name.decode()} header is given {len(values)} times", close=True)
    return values[0].strip() if values else None


def check_framing(scope: dict, max_bytes: int) -> Framing:
    """The body's framing, or the Problem that answers it before it is read: 415 (not XML, an
    encoding other than gzip), 501 (a transfer coding other than chunked), 411 (no length), 413."""
    content_type = _one(scope, b"content-type")
    if content_type is not None:
        media = content_type.partition(";")[0].strip().lower()
        if media not in XML_TYPES and not (media.endswith("+xml") and "/" in media):
            raise Problem(415, "not-supported", f"Content-Type {content_type[:100]!r} is not XML; send the C-CDA "
                          f"as {', '.join(XML_TYPES)} ({_CURL_HINT})", headers={"Accept": ", ".join(XML_TYPES)})
    encoding = (_one(scope, b"content-encoding") or "identity").lower()
    if encoding not in ("identity", *GZIP_CODINGS):
        raise Problem(415, "not-supported", f"Content-Encoding {encoding[:100]!r} is not supported; send gzip "
                      f"or no encoding", headers={"Accept-Encoding": "gzip, identity"})
    transfer = header_values(scope, b"transfer-encoding")
    chunked = [t.strip().lower() for t in ",".join(transfer).split(",") if t.strip()] == ["chunked"]
    if transfer and not chunked:
        raise Problem(501, "not-supported", f"Transfer-Encoding {', '.join(transfer)[:100]!r} is not supported; "
                      f"send the body with Content-Length or chunked", close=True)
    length_header = _one(scope, b"content-length")
    length = None
    if length_header is not None:
        if not length_header.isdigit():   # the HTTP parser refuses these first; any ASGI server may not
            raise Problem(400, "structure", f"Content-Length {length_header[:40]!r} is not a number", close=True)
        length = int(length_header)
    elif not chunked:
        raise Problem(411, "structure", "a request body is required, with Content-Length or chunked "
                      "Transfer-Encoding")
    if length is not None and length > max_bytes:
        raise Problem(413, "too-long", f"the body is {length} bytes, over the limit of {max_bytes}")
    return Framing(length, encoding in GZIP_CODINGS)


async def read_body(receive, framing: Framing, max_bytes: int, timeout: float) -> bytearray:
    """The whole body (inflated when gzip), read as it arrives; Problem 413 the moment it passes
    ``max_bytes`` (as sent or inflated), 408 when it takes over ``timeout`` seconds, 400 for a
    corrupt gzip stream; ClientGone when the client disconnects."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    inflater = Inflater(max_bytes) if framing.gzip else None
    body = bytearray()
    received = 0
    while True:
        try:
            message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
        except asyncio.TimeoutError:   # TimeoutError itself from 3.11 on
            raise Problem(408, "timeout", f"the request body did not arrive within {timeout:g} s "
                          f"({received} bytes received)", close=True) from None
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        received += len(chunk)
        if received > max_bytes:
            raise Problem(413, "too-long", f"the body is over {max_bytes} bytes, the limit")
        if inflater is None:
            body += chunk
        else:
            try:
                body += inflater.feed(chunk)
            except TooLarge as exc:
                raise Problem(413, "too-long", str(exc)) from None
            except InflateError as exc:
                raise Problem(400, "structure", str(exc)) from None
        if not message.get("more_body", False):
            break
    if inflater is not None:
        try:
            inflater.finish()
        except InflateError as exc:
            raise Problem(400, "structure", str(exc)) from None
    return body
