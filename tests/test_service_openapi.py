"""The service's OpenAPI document is its contract: every error documented with an example
OperationOutcome that is valid FHIR, and schemathesis, generating requests from the document
against the real server, finds no 500 and no answer the document does not describe."""
from __future__ import annotations

import re
import subprocess
import sys

import orjson
import pytest

from ccda2fhir.serve.openapi import document
from tests.support import service as svc

SPEC = orjson.loads(document())
CONVERT = SPEC["paths"][svc.PATH]["post"]
# Every status the service answers on the convert route (tests/test_service*.py reach each one).
ANSWERED = {"200", "400", "401", "408", "411", "413", "415", "422", "431", "500", "501", "503", "504"}


@pytest.fixture(scope="module")
def server():
    s = svc.start("--workers", "2", "--timeout", "30")
    yield s
    assert s.stop() == 0


def test_every_status_the_convert_route_answers_is_documented():
    assert set(CONVERT["responses"]) == ANSWERED


def test_every_error_has_example_operation_outcomes_that_are_valid_fhir(validate):
    for status, response in CONVERT["responses"].items():
        if status == "200":
            continue
        examples = response["content"]["application/fhir+json"]["examples"]
        assert examples, status
        for name, example in examples.items():
            oo = example["value"]
            assert validate(oo) == [], (status, name)
            assert oo["issue"][0]["diagnostics"] and "\n" not in oo["issue"][0]["diagnostics"]
        assert "X-Request-ID" in response["headers"]


def test_the_document_names_the_limits_and_the_accepted_types():
    assert set(CONVERT["requestBody"]["content"]) == {"application/xml", "text/xml", "application/hl7-cda+xml",
                                                      "application/octet-stream"}
    patient = next(p for p in CONVERT["parameters"] if p["name"] == "patientId")
    assert patient["required"] and patient["schema"]["pattern"] == "^[A-Za-z0-9\\-.]{1,64}$"
    assert "--max-bytes" in CONVERT["description"] and "gzip" in CONVERT["description"]


CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
          "response_schema_conformance", "negative_data_rejection", "unsupported_method", "allow_header_conformance")


def test_generated_requests_get_only_documented_answers(server, tmp_path):
    """schemathesis's own runner (its pytest plugin does not run under pytest 9): the document's
    examples, its coverage phase (every parameter and body at and past its bounds, missing,
    other methods) and random fuzzing, each answer checked against the document."""
    done = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"http://127.0.0.1:{server.port}/openapi.json",
         "--checks", ",".join(CHECKS), "--phases", "examples,coverage,fuzzing", "--max-examples", "100",
         "--workers", "1", "--generation-database", "none", "--no-color", "--request-timeout", "60"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)   # its cache stays out of the checkout
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-3000:]
    assert "No issues found" in done.stdout, done.stdout[-5000:]
    generated = int(re.search(r"(\d+) generated", done.stdout).group(1))
    assert generated > 150, done.stdout[-3000:]
    # they reached the conversion route and were answered there
    answered = {line.get("status") for line in server.logs() if line.get("path") == svc.PATH}
    assert {200, 400, 405, 415} <= answered, answered
