"""The service under what a deployment meets: stuck and crashing conversions, slow and vanishing
clients, a full queue, too many connections, oversized headers, SIGTERM, tokens. Real HTTP against
`ccda2fhir serve` on 127.0.0.1 (the test-hooked twin where a conversion must hang or crash)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time

import orjson
import pytest

from conftest import SAMPLE_CCD
from tests.support import service as svc
from tests.support.waiting import until

CCD = SAMPLE_CCD.read_bytes()
PATH = svc.PATH
HEAD = f"POST {PATH}?patientId=p1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\n"


@pytest.fixture(scope="module")
def server():
    s = svc.start("--workers", "2", "--timeout", "2", "--header-timeout", "1", "--body-timeout", "2",
                  "--queue-per-worker", "2", "--max-connections", "30", "--max-header-bytes", "8192", hooked=True)
    yield s
    assert s.stop() == 0


def _ready(server) -> dict:
    return orjson.loads(server.request("GET", "/ready")[1])


def _in_thread(fn) -> tuple[threading.Thread, dict]:
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(result=fn()), daemon=True)
    thread.start()
    return thread, out


# ---- stuck and failing conversions --------------------------------------------------------------------

def test_a_stuck_conversion_is_504_while_the_server_keeps_serving(server):
    thread, out = _in_thread(lambda: server.convert(CCD, "hang"))
    assert until(lambda: _ready(server)["pending"] == 1, 20)
    for _ in range(3):                                    # the event loop never converts
        start = time.monotonic()
        resp, data = server.request("GET", "/health")
        assert resp.status == 200 and time.monotonic() - start < 1
    resp, _ = server.convert(CCD, "meanwhile")            # the other worker converts meanwhile
    assert resp.status == 200
    assert thread.is_alive()                              # all of it while the stuck one still waits
    thread.join(30)
    resp, data = out["result"]
    assert resp.status == 504
    issue = svc.outcome(data)
    assert issue["code"] == "timeout" and "after 2 s" in issue["diagnostics"] and "replaced" in issue["diagnostics"]
    assert until(lambda: _ready(server)["alive"] == 2, 20)   # the worker was replaced
    assert server.convert(CCD, "after")[0].status == 200


def test_a_worker_that_dies_is_a_500_operation_outcome_naming_the_request(server):
    resp, data = server.convert(CCD, "crash", {"X-Request-ID": "req-crash-1"})
    assert resp.status == 500 and resp.getheader("Content-Type") == "application/fhir+json"
    issue = svc.outcome(data)
    assert issue["code"] == "exception" and "killed by signal 9" in issue["diagnostics"]
    assert "request id req-crash-1" in issue["diagnostics"] and resp.getheader("X-Request-ID") == "req-crash-1"
    line = server.access("req-crash-1")
    assert line["status"] == 500 and line["error_class"] == "WorkerCrashed"
    assert server.convert(CCD, "after-crash")[0].status == 200


def test_an_unexpected_failure_is_an_operation_outcome_and_a_logged_traceback(monkeypatch, caplog):
    """In-process (the failure is planted in the service's own code): never uvicorn's bare 500."""
    import uvicorn

    from ccda2fhir.serve import routes
    from ccda2fhir.serve.app import create_app
    from ccda2fhir.serve.protocol import Protocol
    from ccda2fhir.serve.settings import Settings

    async def broken(*args, **kwargs):
        raise RuntimeError("a defect")
    monkeypatch.setattr(routes, "read_body", broken)
    server = uvicorn.Server(uvicorn.Config(create_app(Settings(workers=1)), host="127.0.0.1", port=0,
                                           http=Protocol, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert until(lambda: server.started, 60)
        port = server.servers[0].sockets[0].getsockname()[1]
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", f"{PATH}?patientId=p1", CCD, {"Content-Type": "application/xml",
                                                          "X-Request-ID": "req-defect"})
        resp = conn.getresponse()
        issue = svc.outcome(resp.read())
        assert resp.status == 500 and issue["code"] == "exception"
        assert "request id req-defect" in issue["diagnostics"] and "a defect" not in issue["diagnostics"]
        conn.close()
        failures = lambda: [r for r in caplog.records if r.getMessage() == "unexpected failure"]  # noqa: E731
        assert until(failures, 5)                    # logged once the answer is out
        assert failures()[0].exc_info and failures()[0].fields["request_id"] == "req-defect"
    finally:
        server.should_exit = True
        thread.join(30)


# ---- slow and vanishing clients ---------------------------------------------------------------------------

def test_a_client_that_never_finishes_its_headers_is_dropped(server):
    sock = server.socket()
    start = time.monotonic()
    sock.sendall(f"POST {PATH}?patientId=p1 HTTP/1.1\r\nHost: x\r\n".encode())
    status, headers, body = svc.read_response(sock, 10)
    assert status == 408 and headers["connection"] == "close" and svc.outcome(body)["code"] == "timeout"
    assert 0.9 < time.monotonic() - start < 5
    assert svc.closed_within(sock, 5)
    sock.close()


def test_trickled_headers_do_not_reset_the_header_timeout(server):
    sock = server.socket()
    start = time.monotonic()
    dropped_at = None
    try:
        for byte in (HEAD + "X-Slow: " + "a" * 100).encode():   # a byte every 0.1 s: the limit is 1 s in all
            sock.sendall(bytes([byte]))
            time.sleep(0.1)
            if time.monotonic() - start > 4:
                break
    except OSError:          # the server closed the connection: the next send is refused
        dropped_at = time.monotonic()
    if dropped_at is None and svc.closed_within(sock, 0.5):
        dropped_at = time.monotonic()
    assert dropped_at is not None and dropped_at - start < 3
    sock.close()


def test_a_connection_that_sends_nothing_is_closed(server):
    sock = server.socket()
    start = time.monotonic()
    assert svc.closed_within(sock, 5) and time.monotonic() - start < 5
    sock.close()


def test_a_client_that_sends_its_body_too_slowly_is_408(server):
    sock = server.socket()
    sock.sendall(f"{HEAD}Content-Length: {len(CCD)}\r\n\r\n".encode() + CCD[:1000])
    start = time.monotonic()
    for piece in range(15):                               # a trickle: some bytes every 0.2 s, never enough
        try:
            sock.sendall(CCD[1000 + piece * 10:1010 + piece * 10])
        except OSError:
            break
        time.sleep(0.2)
    status, headers, body = svc.read_response(sock, 10)
    assert status == 408 and headers["connection"] == "close"
    assert "did not arrive within 2 s" in svc.outcome(body)["diagnostics"]
    assert time.monotonic() - start < 6
    sock.close()


def test_many_slow_clients_do_not_stop_the_service(server):
    socks = [server.socket() for _ in range(20)]
    for s in socks:
        s.sendall(f"{HEAD}Content-Length: 100000\r\n\r\n<ClinicalDocument".encode())
    start = time.monotonic()
    assert server.convert(CCD, "busy")[0].status == 200
    assert time.monotonic() - start < 5
    assert all(svc.closed_within(s, 10) for s in socks)   # each dropped by the body timeout
    for s in socks:
        s.close()


def test_a_client_that_disconnects_mid_body_is_forgotten(server):
    sock = server.socket()
    sock.sendall(f"{HEAD}X-Request-ID: req-gone-body\r\nContent-Length: {len(CCD)}\r\n\r\n".encode()
                 + CCD[:len(CCD) // 2])
    time.sleep(0.2)
    sock.close()
    line = server.access("req-gone-body")
    assert line["status"] == 499 and line["error"] == "client-gone"
    assert _ready(server)["pending"] == 0
    assert server.convert(CCD, "after-gone")[0].status == 200


def test_a_client_that_leaves_during_its_conversion_has_it_cancelled(server):
    assert until(lambda: _ready(server)["alive"] == 2, 20)
    sock = server.socket()
    sock.sendall(f"POST {PATH}?patientId=sleep-5 HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\n"
                 f"X-Request-ID: req-gone-conv\r\nContent-Length: {len(CCD)}\r\n\r\n".encode() + CCD)
    assert until(lambda: _ready(server)["pending"] == 1, 5)
    sock.close()
    start = time.monotonic()
    assert until(lambda: _ready(server)["pending"] == 0, 3)   # not the 5 s the conversion would take
    assert time.monotonic() - start < 2
    line = server.access("req-gone-conv")
    assert line["status"] == 499 and line["error"] == "client-gone"
    assert until(lambda: _ready(server)["alive"] == 2, 20)       # its worker was stopped and replaced
    assert server.convert(CCD, "after-cancel")[0].status == 200


# ---- limits on the whole service --------------------------------------------------------------------------

def test_a_full_queue_answers_503_with_retry_after(server):
    assert until(lambda: _ready(server)["alive"] == 2, 20)
    running = [_in_thread(lambda i=i: server.convert(CCD, "sleep-1.5")) for i in range(4)]   # 2 workers x 2
    assert until(lambda: _ready(server)["pending"] == 4, 10)
    resp, data = server.convert(CCD, "one-too-many")
    assert resp.status == 503 and resp.getheader("Retry-After") == "1"
    issue = svc.outcome(data)
    assert issue["code"] == "transient" and "4 conversions" in issue["diagnostics"]
    for thread, out in running:
        thread.join(30)
        assert out["result"][0].status == 200
    assert server.convert(CCD, "room-again")[0].status == 200


def test_past_the_connection_limit_a_request_is_503(server):
    idle = [server.socket() for _ in range(31)]
    try:
        sock = server.socket()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = svc.read_response(sock, 5)
        assert status == 503 and headers["retry-after"] == "1" and svc.outcome(body)["code"] == "transient"
        sock.close()
    finally:
        for s in idle:
            s.close()
    assert until(lambda: server.request("GET", "/health")[0].status == 200, 5)


def test_headers_over_the_limit_are_431(server):
    sock = server.socket()
    sock.sendall(f"{HEAD}X-Big: {'a' * 10_000}\r\nContent-Length: 5\r\n\r\nhello".encode())
    status, headers, body = svc.read_response(sock)
    assert status == 431 and headers["connection"] == "close"
    assert "over 8192 bytes" in svc.outcome(body)["diagnostics"]
    sock.close()
    sock = server.socket()                              # headers that never end are refused as they pass it
    sock.sendall(f"{HEAD}X-Endless: ".encode())
    for _ in range(3):
        sock.sendall(b"a" * 4096)
    status, _, body = svc.read_response(sock)
    assert status == 431
    sock.close()


# ---- SIGTERM ---------------------------------------------------------------------------------------------

def test_sigterm_finishes_the_request_in_flight_and_exits_0():
    server = svc.start("--workers", "1")
    try:
        sock = server.socket()
        sock.sendall(f"{HEAD}X-Request-ID: req-in-flight\r\nContent-Length: {len(CCD)}\r\n\r\n".encode() + CCD[:5000])
        time.sleep(0.3)
        server.process.terminate()                                      # SIGTERM
        assert until(lambda: any(line.get("message") == "Shutting down" for line in server.logs()), 10)
        with pytest.raises(OSError):                                   # no new connection is accepted
            server.socket(timeout=2)
        sock.sendall(CCD[5000:])                                        # the request in flight completes
        status, _, body = svc.read_response(sock, 30)
        assert status == 200 and orjson.loads(body)["type"] == "batch"
        assert server.process.wait(30) == 0
        assert server.access("req-in-flight")["status"] == 200
        sock.close()
    finally:
        server.stop()


# ---- tokens ----------------------------------------------------------------------------------------------

def test_a_token_file_guards_the_convert_route(tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("# rotate: the new one first\nnew-token-123\n\nold-token-456\n")
    server = svc.start("--workers", "1", "--token-file", str(tokens))
    try:
        resp, data = server.convert(CCD)
        assert resp.status == 401 and resp.getheader("WWW-Authenticate").startswith("Bearer")
        assert svc.outcome(data)["code"] == "login"
        for wrong in ("Bearer nope", "Basic bmV3LXRva2VuLTEyMw==", "Bearer ", "new-token-123"):
            resp, _ = server.convert(CCD, headers={"Authorization": wrong})
            assert resp.status == 401, wrong
        for token in ("new-token-123", "old-token-456"):
            resp, _ = server.convert(CCD, headers={"Authorization": f"Bearer {token}"})
            assert resp.status == 200
        for path in ("/health", "/ready", "/openapi.json", "/docs"):   # probes and docs stay open
            assert server.request("GET", path)[0].status == 200, path
    finally:
        assert server.stop() == 0


def test_the_asgi_app_runs_under_plain_uvicorn_configured_from_the_environment():
    """README's 'other ASGI servers' command, as written."""
    import tempfile
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "ccda2fhir.serve.app:app", "--http", "ccda2fhir.serve.protocol:Protocol",
         "--host", "127.0.0.1", "--port", "0", "--no-access-log"], cwd=svc.ROOT, stderr=log,
        stdout=subprocess.DEVNULL, env={**os.environ, "CCDA2FHIR_WORKERS": "1", "CCDA2FHIR_MAX_BYTES": "100000"})
    try:
        def port():
            log.seek(0)
            found = re.search(rb"running on http://127.0.0.1:(\d+)", log.read())
            return int(found.group(1)) if found else None
        assert until(lambda: port() is not None or process.poll() is not None, 60) and port(), process.poll()
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", port(), timeout=60)
        conn.request("POST", f"{PATH}?patientId=p1", CCD, {"Content-Type": "application/xml"})
        resp = conn.getresponse()
        issue = svc.outcome(resp.read())                  # CCDA2FHIR_MAX_BYTES applies
        assert resp.status == 413 and "over the limit of 100000" in issue["diagnostics"]
        conn.request("POST", f"{PATH}?patientId=p1", CCD[:50_000], {"Content-Type": "application/xml"})
        resp = conn.getresponse()
        assert resp.status == 400 and svc.outcome(resp.read())["code"] == "structure"
        conn.close()
    finally:
        process.terminate()
        process.wait(30)


