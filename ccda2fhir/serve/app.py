"""The ASGI application: ``create_app(settings)``, and ``app``, configured from CCDA2FHIR_* variables,
for any ASGI server (``uvicorn ccda2fhir.serve.app:app``; ``ccda2fhir serve`` runs it hardened).

Starlette rather than FastAPI: the service is one conversion route and three small ones, its
body is XML streamed by hand under size, gzip and time limits, and its OpenAPI document is the
contract, written out with an example OperationOutcome for every error; FastAPI's request models
and generated schema would describe none of that better, and would add pydantic.
"""
from __future__ import annotations

import contextlib
from typing import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException

from .logs import FIELDS, RequestLog
from .problems import Problem, problem_response, unexpected
from .routes import CONVERT_PATH, routes
from .settings import Settings
from .state import Service

_HTTP_CODES = {404: "not-found", 405: "not-supported"}


def _request_id(request) -> str | None:
    return request.scope.get(FIELDS, {}).get("request_id")


async def _on_problem(request, exc: Problem):
    return problem_response(exc, _request_id(request))


async def _on_http(request, exc: HTTPException):
    """The router's 404 and 405 (with its Allow header), as OperationOutcomes."""
    path = request.url.path[:200]
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        message = f"no such endpoint {path}; convert with POST {CONVERT_PATH}?patientId=ID"
    elif exc.status_code == 405:
        # Starlette lists them from a set: in a stable order, the same as OPTIONS answers
        headers["Allow"] = ", ".join(sorted(m.strip() for m in headers.get("Allow", "").split(",") if m.strip()))
        message = f"{request.method} is not allowed on {path}; allowed: {headers['Allow']}"
    else:
        message = str(exc.detail)
    return problem_response(Problem(exc.status_code, _HTTP_CODES.get(exc.status_code, "processing"), message,
                                    headers=headers), _request_id(request))


async def _on_unexpected(request, exc: Exception):
    """Never a bare 500: an OperationOutcome with the request id (RequestLog logs the traceback)."""
    return problem_response(unexpected(), _request_id(request))


def create_app(settings: Settings | None = None, *, initializer: Callable[[], None] | None = None):
    """The service as an ASGI app. ``initializer`` runs once in each conversion worker (as
    ConversionPool's). The worker pool starts and stops with the ASGI lifespan."""
    service = Service(settings or Settings.from_env(), initializer)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    inner = Starlette(routes=routes(service), lifespan=lifespan, exception_handlers={
        Problem: _on_problem, HTTPException: _on_http, Exception: _on_unexpected})
    inner.router.redirect_slashes = False   # '/convert/.../fhir/' is a 404 OperationOutcome, not a bodiless 307
    outer = RequestLog(inner)
    outer.service = service   # for the runner and tests: the pool, the settings
    return outer


def __getattr__(name: str):
    # ``app`` is made on first use, so that importing create_app does not read the environment.
    if name == "app":
        globals()["app"] = made = create_app()
        return made
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
