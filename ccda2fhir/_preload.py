"""Imported once by the worker pool's fork server: every worker forked from it starts warm."""
from __future__ import annotations

try:
    from .pool import warm
    warm()
except Exception:  # noqa: BLE001 - a fork server must not die of it: each worker warms itself again
    pass
