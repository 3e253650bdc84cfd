"""Logs as JSON lines on stderr: one line per request (the access log), and the server's own lines.

The request line holds the request id (the client's ``X-Request-ID`` when it is a plain token,
else one made here, echoed in the answer), method, path (never the query), status, duration,
bytes in and out, and for conversions the patientId, the document id, resources out, unmapped
count and error class. No clinical content: neither the document, nor the Bundle, nor error
messages that could quote them. A request whose client left before its answer is logged 499.
"""
from __future__ import annotations

import logging
import re
import time
import uuid
from datetime import datetime, timezone

import orjson

from .problems import problem_response, unexpected

ACCESS = logging.getLogger("ccda2fhir.access")
log = logging.getLogger("ccda2fhir.serve")
FIELDS = "ccda2fhir.log"          # the scope key where handlers add their fields to the request line
CLIENT_CLOSED = 499               # nginx's status for a request whose client went away
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time, level, logger, message, the record's ``fields``, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def log_config(level: str = "info") -> dict:
    """A logging.config dict (uvicorn's ``log_config``): every line JSON on stderr, uvicorn's own
    access log off (this one replaces it)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "ccda2fhir": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
        },
    }


def request_id(scope: dict) -> str:
    """The client's X-Request-ID when it is a plain token of up to 128 characters, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1").strip()
            if _REQUEST_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


class RequestLog:
    """ASGI middleware: the request id, the access line, and the traceback of any failure."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = request_id(scope)
        fields = scope[FIELDS] = {"request_id": rid, "method": scope["method"], "path": scope["path"]}
        sent = {"status": None, "bytes_out": 0}

        async def send_logged(message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), (b"x-request-id", rid.encode())]}
            elif message["type"] == "http.response.body":
                sent["bytes_out"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        except Exception:   # Starlette has answered it (an OperationOutcome naming the request id)
            fields.setdefault("error", "unexpected")
            log.exception("unexpected failure", extra={"fields": {"request_id": rid}})
            if sent["status"] is None:   # an app that did not: never the server's bare 500
                await problem_response(unexpected(), rid)(scope, receive, send_logged)
        finally:
            fields.update(status=sent["status"] or CLIENT_CLOSED, bytes_out=sent["bytes_out"],
                          duration_ms=round((time.perf_counter() - start) * 1000, 1))
            ACCESS.info("request", extra={"fields": fields})
