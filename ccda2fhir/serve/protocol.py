"""The HTTP/1.1 connection: uvicorn's httptools protocol with what a service facing slow or hostile
clients needs and uvicorn leaves out. ``ccda2fhir serve`` uses it; under plain uvicorn pass
``--http ccda2fhir.serve.protocol:Protocol``.

- Header timeout: a request whose headers are not complete ``header_timeout`` seconds after its
  first byte (or after the connection opened) is answered 408 and its connection closed; a
  connection that sent nothing is closed.
- Header size: a request line and headers over ``max_header_bytes`` are answered 431.
- A request that is not valid HTTP/1.1 (two Content-Length headers, Content-Length beside chunked,
  a malformed chunk) is answered 400 with an OperationOutcome naming the fault.
- An answer given before the body was read to its end (a 413, 415, 401...) leaves the rest of the
  body to be read and thrown away, for up to ``body_timeout`` seconds: a client that sends its whole
  body before reading gets the answer, where closing at once would reset its connection.
- A request on a connection past ``max_connections`` is answered 503.
"""
from __future__ import annotations

import asyncio

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ..limits import SERVICE, ServiceLimits
from .logs import ACCESS
from .problems import FHIR_JSON, outcome

_TOO_MANY = outcome("the server has too many open connections; try again shortly", "transient")


async def _over_capacity(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", FHIR_JSON.encode()), (b"content-length", str(len(_TOO_MANY)).encode()),
        (b"retry-after", b"1"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": _TOO_MANY})


class _HeadersTooLarge(Exception):
    """Raised from the parser's callback to stop parsing a request whose headers are over the limit."""


class Protocol(HttpToolsProtocol):
    """One connection; ``limits`` (a ServiceLimits) bound it (``configured()`` makes a class with others)."""

    limits: ServiceLimits = SERVICE

    @classmethod
    def configured(cls, limits: ServiceLimits) -> type["Protocol"]:
        """This protocol bound by ``limits``."""
        return type(cls.__name__, (cls,), {"limits": limits})

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._drain_timer: asyncio.TimerHandle | None = None
        self._reading_headers = True    # the next bytes are a request line or headers
        self._begun = False             # a request's first byte has arrived, its headers have not ended
        self._header_bytes = 0
        self._body_done = True          # the current request's body has been read to its end
        self._too_large = False         # the headers of the request being parsed are over the limit

    # -- connection ---------------------------------------------------------------------------------
    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._header_timer, self._drain_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._drain_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading_headers:
            self._header_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadersTooLarge) or self._too_large:
                self._refuse_headers()
            else:
                self._refuse(400, "structure", f"not a valid HTTP/1.1 request: {exc}")
            return
        except httptools.HttpParserError as exc:
            self._refuse(400, "structure", f"not a valid HTTP/1.1 request: {exc}")
            return
        except httptools.HttpParserUpgrade:   # the request is answered as plain HTTP; no upgrade is served
            return
        if self._reading_headers and self._header_bytes > self.limits.max_header_bytes:
            self._refuse_headers()   # headers still coming, already past the limit

    # -- parser callbacks -----------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_header_bytes:
            self._too_large = True
            raise _HeadersTooLarge()
        self._reading_headers = self._begun = False
        self._header_bytes = 0
        self._body_done = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        if len(self.connections) > self.limits.max_connections:
            ACCESS.warning("connection limit", extra={"fields": {"status": 503, "connections": len(self.connections)}})
            saved, self.app = self.app, _over_capacity
            try:
                super().on_headers_complete()
            finally:
                self.app = saved
        else:
            super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._body_done = self._reading_headers = True
        self._header_bytes = 0
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self._body_done and not self.transport.is_closing() and self._drain_timer is None:
            # Answered before the body ended: what still comes is read and dropped (uvicorn does), for a while.
            self._drain_timer = self.loop.call_later(self.limits.body_timeout, self._close)

    # -- timers and refusals ----------------------------------------------------------------------------
    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.limits.header_timeout, self._header_timeout)

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self._reading_headers or self.transport.is_closing():
            return
        if self._begun:
            self._refuse(408, "timeout", f"the request headers did not arrive within {self.limits.header_timeout:g} s")
        else:
            self._close()

    def _refuse_headers(self) -> None:
        self._refuse(431, "too-long", f"the request line and headers are over {self.limits.max_header_bytes} bytes")

    def _close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer ``status`` with an OperationOutcome and close, unless an answer is being written."""
        if self.transport.is_closing():
            return
        client = self.client[0] if self.client else None
        ACCESS.info("refused", extra={"fields": {"status": status, "error": code, "client": client}})
        if self.cycle is not None and self.cycle.response_started and not self.cycle.response_complete:
            self.transport.close()
            return
        body = outcome(message, code)
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-type: ", FHIR_JSON.encode(), b"\r\ncontent-length: ", str(len(body)).encode(),
                 b"\r\nconnection: close\r\n\r\n", body]
        self.transport.write(b"".join(head))
        self.transport.close()
