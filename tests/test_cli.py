"""The command line: one file, stdin, folders, errors, the report."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import SAMPLE_CCD


def run(*args, stdin: bytes | None = None):
    return subprocess.run([sys.executable, "-m", "ccda2fhir", *args], input=stdin, capture_output=True)


def test_convert_one_file_to_stdout():
    r = run("convert", str(SAMPLE_CCD), "--patient-id", "cli-1")
    assert r.returncode == 0, r.stderr
    bundle = json.loads(r.stdout)
    assert bundle["type"] == "batch"
    assert any(e["resource"]["id"] == "cli-1" for e in bundle["entry"])
    assert b"entries" in r.stderr and b"resources" in r.stderr  # the one-line report summary


def test_convert_stdin_to_file_pretty_with_report(tmp_path):
    out, rep = tmp_path / "b.json", tmp_path / "r.json"
    r = run("convert", "-", "--patient-id", "cli-2", "-o", str(out), "--pretty", "--report", str(rep),
            stdin=SAMPLE_CCD.read_bytes())
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert text.startswith("{\n  ")
    assert json.loads(text)["entry"][0]["resource"]["id"] == "cli-2"
    report = json.loads(rep.read_text())
    assert report["entries"] > 0 and report["resources"] == len(json.loads(text)["entry"])


@pytest.mark.parametrize("payload, needle", [
    (b"this is not xml", b"not well-formed XML"),
    (b"<note><to>x</to></note>", b"not an HL7 CDA"),
    (b"", b"empty"),
])
def test_bad_input_exits_non_zero_with_one_line(payload, needle):
    r = run("convert", "-", "--patient-id", "x", stdin=payload)
    assert r.returncode == 1
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ccda2fhir: error:")
    assert needle in r.stderr
    assert r.stdout == b""


def test_missing_patient_id_is_a_usage_error():
    r = run("convert", str(SAMPLE_CCD))
    assert r.returncode == 2


def test_folder_of_documents(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "a.xml").write_bytes(SAMPLE_CCD.read_bytes())
    (src / "sub" / "b.xml").write_bytes(SAMPLE_CCD.read_bytes())
    (src / "bad.xml").write_bytes(b"<oops")
    r = run("convert", str(src), "-o", str(tmp_path / "out"), "--jobs", "2")
    assert r.returncode == 1  # one bad file
    assert b"bad.xml" in r.stderr and b"converted 2 of 3" in r.stderr
    a = json.loads((tmp_path / "out" / "a.json").read_text())
    b = json.loads((tmp_path / "out" / "sub" / "b.json").read_text())
    assert any(e["resource"]["id"] == "a" for e in a["entry"])  # {stem} patient ids
    assert any(e["resource"]["id"] == "b" for e in b["entry"])
