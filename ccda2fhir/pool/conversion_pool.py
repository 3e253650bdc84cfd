"""Conversions in worker processes that can be stopped: a time limit that really stops, a crash contained.

One pool serves ``convert(..., timeout=S)``, the CLI's batch mode and the service (an asyncio app
awaits ``asyncio.wrap_future(pool.submit(...))``). Each worker converts one document at a time; a
job past its time limit has its worker killed (SIGTERM, SIGKILL after a short grace) and replaced,
and a worker that dies fails only its own job. Nothing runs in the caller's process but one
dispatcher thread.

Start method: ``forkserver`` where the platform has it, else ``spawn``; never plain ``fork``. The
pool is created in processes that run threads or an event loop (the service, a caller's web app),
and a child forked from such a process inherits every lock in whatever state another thread left
it. The fork server is a fresh single-threaded interpreter that imports and warms ccda2fhir once;
workers fork from it already warm, so replacing a killed worker costs milliseconds.
"""
from __future__ import annotations

import itertools
import os
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future
from functools import partial
from typing import Callable, Hashable, Iterable, Iterator

from ..errors import ConversionCancelled, ConversionError, WorkerCrashed
from .dispatcher import Dispatcher, Job, Worker, context
from .worker import Result, warm_overlay

MAX_WORKER_RSS = 512 * 1024 * 1024   # a worker whose memory stays above this after a document is replaced


def _check_timeout(timeout: float | None) -> float | None:
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be a number of seconds above 0, or None for no limit; got {timeout!r}")
    return timeout


class ConversionPool(Dispatcher):
    """Worker processes converting documents; jobs past their time limit are stopped.

    ``workers`` defaults to the CPU count; ``timeout`` (seconds, None: no limit) applies to every
    job that names none; ``convert_options`` (max_bytes, embed_source, ...) to every job;
    ``initializer`` runs once in each worker after warm-up. A worker whose resident memory stays
    above ``max_worker_rss`` bytes after a document (None: never) answers, exits and is replaced
    by a fresh one. A context manager: leaving it closes.
    """

    def __init__(self, workers: int | None = None, *, timeout: float | None = None,
                 initializer: Callable[[], None] | None = None, max_worker_rss: int | None = MAX_WORKER_RSS,
                 **convert_options) -> None:
        self._size = max(1, workers or os.cpu_count() or 1)
        self._max_rss = max_worker_rss
        self._timeout = _check_timeout(timeout)
        self._options = convert_options
        if convert_options.get("templates") or convert_options.get("code_systems"):
            # each worker compiles the overlay once, before its first job
            initializer = partial(warm_overlay, convert_options.get("templates"), convert_options.get("code_systems"),
                                  initializer)
        self._initializer = initializer
        self._ctx = context()
        self._lock = threading.Lock()
        self._queue: deque[Job] = deque()
        self._workers: list[Worker] = []
        self._ids = itertools.count()
        self._accepting = True
        self._drain_until: float | None = None   # after close(): when to abandon unfinished jobs
        self._start_failures = 0
        self._broken: str | None = None
        self._wake_recv, self._wake_send = self._ctx.Pipe(duplex=False)
        with self._lock:
            for _ in range(self._size):
                self._spawn()
        self._thread = threading.Thread(target=self._manage, name="ccda2fhir-pool", daemon=True)
        self._thread.start()

    # -- public ---------------------------------------------------------------------------------
    def submit(self, data, patient_id, *, timeout: float | None = None, report: bool = False,
               **options) -> Future:
        """Queue one document (bytes, str or a path) for ``patient_id`` (a FHIR id, or FROM_DOCUMENT);
        the Future gives a Result or raises its error."""
        future: Future = Future()
        job = Job(next(self._ids), future, (data, patient_id, {**self._options, **options}, report),
                   _check_timeout(timeout) if timeout is not None else self._timeout)
        with self._lock:
            if not self._accepting:
                raise RuntimeError("the conversion pool is closed")
            if self._broken:
                raise WorkerCrashed(self._broken)
            self._queue.append(job)
        self._wake()
        return future

    def map_unordered(self, jobs: Iterable[tuple[Hashable, object, str]], *, max_pending: int | None = None,
                      **options) -> Iterator[tuple[Hashable, Result | ConversionError]]:
        """Convert (key, data, patient_id) jobs, at most ``max_pending`` (default 2 per worker) in
        flight; yields (key, Result or the ConversionError) as each finishes. ``options`` as submit's."""
        return self._map(jobs, max_pending, False, options)

    def map(self, jobs: Iterable[tuple[Hashable, object, str]], *, max_pending: int | None = None,
            **options) -> Iterator[tuple[Hashable, Result | ConversionError]]:
        """As ``map_unordered``, but yields in the order of ``jobs``: a finished job waits (at most
        ``max_pending`` of them, default 4 per worker) for those before it. For output that must not
        depend on which worker was faster (the CLI's NDJSON, where the first writer of an id wins)."""
        return self._map(jobs, max_pending or 4 * self._size, True, options)

    def _map(self, jobs, max_pending: int | None, ordered: bool, options: dict):
        limit = max(1, max_pending or 2 * self._size)
        done: queue.SimpleQueue = queue.SimpleQueue()
        pending: dict[Future, Hashable] = {}     # insertion order is submission order
        source = iter(jobs)
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < limit:
                    try:
                        key, data, patient_id = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    future = self.submit(data, patient_id, **options)
                    pending[future] = key
                    if not ordered:
                        future.add_done_callback(done.put)
                if not pending:
                    return
                # Both waits are interruptible: a Ctrl-C reaches the caller at once.
                future = next(iter(pending)) if ordered else done.get()
                key = pending.pop(future)
                try:
                    outcome = future.result()
                except ConversionError as exc:
                    outcome = exc
                yield key, outcome
        finally:  # the caller stopped early (or was interrupted): jobs not started yet are dropped
            for future in pending:
                future.cancel()

    def cancel(self, future: Future) -> bool:
        """Give up one job (a service whose client went away): a queued one is dropped (its Future
        cancelled), a running one has its worker stopped and replaced (its Future raises
        ConversionCancelled). False when the job had already finished."""
        queued = running = False
        with self._lock:
            for job in self._queue:
                if job.future is future:
                    self._queue.remove(job)
                    queued = True
                    break
            for w in self._workers:
                if not queued and w.job is not None and w.job.future is future:
                    w.job = None
                    w.stop(time.monotonic())
                    self._replace()
                    running = True
                    break
        if running:
            self._settle([(future, ConversionCancelled("the conversion was cancelled; its worker was replaced"),
                           False)])
            self._wake()
            return True
        return future.cancel()

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return len(self._queue) + sum(1 for w in self._workers if w.job is not None)

    def close(self, *, wait: bool = True, timeout: float | None = None) -> None:
        """Stop accepting jobs; with ``wait``, let queued and running ones finish (up to ``timeout``
        seconds), then stop the workers. Jobs left unfinished fail with ConversionCancelled."""
        with self._lock:
            self._accepting = False
            now = time.monotonic()
            until = now if not wait else (now + timeout if timeout is not None else None)
            if until is not None and (self._drain_until is None or until < self._drain_until):
                self._drain_until = until
        self._wake()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    @property
    def alive(self) -> int:
        """Workers up and ready to convert (for a readiness probe)."""
        with self._lock:
            return sum(1 for w in self._workers
                       if w.ready and w.kill_at is None and not w.retiring and not w.gone and w.process.is_alive())

    @property
    def workers(self) -> int:
        """How many workers the pool keeps."""
        return self._size

    def __enter__(self) -> "ConversionPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close(wait=exc[0] is None)
