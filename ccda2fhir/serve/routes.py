"""The routes: POST /convert/v1/ccda/to/fhir, GET /health, /ready, /openapi.json, /docs.

The convert route only checks, reads and hands over: the document is converted in a worker
process (ccda2fhir.pool) while the event loop keeps serving, and a client that leaves before
its answer has its conversion cancelled.
"""
from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import orjson
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import ConversionError, InvalidPatientIdError
from ..patient_ids import RULE, check_patient_id
from ..pool import ConversionPool, Result
from . import auth, openapi
from .encoding import accepts_gzip, compress
from .logs import FIELDS
from .problems import FHIR_JSON, Problem, problem_for, problem_response
from .reading import ClientGone, check_framing, header_values, read_body
from .state import Service

CONVERT_PATH = "/convert/v1/ccda/to/fhir"
CONVERT_METHODS = ("POST", "OPTIONS")


def _query(scope: dict) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


def _single(query: dict, name: str) -> str | None:
    values = query.get(name)
    if values is not None and len(values) > 1:
        raise Problem(400, "value", f"the {name} query parameter is given {len(values)} times")
    return values[0] if values else None


def _patient_id(query: dict) -> str:
    patient_id = _single(query, "patientId")
    if not patient_id:
        raise Problem(400, "required", f"the patientId query parameter is required: a FHIR id, {RULE}")
    try:
        return check_patient_id(patient_id)
    except InvalidPatientIdError as exc:
        raise Problem(400, "value", str(exc)) from None


def _want_report(query: dict) -> bool:
    value = _single(query, "report")
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise Problem(400, "value", f"the report query parameter is {value[:40]!r}; it is true or false")


async def _until_disconnected(receive) -> None:
    """Returns when the client disconnects (the body has been read: nothing else can arrive)."""
    if (await receive())["type"] != "http.disconnect":
        await asyncio.Event().wait()   # a server that says something else: nothing more to watch


async def _converted(pool: ConversionPool, future, receive) -> Result:
    """The conversion's Result, or ClientGone (and the conversion cancelled) if the client leaves first."""
    conversion = asyncio.wrap_future(future)
    gone = asyncio.ensure_future(_until_disconnected(receive))
    try:
        await asyncio.wait((conversion, gone), return_when=asyncio.FIRST_COMPLETED)
        if not conversion.done():
            raise ClientGone()
        return conversion.result()
    finally:
        gone.cancel()
        if not conversion.done():   # the client left, or the server stopped waiting (shutdown)
            pool.cancel(future)
            conversion.cancel()


class Convert:
    """The convert endpoint, as an ASGI app: it answers itself (or not at all, when the client left)."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def __call__(self, scope, receive, send) -> None:
        fields = scope.setdefault(FIELDS, {})
        try:
            response = await self._answer(scope, receive, fields)
        except Problem as problem:
            fields["error"] = problem.code
            response = problem_response(problem, fields.get("request_id"))
        except ClientGone:
            fields["error"] = "client-gone"
            return
        await response(scope, receive, send)

    async def _answer(self, scope, receive, fields: dict) -> Response:
        if scope["method"] == "OPTIONS":
            return Response(status_code=204, headers={"Allow": ", ".join(sorted(CONVERT_METHODS))})
        settings = self.service.settings
        auth.check(next(iter(header_values(scope, b"authorization")), None), settings.tokens)
        query = _query(scope)
        patient_id = fields["patient_id"] = _patient_id(query)
        want_report = _want_report(query)
        framing = check_framing(scope, settings.limits.max_bytes)
        self.service.check_room()
        body = await read_body(receive, framing, settings.limits.max_bytes, settings.service.body_timeout)
        fields["bytes_in"] = len(body)
        with self.service.admit() as pool:
            try:
                result = await _converted(pool, pool.submit(body, patient_id, report=want_report), receive)
            except ConversionError as exc:
                fields["error_class"] = type(exc).__name__
                raise problem_for(exc) from None
        fields.update(document_id=result.document_id, resources=result.resources, unmapped=result.unmapped)
        if want_report:
            content, media_type = b'{"bundle":' + result.bundle_json + b',"report":' + orjson.dumps(result.report) \
                + b"}", "application/json"
        else:
            content, media_type = result.bundle_json, FHIR_JSON
        headers = {"X-Ccda2fhir-Resources": str(result.resources), "X-Ccda2fhir-Unmapped": str(result.unmapped),
                   "X-Ccda2fhir-Summary": result.summary, "Vary": "Accept-Encoding"}
        if accepts_gzip(next(iter(header_values(scope, b"accept-encoding")), None)):
            compressed = await compress(content)
            if compressed is not None:
                content, headers["Content-Encoding"] = compressed, "gzip"
        return Response(content, status_code=200, headers=headers, media_type=media_type)


def _json(data: dict, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def routes(service: Service) -> list:
    """Every route of the service."""

    async def health(request) -> Response:
        return _json({"status": "ok"})

    async def ready(request) -> Response:
        ok, state = service.readiness()
        return _json(state, 200 if ok else 503)

    async def openapi_json(request) -> Response:
        return Response(openapi.document(), media_type="application/json")

    async def docs(request) -> Response:
        return Response(openapi.page("docs.html"), media_type="text/html")

    async def docs_js(request) -> Response:
        return Response(openapi.page("docs.js"), media_type="text/javascript")

    found = [Route(CONVERT_PATH, Convert(service), methods=list(CONVERT_METHODS)),
             Route("/health", health, methods=["GET"]),
             Route("/ready", ready, methods=["GET"]),
             Route("/openapi.json", openapi_json, methods=["GET"]),
             Route("/docs", docs, methods=["GET"]),
             Route("/docs/init.js", docs_js, methods=["GET"])]
    assets = openapi.swagger_ui_assets()
    if assets is not None:
        found.append(Mount("/docs/assets", StaticFiles(directory=assets)))
    return found
