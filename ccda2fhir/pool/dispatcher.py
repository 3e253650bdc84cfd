"""The parent side of the conversion pool: one dispatcher thread hands jobs to idle workers, waits
on their pipes and exits, enforces each job's time limit (SIGTERM, SIGKILL after a grace),
replaces workers that die or retire, and settles every job's Future exactly once."""
from __future__ import annotations

import multiprocessing
import pickle
import time
from concurrent.futures import Future, InvalidStateError
from multiprocessing.connection import wait

from ..errors import ConversionCancelled, ConversionTimeout, MappingError, WorkerCrashed
from .worker import worker_main

GRACE = 0.5               # seconds between SIGTERM and SIGKILL for a worker being stopped
_START_FAILURES = 3       # workers in a row that die before they are ready: the pool gives up


def context():
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        # '__main__' as by default (a caller's script may define the initializer), and this
        # package warmed once, before any worker forks.
        ctx.set_forkserver_preload(["__main__", "ccda2fhir._preload"])
        return ctx
    return multiprocessing.get_context("spawn")


class Job:
    __slots__ = ("id", "future", "args", "timeout", "deadline")

    def __init__(self, job_id: int, future: Future, args: tuple, timeout: float | None) -> None:
        self.id, self.future, self.args, self.timeout = job_id, future, args, timeout
        self.deadline: float | None = None


class Worker:
    __slots__ = ("process", "conn", "ready", "job", "kill_at", "gone", "failure", "retiring")

    def __init__(self, process, conn) -> None:
        self.process, self.conn = process, conn
        self.ready = False
        self.job: Job | None = None
        self.kill_at: float | None = None     # set when being stopped: SIGKILL then
        self.gone = False                     # its connection is closed (EOF seen)
        self.failure: str | None = None       # why it could not start, as it said
        self.retiring = False                 # said it exits after its answer (memory): takes no job

    def stop(self, now: float) -> None:
        if self.kill_at is None:
            self.kill_at = now + GRACE
            self.process.terminate()


class Dispatcher:
    """What the dispatcher thread does for a ConversionPool (its attributes are the pool's)."""

    def _wake(self) -> None:
        try:
            self._wake_send.send_bytes(b"!")
        except OSError:  # closed: the dispatcher has already stopped
            pass

    def _spawn(self) -> None:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=worker_main, args=(child, self._initializer, self._max_rss),
                                    name="ccda2fhir-worker", daemon=True)
        process.start()
        child.close()
        self._workers.append(Worker(process, parent))

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

    def _receive(self, w: Worker, settle: list) -> None:
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

    def _exited(self, w: Worker, settle: list) -> None:
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
