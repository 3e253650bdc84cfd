"""The HTTP shim: POST /convert/v1/ccda/to/fhir?patientId=ID with the XML as body -> the Bundle.

Thin on purpose: it reads the body, calls ccda2fhir.convert_with_report, and
answers the Bundle (application/fhir+json), or an OperationOutcome saying what
is wrong and where (400 for bad input or a patientId that is not a FHIR id, 413 for
too large, 404/405 otherwise).
"""
from __future__ import annotations

import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import orjson

from ..convert import convert_with_report
from ..errors import ConversionError, InputTooLargeError, InvalidPatientIdError
from ..parse import DEFAULT_MAX_BYTES
from ..patient_ids import check_patient_id

PATH = "/convert/v1/ccda/to/fhir"
log = logging.getLogger("ccda2fhir.http")


def outcome(message: str, code: str = "invalid") -> bytes:
    """A FHIR OperationOutcome with one error issue."""
    return orjson.dumps({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": code, "diagnostics": message}]})


class ConvertHandler(BaseHTTPRequestHandler):
    """Answers the convert endpoint and GET /health."""

    server_version = "ccda2fhir"
    max_bytes = DEFAULT_MAX_BYTES

    def _send(self, status: int, body: bytes, content_type: str = "application/fhir+json",
              headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        if urlsplit(self.path).path == "/health":
            self._send(200, b'{"status":"ok"}', "application/json")
        else:
            self._send(404, outcome(f"no such resource {urlsplit(self.path).path}", "not-found"))

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        if url.path != PATH:
            self._send(404, outcome(f"no such endpoint {url.path}; POST to {PATH}", "not-found"))
            return
        patient_id = (parse_qs(url.query).get("patientId") or [""])[0]
        if not patient_id:
            self._send(400, outcome("the patientId query parameter is required", "required"))
            return
        try:
            check_patient_id(patient_id)
        except InvalidPatientIdError as exc:
            self._send(400, outcome(str(exc), "value"))
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._send(400, outcome("a valid Content-Length is required", "structure"))
            return
        if length > self.max_bytes:
            self._send(413, outcome(f"body is {length} bytes, over the limit of {self.max_bytes}", "too-long"))
            return
        body = self.rfile.read(length)
        try:
            bundle, report = convert_with_report(body, patient_id, max_bytes=self.max_bytes)
        except InputTooLargeError as exc:
            self._send(413, outcome(str(exc), "too-long"))
            return
        except (ConversionError, ValueError) as exc:
            self._send(400, outcome(str(exc)))
            return
        self._send(200, orjson.dumps(bundle), headers={
            "X-Ccda2fhir-Unmapped": str(len(report.unmapped())),
            "X-Ccda2fhir-Summary": report.summary()})

    def log_message(self, fmt: str, *args) -> None:
        log.info("%s " + fmt, self.address_string(), *args)


def make_server(host: str = "127.0.0.1", port: int = 8080, max_bytes: int = DEFAULT_MAX_BYTES) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) for the convert endpoint."""
    handler = type("Handler", (ConvertHandler,), {"max_bytes": max_bytes})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve(host: str = "127.0.0.1", port: int = 8080, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Serve until interrupted."""
    server = make_server(host, port, max_bytes)
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # pragma: no cover - interactive stop
        pass
    finally:
        server.server_close()


__all__ = ["make_server", "serve", "PATH", "HTTPStatus"]
