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

import atexit
import itertools
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
from collections import Counter, deque
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from importlib import resources
from multiprocessing.connection import wait
from typing import Callable, Hashable, Iterable, Iterator

import orjson

from .errors import ConversionCancelled, ConversionError, ConversionTimeout, MappingError, WorkerCrashed

GRACE = 0.5               # seconds between SIGTERM and SIGKILL for a worker being stopped
MAX_WORKER_RSS = 512 * 1024 * 1024   # a worker whose memory stays above this after a document is replaced
_TRIM_ABOVE = 16 * 1024 * 1024       # growth since warm-up past which freed heap is handed back to the system
_START_FAILURES = 3       # workers in a row that die before they are ready: the pool gives up


@dataclass(frozen=True)
class Result:
    """One document's conversion, as it crosses back from a worker."""

    bundle_json: bytes          # orjson bytes of the Bundle (bytes, not a dict: cheap across processes)
    resources: int
    unmapped: int
    summary: str
    types: dict[str, int]       # resources by resourceType
    report: dict | None         # report.as_dict() when asked
    patient_id: str = ""        # the Patient's id (the caller's, or the one made with FROM_DOCUMENT)


# ---- the worker side ------------------------------------------------------------------------------

_warm = False


def warm() -> None:
    """Load what every conversion needs (data files, compiled templates) once in this process."""
    global _warm
    if _warm:
        return
    from .convert import convert_with_report
    convert_with_report(resources.files("ccda2fhir.data").joinpath("warmup.xml").read_bytes(), "warm-up")
    try:  # every template, not only those the warm-up document uses
        from .map.engine import environment
        env = environment()
        for name in env.list_templates(filter_func=lambda n: n.endswith(".j2")):
            env.get_template(name)
    except (ImportError, AttributeError):  # an engine without a Jinja environment: nothing to precompile
        pass
    _warm = True


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it can cross to the parent; else a MappingError naming it."""
    try:
        pickle.dumps(exc)
        return exc
    except Exception:
        return MappingError(f"could not map the document: {type(exc).__name__}: {exc}")


def run_job(data, patient_id, options: dict, want_report: bool) -> tuple[bool, object]:
    """Convert one document in this (worker) process: (True, Result) or (False, exception)."""
    from .convert import convert_with_report
    try:
        bundle, report = convert_with_report(data, patient_id, **options)
        types = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
        if not isinstance(patient_id, str):   # FROM_DOCUMENT: the id the document gave
            patient_id = next(e["resource"]["id"] for e in bundle["entry"]
                              if e["resource"]["resourceType"] == "Patient")
        return True, Result(orjson.dumps(bundle), len(bundle["entry"]), len(report.unmapped()),
                            report.summary(), dict(types), report.as_dict() if want_report else None,
                            patient_id)
    except Exception as exc:
        return False, _portable(exc)


def _rss() -> int:
    """This process's resident memory in bytes (0 where /proc does not say)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _malloc_trim() -> None:
    try:
        import ctypes
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):   # not glibc: nothing to hand back this way
        pass


def _should_retire(baseline: int, max_rss: int | None) -> bool:
    """After a document: hand freed heap back when it grew (one large document leaves the C
    allocator holding its peak), and retire when memory still stays above ``max_rss``, so that
    a long run's memory follows the documents in hand, not the largest one ever seen."""
    rss = _rss()
    if rss > baseline + _TRIM_ABOVE:
        _malloc_trim()
        rss = _rss()
    return max_rss is not None and rss > max_rss


def _worker_main(conn, initializer: Callable[[], None] | None, max_rss: int | None = None) -> None:
    # Ctrl-C reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        warm()
        if initializer is not None:
            initializer()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops retrying
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    baseline = _rss()
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        job_id, args = msg
        ok, payload = run_job(*args)   # looked up at each call: a test initializer may wrap it
        del args
        retire = _should_retire(baseline, max_rss)
        conn.send((job_id, ok, payload, retire))
        if retire:   # the pool has already started this worker's successor
            return


def _context():
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        # '__main__' as by default (a caller's script may define the initializer), and this
        # package warmed once, before any worker forks.
        ctx.set_forkserver_preload(["__main__", "ccda2fhir._preload"])
        return ctx
    return multiprocessing.get_context("spawn")


# ---- the parent side ------------------------------------------------------------------------------

