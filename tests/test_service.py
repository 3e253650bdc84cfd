"""The conversion service over real HTTP (ccda2fhir serve on 127.0.0.1, a free port): the answer of
every kind of request, its headers, its log line."""
from __future__ import annotations

import gzip
import http.client
import re
import zlib

import orjson
import pytest

import ccda2fhir
from conftest import SAMPLE_CCD
from tests.support import service as svc

CCD = SAMPLE_CCD.read_bytes()
PATH = svc.PATH
RULE_HINT = "1 to 64"


@pytest.fixture(scope="module")
def server():
    s = svc.start("--workers", "2", "--timeout", "5", hooked=True)
    yield s
    assert s.stop() == 0


# ---- 200 ---------------------------------------------------------------------------------------------

def test_a_document_converts_to_the_library_bundle(server):
    resp, data = server.convert(CCD, "http-1")
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "application/fhir+json"
    bundle, report = ccda2fhir.convert(CCD, "http-1", report=True)
    assert data == orjson.dumps(bundle)                             # byte for byte the library's output
    assert resp.getheader("X-Ccda2fhir-Resources") == str(len(bundle["entry"]))
    assert resp.getheader("X-Ccda2fhir-Unmapped") == str(len(report.unmapped()))
    assert resp.getheader("X-Ccda2fhir-Summary") == report.summary()


def test_the_server_header_names_no_version(server):
    for method, path in (("GET", "/health"), ("POST", f"{PATH}?patientId=p1"), ("GET", "/nope")):
        resp, _ = server.request(method, path, CCD if method == "POST" else None)
        assert [v for k, v in resp.getheaders() if k.lower() == "server"] == ["ccda2fhir"]   # no version, no stack


@pytest.mark.parametrize("content_type", ["application/xml", "text/xml; charset=utf-8", "application/hl7-cda+xml",
                                          "application/octet-stream", "application/cda+xml", None])
