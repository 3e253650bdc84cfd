"""Conversions in worker processes that can be stopped: a time limit that really stops, a crash
contained (conversion_pool.py: the pool; dispatcher.py: its thread; worker.py: the workers).
"""
from __future__ import annotations

import atexit
import threading

from .conversion_pool import MAX_WORKER_RSS, ConversionPool
from .dispatcher import GRACE
from .worker import Result, run_job, warm

__all__ = ["ConversionPool", "Result", "shared_pool", "warm", "run_job", "MAX_WORKER_RSS", "GRACE"]

# ---- the pool behind convert(..., timeout=S) ---------------------------------------------------------

_shared: ConversionPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> ConversionPool:
    """The one-worker pool ``convert(..., timeout=S)`` uses: made on first use, warm between calls,
    closed at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ConversionPool(1)
            atexit.register(_shared.close, wait=False)
        return _shared
