"""The HTTP shim on loopback: the Bundle for good input, an OperationOutcome otherwise."""
from __future__ import annotations

import http.client
import json
import threading

import pytest

import ccda2fhir
from ccda2fhir.serve.http import PATH, make_server
from conftest import SAMPLE_CCD


@pytest.fixture(scope="module")
def server():
    srv = make_server("127.0.0.1", 0, max_bytes=2_000_000)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address
    srv.shutdown()
    srv.server_close()


def request(addr, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(*addr, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def test_convert_endpoint_answers_the_same_bundle_as_the_library(server):
    resp, data = request(server, "POST", f"{PATH}?patientId=http-1", SAMPLE_CCD.read_bytes(),
                         {"Content-Type": "application/xml"})
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "application/fhir+json"
    assert json.loads(data) == ccda2fhir.convert(SAMPLE_CCD.read_bytes(), "http-1")
    assert "resources" in resp.getheader("X-Ccda2fhir-Summary")


def test_bad_xml_is_400_with_operation_outcome(server):
    resp, data = request(server, "POST", f"{PATH}?patientId=x", b"<ClinicalDocument><broken")
    assert resp.status == 400
    oo = json.loads(data)
    assert oo["resourceType"] == "OperationOutcome"
    assert "line 1" in oo["issue"][0]["diagnostics"]


def test_missing_patient_id_is_400(server):
    resp, data = request(server, "POST", PATH, SAMPLE_CCD.read_bytes())
    assert resp.status == 400 and b"patientId" in data


def test_too_large_is_413_before_reading_the_body(server):
    conn = http.client.HTTPConnection(*server, timeout=30)
    conn.putrequest("POST", f"{PATH}?patientId=x")
    conn.putheader("Content-Length", "2100000")
    conn.endheaders()  # the body is never sent: the answer must not wait for it
    resp = conn.getresponse()
    assert resp.status == 413
    assert b"over the limit" in resp.read()
    conn.close()


def test_unknown_path_is_404_and_health_is_ok(server):
    assert request(server, "POST", "/nope?patientId=x", b"<a/>")[0].status == 404
    resp, data = request(server, "GET", "/health")
    assert resp.status == 200 and json.loads(data) == {"status": "ok"}