def test_every_xml_content_type_is_accepted(server, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    resp, data = server.request("POST", f"{PATH}?patientId=ct", CCD, headers)
    assert resp.status == 200, data[:300]
    assert orjson.loads(data)["type"] == "batch"


def test_report_true_answers_the_bundle_and_the_report(server):
    resp, data = server.convert(CCD, "rep-1", query="&report=true")
    assert resp.status == 200 and resp.getheader("Content-Type") == "application/json"
    answer = orjson.loads(data)
    bundle, report = ccda2fhir.convert(CCD, "rep-1", report=True)
    assert answer == {"bundle": bundle, "report": report.as_dict()}
    assert resp.getheader("X-Ccda2fhir-Unmapped") == str(len(report.unmapped()))
    assert server.convert(CCD, "rep-1", query="&report=false")[1] == orjson.dumps(bundle)


def test_a_gzip_body_is_inflated(server):
    resp, data = server.convert(gzip.compress(CCD), "gz-1", {"Content-Encoding": "gzip"})
    assert resp.status == 200
    assert data == orjson.dumps(ccda2fhir.convert(CCD, "gz-1"))


def test_a_gzip_body_of_several_members_is_inflated_whole(server):
    half = len(CCD) // 2
    resp, data = server.convert(gzip.compress(CCD[:half]) + gzip.compress(CCD[half:]), "gz-2",
                                {"Content-Encoding": "gzip"})
    assert resp.status == 200 and data == orjson.dumps(ccda2fhir.convert(CCD, "gz-2"))


def test_the_answer_is_gzip_compressed_when_the_client_accepts_it(server):
    resp, data = server.convert(CCD, "gz-3", {"Accept-Encoding": "br;q=1, gzip;q=0.8"})
    assert resp.status == 200 and resp.getheader("Content-Encoding") == "gzip"
    assert "Accept-Encoding" in resp.getheader("Vary")
    assert gzip.decompress(data) == orjson.dumps(ccda2fhir.convert(CCD, "gz-3"))
    assert len(data) < len(gzip.decompress(data)) / 4
    for refused in ("gzip;q=0", "identity", "br", None):
        resp, data = server.convert(CCD, "gz-3", {"Accept-Encoding": refused} if refused else {})
        assert resp.getheader("Content-Encoding") is None and data.startswith(b'{"resourceType":"Bundle"'), refused


def test_a_chunked_body_is_read_as_a_stream(server):
    conn = server.connection()
    conn.request("POST", f"{PATH}?patientId=chunked-1", body=iter([CCD[:1000], CCD[1000:50_000], CCD[50_000:]]),
                 headers={"Content-Type": "application/xml"}, encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read() == orjson.dumps(ccda2fhir.convert(CCD, "chunked-1"))
    conn.close()


def test_one_connection_carries_many_requests(server):
    conn = server.connection()
    for i in range(3):
        conn.request("POST", f"{PATH}?patientId=ka-{i}", body=CCD, headers={"Content-Type": "application/xml"})
        resp = conn.getresponse()
        assert resp.status == 200 and orjson.loads(resp.read())["entry"][0]["resource"]["id"] == f"ka-{i}"
    conn.close()


def test_pipelined_requests_are_answered_in_order_even_after_an_early_answer(server):
    sock = server.socket()
    head = f"POST {PATH}?patientId=pipe HTTP/1.1\r\nHost: x\r\nContent-Length: {len(CCD)}\r\n"
    sock.sendall(f"{head}Content-Type: text/plain\r\n\r\n".encode() + CCD             # 415 before its body
                 + f"{head}Content-Type: application/xml\r\n\r\n".encode() + CCD      # read past, then converted
                 + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert svc.read_response(sock)[0] == 415
    status, _, body = svc.read_response(sock)
    assert status == 200 and body == orjson.dumps(ccda2fhir.convert(CCD, "pipe"))
    assert svc.read_response(sock)[2] == b'{"status":"ok"}'
    sock.close()


def test_a_hundred_concurrent_clients_are_all_answered(server):
    """The old server reset about half of them (a listen backlog of 5)."""
    import threading
    statuses: list = []
    lock = threading.Lock()

    def one(i: int) -> None:
        try:
            status = server.convert(CCD, f"crowd-{i}")[0].status
        except OSError as exc:
            status = repr(exc)
        with lock:
            statuses.append(status)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert statuses == [200] * 100


# ---- 4xx ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, code, words", [
    ("", "required", "patientId query parameter is required"),
    ("?patientId=", "required", "patientId query parameter is required"),
    ("?patientId=a&patientId=b", "value", "given 2 times"),
    ("?patientId=a%2Fb", "value", RULE_HINT),
    ("?patientId=..%2F..%2Fetc%2Fpasswd", "value", RULE_HINT),
    ("?patientId=john%20smith", "value", RULE_HINT),
    ("?patientId=" + "x" * 65, "value", RULE_HINT),
    ("?patientId=a%0Ab", "value", RULE_HINT),
    ("?patientId=a%00b", "value", RULE_HINT),
    ("?patientId=p&report=yes", "value", "true or false"),
])
def test_a_missing_or_invalid_parameter_is_400(server, query, code, words):
    resp, data = server.request("POST", PATH + query, CCD, {"Content-Type": "application/xml"})
    assert resp.status == 400
    assert resp.getheader("Content-Type") == "application/fhir+json"
    issue = svc.outcome(data)
    assert issue["code"] == code and words in issue["diagnostics"] and "\n" not in issue["diagnostics"]


def test_an_empty_body_is_400(server):
    resp, data = server.convert(b"", "empty")
    assert resp.status == 400 and svc.outcome(data)["diagnostics"] == "input is empty"


def test_xml_that_does_not_parse_is_400_with_line_and_column(server):
    resp, data = server.convert(b"<ClinicalDocument xmlns='urn:hl7-org:v3'>\n<title>x</titel>\n</ClinicalDocument>")
    assert resp.status == 400
    issue = svc.outcome(data)
    assert issue["code"] == "structure" and "line 2, column" in issue["diagnostics"]
    where = {e["url"].rsplit("-", 1)[1]: e["valueInteger"] for e in issue["extension"]}
    assert where["line"] == 2 and where["col"] > 0


def test_a_corrupt_gzip_body_is_400(server):
    resp, data = server.convert(gzip.compress(CCD)[:-100], "gz", {"Content-Encoding": "gzip"})
    assert resp.status == 400 and "truncated" in svc.outcome(data)["diagnostics"]
    resp, data = server.convert(b"\x1f\x8b\x08\x00garbage-garbage", "gz", {"Content-Encoding": "gzip"})
    assert resp.status == 400 and "corrupt" in svc.outcome(data)["diagnostics"]


@pytest.mark.parametrize("body, words", [
    (b"<?xml version='1.0'?><Bundle xmlns='http://hl7.org/fhir'/>", "not an HL7 CDA"),
    (gzip.compress(CCD), "gzip stream"),
    (b'{"resourceType": "Bundle"}', "JSON"),
])
def test_input_that_is_not_a_ccda_is_422(server, body, words):
    resp, data = server.convert(body, "not-ccda")
    assert resp.status == 422
    issue = svc.outcome(data)
    assert issue["code"] == "invalid" and words in issue["diagnostics"]


@pytest.mark.parametrize("headers, words", [
    ({"Content-Type": "application/x-www-form-urlencoded"}, "--data-binary"),
    ({"Content-Type": "application/json"}, "is not XML"),
    ({"Content-Type": "text/plain"}, "is not XML"),
    ({"Content-Type": "application/xml", "Content-Encoding": "br"}, "Content-Encoding 'br'"),
    ({"Content-Type": "application/xml", "Content-Encoding": "gzip, gzip"}, "not supported"),
])
def test_a_body_that_is_not_xml_or_not_gzip_is_415(server, headers, words):
    resp, data = server.request("POST", f"{PATH}?patientId=p1", CCD, headers)
    assert resp.status == 415
    assert words in svc.outcome(data)["diagnostics"]


def test_a_deeply_nested_document_is_413(server):
    deep = b"<ClinicalDocument xmlns='urn:hl7-org:v3'>" + b"<a>" * 300 + b"</a>" * 300 + b"</ClinicalDocument>"
    resp, data = server.convert(deep, "deep")
    assert resp.status == 413 and "nested too deeply" in svc.outcome(data)["diagnostics"]


def test_a_60_mb_upload_receives_its_413(server):
    body = b"<" + b"a" * (60 * 1024 * 1024)
    before = server.rss_mb()
    conn = server.connection()
    conn.request("POST", f"{PATH}?patientId=big", body=body, headers={"Content-Type": "application/xml"})
    resp = conn.getresponse()                            # http.client sent all 60 MB before reading
    data = resp.read()
    assert resp.status == 413
    assert svc.outcome(data)["diagnostics"] == f"the body is {len(body)} bytes, over the limit of 52428800"
    conn.request("GET", "/health")                       # the connection survives: the rest was drained
    assert conn.getresponse().status == 200
    conn.close()
    assert server.rss_mb() - before < 20                 # read and dropped, never held


def test_a_declared_length_over_the_limit_is_answered_before_the_body(server):
    sock = server.socket()
    sock.sendall(f"POST {PATH}?patientId=big HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\n"
                 f"Content-Length: {60 * 1024 * 1024}\r\n\r\n".encode())
    status, _, body = svc.read_response(sock, 10)        # not one byte of the body was sent
    assert status == 413 and b"over the limit" in body
    sock.close()


def test_a_chunked_body_past_the_limit_is_answered_while_it_is_sent(server):
    sock = server.socket()
    sock.sendall(f"POST {PATH}?patientId=big HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\n"
                 f"Transfer-Encoding: chunked\r\n\r\n".encode())
    chunk = b"%x\r\n%s\r\n" % (1 << 20, b"x" * (1 << 20))
    for _ in range(51):                                  # 51 MB, never the final chunk
        sock.sendall(chunk)
    status, _, body = svc.read_response(sock, 30)
    assert status == 413 and b"over 52428800 bytes" in body
    sock.close()


def test_a_gzip_body_inflating_past_the_limit_is_413(server):
    bomb = zlib.compress(b"\0" * (60 * 1024 * 1024), 9, 31)     # 60 MB of zeros in about 60 KB
    assert len(bomb) < 100_000
    resp, data = server.convert(bomb, "bomb", {"Content-Encoding": "gzip"})
    assert resp.status == 413 and "inflates to over 52428800 bytes" in svc.outcome(data)["diagnostics"]


def test_no_body_framing_is_411(server):
    sock = server.socket()
    sock.sendall(f"POST {PATH}?patientId=p1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\n\r\n".encode())
    status, _, body = svc.read_response(sock)
    assert status == 411 and "Content-Length or chunked" in svc.outcome(body)["diagnostics"]
    sock.close()


@pytest.mark.parametrize("framing", [
    b"Content-Length: 5\r\nContent-Length: 5\r\n",
    b"Content-Length: 5\r\nContent-Length: 6\r\n",
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    b"Content-Length: 5, 5\r\n",
])
def test_ambiguous_framing_is_400(server, framing):
    sock = server.socket()
    sock.sendall(f"POST {PATH}?patientId=p1 HTTP/1.1\r\nHost: x\r\n".encode() + framing + b"\r\nhello")
    status, headers, body = svc.read_response(sock)
    assert status == 400 and headers["connection"] == "close"
    assert svc.outcome(body)["diagnostics"].startswith("not a valid HTTP/1.1 request")
    sock.close()


def test_a_transfer_coding_other_than_chunked_is_501(server):
    sock = server.socket()
    sock.sendall(f"POST {PATH}?patientId=p1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                 f"5\r\nhello\r\n0\r\n\r\n".encode())
    status, _, body = svc.read_response(sock)
    assert status == 501 and "Transfer-Encoding" in svc.outcome(body)["diagnostics"]
    sock.close()


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "HEAD"])
def test_other_methods_on_the_convert_route_are_405_with_allow(server, method):
    resp, data = server.request(method, f"{PATH}?patientId=p1")
    assert resp.status == 405 and resp.getheader("Allow") == "OPTIONS, POST"
    if method != "HEAD":
        assert svc.outcome(data)["code"] == "not-supported"


