"""The optional bearer-token check, for deployments with no gateway in front.

Off unless tokens are given (ccda2fhir.serve.settings reads them): ``--token-file FILE`` (one token a line; blank lines and lines
starting with '#' are skipped, so a new token can be added before the old one is removed) or
the ``CCDA2FHIR_TOKEN`` environment variable. Only the convert route is guarded: health checks,
the OpenAPI document and the docs stay open.
"""
from __future__ import annotations

import hmac

from .problems import Problem

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ccda2fhir"'}


def check(authorization: str | None, tokens: tuple[str, ...]) -> None:
    """Nothing when ``tokens`` is empty or ``authorization`` is 'Bearer <one of them>'; else 401."""
    if not tokens:
        return
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Problem(401, "login", "a bearer token is required (Authorization: Bearer <token>)", headers=_CHALLENGE)
    given_bytes = given.strip().encode("latin-1")   # the header's own bytes (read as latin-1)
    # Every token compared, each in constant time: the answer's timing tells nothing of which matched.
    if not sum(hmac.compare_digest(given_bytes, t.encode("utf-8")) for t in tokens):
        raise Problem(401, "login", "the bearer token is not valid",
                      headers={"WWW-Authenticate": 'Bearer realm="ccda2fhir", error="invalid_token"'})
