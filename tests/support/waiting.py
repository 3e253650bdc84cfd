"""Waiting for something another process or thread does, without a fixed sleep."""
from __future__ import annotations

import time


def until(condition, seconds: float) -> bool:
    """True as soon as ``condition()`` is; False when ``seconds`` pass first (polled every 50 ms)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False