def test_options_lists_the_allowed_methods(server):
    resp, data = server.request("OPTIONS", PATH)
    assert resp.status == 204 and resp.getheader("Allow") == "OPTIONS, POST" and data == b""


def test_an_unknown_path_is_404(server):
    resp, data = server.request("POST", "/convert?patientId=p1", CCD)
    assert resp.status == 404 and PATH in svc.outcome(data)["diagnostics"]
    resp, data = server.request("POST", f"{PATH}/?patientId=p1", CCD)      # no redirect to follow with a body
    assert resp.status == 404 and svc.outcome(data)["code"] == "not-found"
    resp, data = server.request("GET", "/nope")
    assert resp.status == 404 and svc.outcome(data)["code"] == "not-found"


# ---- health, readiness, docs ---------------------------------------------------------------------------

def test_health_and_ready(server):
    resp, data = server.request("GET", "/health")
    assert resp.status == 200 and orjson.loads(data) == {"status": "ok"}
    resp, data = server.request("GET", "/ready")
    assert resp.status == 200 and orjson.loads(data) == {"status": "ready", "workers": 2, "alive": 2, "pending": 0}
    resp, data = server.request("HEAD", "/health")
    assert resp.status == 200 and data == b""


def test_openapi_and_docs_are_served(server):
    resp, data = server.request("GET", "/openapi.json")
    assert resp.status == 200
    spec = orjson.loads(data)
    assert spec["openapi"].startswith("3.0") and spec["info"]["version"] == ccda2fhir.__version__
    assert PATH in spec["paths"]
    resp, page = server.request("GET", "/docs")
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/html")
    for asset in re.findall(rb'(?:href|src)="([^"]+)"', page):
        resp, data = server.request("GET", "/" + asset.decode())
        assert resp.status == 200 and len(data) > 100, asset      # served from the package, no CDN
    resp, script = server.request("GET", "/docs/init.js")
    assert b'"openapi.json"' in script