class _Job:
    __slots__ = ("id", "future", "args", "timeout", "deadline")

    def __init__(self, job_id: int, future: Future, args: tuple, timeout: float | None) -> None:
        self.id, self.future, self.args, self.timeout = job_id, future, args, timeout
        self.deadline: float | None = None


class _Worker:
    __slots__ = ("process", "conn", "ready", "job", "kill_at", "gone", "failure", "retiring")

    def __init__(self, process, conn) -> None:
        self.process, self.conn = process, conn
        self.ready = False
        self.job: _Job | None = None
        self.kill_at: float | None = None     # set when being stopped: SIGKILL then
        self.gone = False                     # its connection is closed (EOF seen)
        self.failure: str | None = None       # why it could not start, as it said
        self.retiring = False                 # said it exits after its answer (memory): takes no job

    def stop(self, now: float) -> None:
        if self.kill_at is None:
            self.kill_at = now + GRACE
            self.process.terminate()


def _check_timeout(timeout: float | None) -> float | None:
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be a number of seconds above 0, or None for no limit; got {timeout!r}")
    return timeout


class ConversionPool:
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
        self._initializer = initializer
        self._ctx = _context()
        self._lock = threading.Lock()
        self._queue: deque[_Job] = deque()
        self._workers: list[_Worker] = []
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
        job = _Job(next(self._ids), future, (data, patient_id, {**self._options, **options}, report),
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

    # -- the dispatcher thread ------------------------------------------------------------------
    def _wake(self) -> None:
        try:
            self._wake_send.send_bytes(b"!")
        except OSError:  # closed: the dispatcher has already stopped
            pass

    def _spawn(self) -> None:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(child, self._initializer, self._max_rss),
                                    name="ccda2fhir-worker", daemon=True)
        process.start()
        child.close()
        self._workers.append(_Worker(process, parent))

    def _manage(self) -> None:
        try:
            while self._step():
                pass
        except BaseException as exc:  # a defect here must not leave callers waiting forever
            self._fail_everything(f"the conversion pool's dispatcher failed: {type(exc).__name__}: {exc}")
            raise
        finally:
            self._shutdown()

    def _fail_everything(self, why: str) -> None:
        with self._lock:
            self._broken = why
            self._accepting = False
            futures = [job.future for job in self._queue] + [w.job.future for w in self._workers if w.job]
            self._queue.clear()
            for w in self._workers:
                w.job = None
        for future in futures:
            if future.running() or future.set_running_or_notify_cancel():
                self._settle([(future, WorkerCrashed(why), False)])

    def _step(self) -> bool:
        """One round: dispatch, wait for something to happen, handle it. False when done."""
        settle: list[tuple[Future, object, bool]] = []
        with self._lock:
            now = time.monotonic()
            self._dispatch(now, settle)
            done = False
            if not self._accepting:
                running = [w for w in self._workers if w.job is not None]
                if self._drain_until is not None and now >= self._drain_until:
                    self._abandon(now, settle)
                    done = True
                done = done or (not self._queue and not running)
        self._settle(settle)
        if done:
            return False
        settle = []
        with self._lock:
            waitables = [self._wake_recv]
            deadlines = [] if self._drain_until is None or self._accepting else [self._drain_until]
            for w in self._workers:
                waitables.append(w.process.sentinel)
                if not w.gone:
                    waitables.append(w.conn)
                if w.job is not None and w.job.deadline is not None:
                    deadlines.append(w.job.deadline)
                if w.kill_at is not None:
                    deadlines.append(w.kill_at)
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        ready = set(wait(waitables, timeout))
        with self._lock:
            if self._wake_recv in ready:
                while self._wake_recv.poll():
                    self._wake_recv.recv_bytes()
            for w in list(self._workers):
                if w.conn in ready and not w.gone:
                    self._receive(w, settle)
            for w in list(self._workers):
                if w.process.sentinel in ready or (w.gone and not w.process.is_alive()):
                    self._exited(w, settle)
            now = time.monotonic()
            for w in list(self._workers):
                job = w.job
                if job is not None and job.deadline is not None and now >= job.deadline:
                    w.job = None
                    settle.append((job.future, ConversionTimeout(
                        f"conversion stopped after {job.timeout:g} s, its time limit; the worker was replaced"),
                        False))
                    w.stop(now)
                    self._replace()
                if w.kill_at is not None and now >= w.kill_at and w.process.is_alive():
                    w.process.kill()
        self._settle(settle)
        return True

    def _dispatch(self, now: float, settle: list) -> None:
        if self._broken:
            while self._queue:
                job = self._queue.popleft()
                if job.future.set_running_or_notify_cancel():
                    settle.append((job.future, WorkerCrashed(self._broken), False))
            return
        for w in self._workers:
            if not self._queue:
                return
            if not w.ready or w.job is not None or w.kill_at is not None or w.gone or w.retiring:
                continue
            while self._queue:
                job = self._queue.popleft()
                if not job.future.set_running_or_notify_cancel():
                    continue   # cancelled while queued
                try:
                    w.conn.send((job.id, job.args))
                except OSError:   # died since it said it was ready: its exit is handled as a crash
                    w.gone = True
                    settle.append((job.future, WorkerCrashed(
                        "the worker died before it received the document; it was replaced"), False))
                    break
                except Exception as exc:  # noqa: BLE001 - an argument that cannot be pickled
                    settle.append((job.future, exc, False))
                    continue
                job.deadline = now + job.timeout if job.timeout is not None else None
                w.job = job
                break

    def _receive(self, w: _Worker, settle: list) -> None:
        try:
            while w.conn.poll():
                raw = w.conn.recv_bytes()
                try:
                    msg = pickle.loads(raw)
                except Exception as exc:  # noqa: BLE001 - e.g. an exception class that cannot be rebuilt here
                    if w.job is not None:
                        settle.append((w.job.future, MappingError(
                            f"could not read the worker's answer: {type(exc).__name__}: {exc}"), False))
                        w.job = None
                    continue
                if msg[0] == "ready":
                    w.ready = True
                    self._start_failures = 0
                elif msg[0] == "failed":
                    w.failure = msg[1]
                else:
                    job_id, ok, payload, retire = msg
                    if w.job is not None and w.job.id == job_id:
                        settle.append((w.job.future, payload, ok))
                        w.job = None
                    if retire:
                        w.retiring = True
                        self._replace()
        except (EOFError, OSError):
            w.gone = True

    def _exited(self, w: _Worker, settle: list) -> None:
        w.process.join(0)
        if w.process.is_alive():
            return
        self._workers.remove(w)
        w.conn.close()
        if w.job is not None:
            code = w.process.exitcode
            how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
            settle.append((w.job.future, WorkerCrashed(
                f"the worker converting this document {how}; it was replaced"), False))
            w.job = None
        if w.kill_at is None and not w.retiring:  # not one we stopped or that retired (both replaced already)
            if not w.ready:
                self._start_failed(w.failure or f"a worker exited with code {w.process.exitcode} before it was ready")
            self._replace()

    def _start_failed(self, why: str) -> None:
        self._start_failures += 1
        if self._start_failures >= _START_FAILURES:
            self._broken = f"the conversion pool cannot start workers ({why})"

    def _replace(self) -> None:
        live = sum(1 for w in self._workers if w.kill_at is None and not w.retiring)
        if self._accepting or self._queue or any(w.job for w in self._workers):
            if live < self._size and not self._broken:
                self._spawn()

    def _abandon(self, now: float, settle: list) -> None:
        while self._queue:
            job = self._queue.popleft()
            if job.future.set_running_or_notify_cancel():
                settle.append((job.future, ConversionCancelled(
                    "the conversion pool was closed before this document was converted"), False))
        for w in self._workers:
            if w.job is not None:
                settle.append((w.job.future, ConversionCancelled(
                    "the conversion pool was closed before this document's conversion finished"), False))
                w.job = None
                w.stop(now)

    @staticmethod
    def _settle(settle: list) -> None:
        # Outside the lock: a done-callback may submit the next job.
        for future, payload, ok in settle:
            try:
                if ok:
                    future.set_result(payload)
                else:
                    future.set_exception(payload)
            except InvalidStateError:  # already settled (cancelled while queued, say)
                pass

    def _shutdown(self) -> None:
        """Stop every worker: idle ones are asked to exit, the rest terminated, stragglers killed."""
        with self._lock:
            workers = list(self._workers)
            self._workers.clear()
            self._accepting = False
        for w in workers:
            if w.job is None and w.kill_at is None and not w.gone:
                try:
                    w.conn.send(None)
                except OSError:
                    pass
        end = time.monotonic() + GRACE
        for w in workers:
            w.process.join(max(0.0, end - time.monotonic()))
        for w in workers:
            if w.process.is_alive():
                w.process.terminate()
        end = time.monotonic() + GRACE
        for w in workers:
            w.process.join(max(0.0, end - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.conn.close()
        self._wake_send.close()
        self._wake_recv.close()


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
