"""Output that is never left half-written: whole lines, whole files, and signals held meanwhile.

A Ctrl-C (or SIGTERM) that arrives while a document's output is being written waits until that
write is done (``signals_held``); a write that fails (disk full) is rolled back to the last whole
line (``LineFile``); a Bundle file appears under its name complete or not at all (``replace_file``).
So whatever stops a run, every output file ends with a whole line, and a reader never sees part
of a resource.
"""
from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_HELD = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def signals_held() -> Iterator[None]:
    """Run the block with SIGINT and SIGTERM held back; one that came meanwhile is acted on at the
    end, by the handler that was installed. Outside the main thread (where Python delivers no
    signal) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[tuple[int, object]] = []
    previous = {}
    for sig in _HELD:
        previous[sig] = signal.signal(sig, lambda signum, frame: came.append((signum, frame)))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum, frame in came[:1]:
            handler = previous[signum]
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class LineFile:
    """A file written in whole lines: each ``write`` gets complete lines (bytes ending in b'\\n'),
    written straight to the file (no buffer that could flush half a line), and a failed write is
    cut back to the end of the previous one."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
        self._size = 0

    def write(self, lines: bytes) -> None:
        if not lines:
            return
        try:
            _write_all(self._fd, lines)
        except BaseException:
            try:
                os.ftruncate(self._fd, self._size)
                os.lseek(self._fd, self._size, os.SEEK_SET)
            except OSError:
                pass
            raise
        self._size += len(lines)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class LineStream:
    """Standard output (or any file descriptor) written in whole lines, unbuffered."""

    def __init__(self, fd: int = 1) -> None:
        self.path = None
        self._fd = fd

    def write(self, lines: bytes) -> None:
        if lines:
            _write_all(self._fd, lines)

    def close(self) -> None:
        pass


def replace_file(path: Path, data: bytes) -> None:
    """Write ``path`` whole: into a hidden temporary file beside it, then renamed over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