# ---- the log ---------------------------------------------------------------------------------------------

def test_one_json_line_per_request_without_clinical_content(server):
    resp, _ = server.convert(CCD, "log-1", {"X-Request-ID": "req-abc.123"})
    assert resp.getheader("X-Request-ID") == "req-abc.123"
    line = server.access("req-abc.123")
    bundle = ccda2fhir.convert(CCD, "log-1")
    composition = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Composition")
    assert line["status"] == 200 and line["patient_id"] == "log-1" and line["bytes_in"] == len(CCD)
    assert line["resources"] == len(bundle["entry"]) and line["unmapped"] >= 0 and line["duration_ms"] > 0
    assert line["document_id"] == f"{composition['identifier']['system']}|{composition['identifier']['value']}"
    assert line["method"] == "POST" and line["path"] == PATH and "patientId" not in orjson.dumps(line).decode()
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    text = server.log_path.read_text()
    assert patient["name"][0]["family"] not in text and patient["birthDate"] not in text


def test_a_request_id_that_is_not_a_plain_token_is_replaced(server):
    resp, _ = server.request("GET", "/health", headers={"X-Request-ID": "x" * 200})
    made = resp.getheader("X-Request-ID")
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert server.access(made)["status"] == 200


def test_errors_are_logged_with_their_class_not_their_message(server):
    resp, _ = server.convert(b"<ClinicalDocument><broken", "log-2", {"X-Request-ID": "req-bad-xml"})
    line = server.access("req-bad-xml")
    assert line["status"] == 400 and line["error"] == "structure" and line["error_class"] == "InvalidXMLError"
    assert "broken" not in orjson.dumps(line).decode()
