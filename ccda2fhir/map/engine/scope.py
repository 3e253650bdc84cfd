"""Which overlay the running conversion uses (None: the built-in templates, routes and data).

A context variable, so that two conversions in one process (threads, asyncio tasks) each see
their own; set around one document's mapping by ``using``.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

_ACTIVE: ContextVar = ContextVar("ccda2fhir_overlay", default=None)


# active() -> the overlay of the running conversion, or None. The context variable's own get, not
# a function around it: the terminology tables ask on every coded value.
active = _ACTIVE.get


@contextmanager
def using(overlay) -> Iterator[None]:
    """Run the block with ``overlay`` (an ``overlay.Overlay`` or None) as the active one."""
    token = _ACTIVE.set(overlay)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
