"""Running the real service for tests: `ccda2fhir serve` (or its test-hooked twin) in a subprocess on
127.0.0.1, port 0 (a free one, read from its 'listening' log line), with its JSON log in a file."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
PATH = "/convert/v1/ccda/to/fhir"


class Server:
    """One running service: its process, port and log."""

    def __init__(self, process: subprocess.Popen, log_path: Path) -> None:
        self.process, self.log_path = process, log_path
        self.port = self._wait_listening()

    def _wait_listening(self, seconds: float = 120.0) -> int:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for line in self.logs():
                if line.get("message") == "listening":
                    return int(line["port"])
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}: "
                                   f"{self.log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        raise RuntimeError(f"the server did not start: {self.log_path.read_text()[-2000:]}")

    def logs(self) -> list[dict]:
        """Every JSON line the server logged so far (a line not yet complete is skipped)."""
        out = []
        for line in self.log_path.read_bytes().splitlines():
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                pass
        return out

    def access(self, request_id: str, seconds: float = 10.0) -> dict:
        """The access-log line of one request (waiting for it a little: it is written after the answer)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for line in self.logs():
                if line.get("message") == "request" and line.get("request_id") == request_id:
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no access line for {request_id}")

    def rss_mb(self) -> float:
        """Resident memory of the service's own process (the event loop, not its workers), in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def connection(self, timeout: float = 60.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def socket(self, timeout: float = 30.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def request(self, method: str, path: str, body=None, headers: dict | None = None):
        """(response, body bytes) over a fresh connection."""
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp, resp.read()
        finally:
            conn.close()

    def convert(self, body: bytes, patient_id: str = "p1", headers: dict | None = None, query: str = ""):
        return self.request("POST", f"{PATH}?patientId={patient_id}{query}", body,
                            {"Content-Type": "application/xml", **(headers or {})})

    def stop(self, sig: int = signal.SIGTERM, seconds: float = 60.0) -> int:
        """Stop the server (SIGTERM: gracefully); its exit code. The log file is removed."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
        finally:
            self.log_path.unlink(missing_ok=True)


def start(*flags: str, hooked: bool = False, env: dict | None = None) -> Server:
    """`ccda2fhir serve --port 0 FLAGS` (with ``hooked``, the twin whose workers misbehave on
    request: tests/support/pool_hooks) in a subprocess; returns once it listens."""
    command = [sys.executable, "-m", "tests.support.serve_hooked"] if hooked else \
        [sys.executable, "-m", "ccda2fhir", "serve"]
    log = Path(tempfile.mkstemp(prefix="ccda2fhir-serve-", suffix=".log")[1])
    with open(log, "wb") as err:
        process = subprocess.Popen([*command, "--host", "127.0.0.1", "--port", "0", *flags], cwd=ROOT,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                   env={**os.environ, **(env or {})})
    try:
        return Server(process, log)
    except BaseException:
        process.kill()
        raise


def outcome(data: bytes) -> dict:
    """The one issue of an OperationOutcome body (asserting that it is one)."""
    oo = orjson.loads(data)
    assert oo["resourceType"] == "OperationOutcome" and len(oo["issue"]) == 1, oo
    return oo["issue"][0]


_unread: "weakref.WeakKeyDictionary[socket.socket, bytes]" = weakref.WeakKeyDictionary()


def read_response(sock: socket.socket, seconds: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of the next HTTP/1.1 answer on a raw socket (Content-Length framed);
    bytes read past it are kept for the next call (pipelined answers)."""
    sock.settimeout(seconds)
    data = _unread.pop(sock, b"")
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer: {data[:200]!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", 0))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    if len(body) > length:
        _unread[sock] = body[length:]
    return status, headers, body[:length]


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True when the server closes ``sock`` within ``seconds`` (whatever it sends before)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
        return True
    except (socket.timeout, TimeoutError):
        return False
    except ConnectionResetError:
        return True
