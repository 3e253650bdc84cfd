"""Every answer that is not a Bundle: a FHIR OperationOutcome with its HTTP status.

A ``Problem`` is raised anywhere in the service and answered by ``problem_response``; a library
``ConversionError`` becomes one through ``problem_for`` (its class decides the status). The
line and column of an XML error travel in the FHIR validator's issue-line / issue-col extensions
as well as in the message.
"""
from __future__ import annotations

import orjson
from starlette.responses import Response

from ..errors import (ConversionCancelled, ConversionError, ConversionTimeout, InputTooLargeError,
                      InvalidPatientIdError, InvalidXMLError, MappingError, NotCCDAError, WorkerCrashed, one_line)

FHIR_JSON = "application/fhir+json"
_LINE = "http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-line"
_COLUMN = "http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-col"


class Problem(Exception):
    """An answer other than 200: status, FHIR issue code, one-line message, extra headers."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                 line: int | None = None, column: int | None = None, close: bool = False) -> None:
        super().__init__(one_line(message))
        self.status, self.code, self.headers = status, code, dict(headers or {})
        self.line, self.column = line, column
        if close:   # the connection cannot carry another request (the body was not read to its end)
            self.headers["Connection"] = "close"

    @property
    def message(self) -> str:
        return self.args[0]


# The library's errors, most specific first: (class, HTTP status, OperationOutcome issue code).
_BY_CLASS: tuple[tuple[type[ConversionError], int, str], ...] = (
    (InvalidPatientIdError, 400, "value"),
    (InvalidXMLError, 400, "structure"),
    (NotCCDAError, 422, "invalid"),
    (InputTooLargeError, 413, "too-long"),
    (ConversionTimeout, 504, "timeout"),
    (ConversionCancelled, 503, "transient"),
    (WorkerCrashed, 500, "exception"),
    (MappingError, 500, "exception"),
)


def problem_for(exc: ConversionError) -> Problem:
    """The answer to a conversion that raised ``exc``."""
    for cls, status, code in _BY_CLASS:
        if isinstance(exc, cls):
            return Problem(status, code, str(exc), line=exc.line, column=exc.column)
    return Problem(500, "exception", str(exc), line=exc.line, column=exc.column)


def unexpected() -> Problem:
    """The answer to a failure of the service itself (its traceback goes to the log, not to the client)."""
    return Problem(500, "exception", "the server failed unexpectedly; its operators can find what happened in "
                   "its log")


def outcome(message: str, code: str, *, line: int | None = None, column: int | None = None,
            severity: str = "error") -> bytes:
    """A FHIR OperationOutcome with one issue, as JSON bytes."""
    issue: dict = {"severity": severity, "code": code, "diagnostics": message}
    extensions = [{"url": url, "valueInteger": value} for url, value in ((_LINE, line), (_COLUMN, column))
                  if value]
    if extensions:
        issue = {"extension": extensions, **issue}
    return orjson.dumps({"resourceType": "OperationOutcome", "issue": [issue]})


def problem_response(problem: Problem, request_id: str | None = None) -> Response:
    """The HTTP answer to ``problem``; a server-side failure names the request id to quote."""
    message = problem.message
    if problem.status >= 500 and request_id and problem.code == "exception":
        message = f"{message} (request id {request_id})"
    return Response(outcome(message, problem.code, line=problem.line, column=problem.column),
                    status_code=problem.status, headers=problem.headers, media_type=FHIR_JSON)
