"""The state one service keeps: its worker pool, how many conversions it has taken in, whether it
is stopping. Started and stopped by the app's lifespan."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Callable, Iterator

from ..pool import ConversionPool
from .problems import Problem
from .settings import Settings

log = logging.getLogger("ccda2fhir.serve")
_START_WAIT = 120.0   # seconds the workers get to start before the service listens anyway


class Service:
    """One service's pool and admission count."""

    def __init__(self, settings: Settings, initializer: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.initializer = initializer
        self.pool: ConversionPool | None = None
        self.admitted = 0
        self.stopping = False

    async def start(self) -> None:
        """Start the workers (templates compiled once in each) and wait until they are ready."""
        s = self.settings
        self.pool = await asyncio.to_thread(ConversionPool, s.worker_count, timeout=s.timeout,
                                            initializer=self.initializer, **s.convert_options())
        end = time.monotonic() + _START_WAIT
        while self.pool.alive < s.worker_count and time.monotonic() < end:
            await asyncio.sleep(0.05)
        log.info("workers ready", extra={"fields": {"workers": s.worker_count, "alive": self.pool.alive}})

    async def stop(self) -> None:
        """Stop the workers; conversions still running (past the graceful shutdown) are abandoned."""
        self.stopping = True
        if self.pool is not None:
            await asyncio.to_thread(self.pool.close, wait=True, timeout=1.0)

    def readiness(self) -> tuple[bool, dict]:
        """(ready, what /ready says)."""
        alive = self.pool.alive if self.pool is not None else 0
        pending = self.pool.pending if self.pool is not None else 0
        status = ("stopping" if self.stopping else "starting" if self.pool is None
                  else "ready" if alive else "no workers")
        return status == "ready", {"status": status, "workers": self.settings.worker_count, "alive": alive,
                                   "pending": pending}

    def check_room(self) -> None:
        """503 with Retry-After when the pool is not running or all conversion places are taken
        (asked before a body is read, so that a full server does not read it for nothing)."""
        if self.pool is None or self.stopping:
            raise Problem(503, "transient", "the server is starting or shutting down; try again shortly",
                          headers={"Retry-After": "1"})
        capacity = self.settings.capacity
        if self.admitted >= capacity:
            raise Problem(503, "transient", f"{capacity} conversions are waiting or running, the most this server "
                          f"takes; try again shortly", headers={"Retry-After": "1"})

    @contextlib.contextmanager
    def admit(self) -> Iterator[ConversionPool]:
        """Hold one of the service's conversion places while a document waits and converts; a
        request still sending its body holds none (check_room then admit, once it is read)."""
        self.check_room()
        self.admitted += 1
        try:
            yield self.pool
        finally:
            self.admitted -= 1