# ---- starting ----------------------------------------------------------------------------------------------

def _serve(*args: str, env: dict | None = None, code: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "ccda2fhir", "serve", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=svc.ROOT,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args, env, words", [
    (["--queue-per-worker", "0"], None, "queue_per_worker must be above 0"),
    (["--workers", "0"], None, "workers must be 1 or more"),
    (["--token-file", "/nonexistent/tokens"], None, "cannot read the token file /nonexistent/tokens"),
    ([], {"CCDA2FHIR_MAX_BYTES": "lots"}, "CCDA2FHIR_MAX_BYTES='lots' is not a int"),
])
def test_bad_settings_stop_the_start_with_one_line(args, env, words):
    done = _serve(*args, "--port", "0", env=env)
    assert done.returncode == 2
    assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_without_the_serve_extra_it_says_what_to_install():
    done = _serve(code="import sys; sys.modules['uvicorn'] = None; sys.modules['starlette'] = None\n"
                       "from ccda2fhir.serve.cli import main; sys.exit(main(['serve', '--port', '0']))")
    assert done.returncode == 2
    assert done.stderr.strip() == "ccda2fhir: error: the service needs its extra: pip install 'ccda2fhir[serve]'"
    assert re.search(r"serve", _serve(code="from ccda2fhir.serve.cli import main; main(['serve', '--help'])").stdout)
