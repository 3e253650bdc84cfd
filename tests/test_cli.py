"""The command line: one file, stdin, folders, errors, the report."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

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
    # output names keep the input's suffix (issue 11: a/doc.xml and a/doc.ccda must not collide)
    a = json.loads((tmp_path / "out" / "a.xml.json").read_text())
    b = json.loads((tmp_path / "out" / "sub" / "b.xml.json").read_text())
    assert any(e["resource"]["id"] == "a" for e in a["entry"])  # {stem} patient ids
    assert any(e["resource"]["id"] == "b" for e in b["entry"])


# ---- limits, time limits and {stem} ids (issue 8, issue 7 §5) -------------------------------------------

def test_help_lists_every_limit_with_its_default_and_how_stem_ids_are_made():
    from ccda2fhir.limits import described
    r = run("convert", "--help")
    text = " ".join(r.stdout.decode().split())
    for name, default, _ in described():
        flag = "--" + name.replace("_", "-")
        shown = f"{default:g}" if name == "timeout" else f"{default}"
        assert flag in text and f"(default: {shown})" in text
    assert "SHA-256" in text and "{stem}" in text


def test_a_document_past_its_time_limit_is_one_error_line():
    r = run("convert", str(SAMPLE_CCD), "--patient-id", "p1", "--timeout", "0.001")
    assert r.returncode == 1 and r.stdout == b""
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "stopped after 0.001 s" in lines[0], r.stderr


def test_timeout_zero_converts_in_this_process():
    r = run("convert", str(SAMPLE_CCD), "--patient-id", "p1", "--timeout", "0")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["entry"][0]["resource"]["id"] == "p1"


@pytest.mark.parametrize("flag, value, needle", [
    ("--max-attributes", "3", b"over the limit of 3"),
    ("--max-depth", "4", b"deeper than 4 levels"),
    ("--max-bytes", "100", b"over the limit of 100"),
])
def test_limit_flags_reach_the_library(tmp_path, flag, value, needle):
    r = run("convert", str(SAMPLE_CCD), "--patient-id", "p1", flag, value)
    assert r.returncode == 1 and needle in r.stderr
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.xml").write_bytes(SAMPLE_CCD.read_bytes())
    (src / "b.xml").write_bytes(SAMPLE_CCD.read_bytes())
    r = run("convert", str(src), "-o", str(tmp_path / "out"), flag, value)
    assert r.returncode == 1 and r.stderr.count(needle) == 2


def test_an_invalid_patient_id_is_refused(tmp_path):
    r = run("convert", str(SAMPLE_CCD), "--patient-id", "john smith")
    assert r.returncode == 1 and b"not a valid FHIR id" in r.stderr
    r = run("convert", str(SAMPLE_CCD), str(SAMPLE_CCD), "-o", str(tmp_path), "--patient-id", "x" * 60 + "{stem}")
    assert r.returncode == 2 and b"leaves" in r.stderr


def test_stem_ids_are_valid_fhir_ids(tmp_path):
    from ccda2fhir.patient_ids import id_from_name
    src = tmp_path / "in"
    src.mkdir()
    for name in ("john smith.xml", "john_smith.xml", "CCD.xml"):
        (src / name).write_bytes(SAMPLE_CCD.read_bytes())
    r = run("convert", str(src), "-o", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    ids = {json.loads(p.read_text())["entry"][0]["resource"]["id"] for p in (tmp_path / "out").glob("*.json")}
    assert ids == {"CCD", id_from_name("john smith"), id_from_name("john_smith")}
    assert all(re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", i) for i in ids) and len(ids) == 3


def test_a_batch_document_past_its_time_limit_is_that_documents_error(tmp_path):
    """In-process, with a worker hook that makes the file named hang.xml loop forever."""
    from ccda2fhir import bulk
    from ccda2fhir.pool import ConversionPool
    from tests.support.pool_hooks import misbehave
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.xml", "hang.xml", "b.xml"):
        (src / name).write_bytes(SAMPLE_CCD.read_bytes())
    outcomes = {}
    with ConversionPool(2, timeout=1, initializer=misbehave) as pool:
        bulk.BulkConversion(bulk.iter_documents([src]), bulk.BundleFiles(tmp_path / "out", src),
                            pool=pool).run(lambda o: outcomes.setdefault(Path(o.source).name, o))
    assert "stopped after 1 s" in outcomes["hang.xml"].error and outcomes["hang.xml"].output is None
    assert outcomes["a.xml"].error is None and outcomes["b.xml"].error is None
    assert json.loads(Path(outcomes["a.xml"].output).read_text())["entry"][0]["resource"]["id"] == "a"
