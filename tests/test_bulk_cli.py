"""Issue 11: `ccda2fhir convert` over many documents: Bundle files and NDJSON, the report, lists of
paths, patient ids, and the command line as a new user meets it (one-line errors, exit codes)."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

import ccda2fhir
from tests.conftest import CORPUS, FIXTURES, SAMPLE_CCD, corpus_documents, needs_corpus

DOCS = FIXTURES / "hl7-c-cda-examples" / "Documents"
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
BROKEN = b"<ClinicalDocument xmlns='urn:hl7-org:v3'>\n<title>x</titel>\n</ClinicalDocument>"


def run(*args, stdin: bytes | None = None, cwd=None):
    return subprocess.run([sys.executable, "-m", "ccda2fhir", *map(str, args)], input=stdin, capture_output=True,
                          cwd=cwd, timeout=600)


def one_error_line(r) -> str:
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ccda2fhir: error:"), r.stderr
    return lines[0]


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> tuple[Path, list[Path]]:
    """HL7's example documents (CC0) in two folders, a broken file in the middle; and the list of
    them in the order a --from-list gives."""
    root = tmp_path_factory.mktemp("archive")
    sources = sorted(DOCS.glob("*/*.xml")) + [SAMPLE_CCD]
    paths = []
    for i, src in enumerate(sources):
        if i == 3:
            (root / "b").mkdir(exist_ok=True)
            paths.append(root / "b" / "broken.xml")
            paths[-1].write_bytes(BROKEN)
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(exist_ok=True)
        paths.append(folder / src.name)
        shutil.copyfile(src, paths[-1])
    return root, paths


def expected_ndjson(report_lines: list[dict]) -> dict[str, bytes]:
    """Type/id -> the JSON line the first document (in report order) gave it, converting each
    document in this process with the patient id the run used."""
    first: dict[str, bytes] = {}
    for line in report_lines:
        if line["status"] != "converted":
            continue
        bundle = ccda2fhir.convert(Path(line["source"]), line["patient_id"])
        for e in bundle["entry"]:
            r = e["resource"]
            first.setdefault(f"{r['resourceType']}/{r['id']}", orjson.dumps(r))
    return first


def read_ndjson(out: Path) -> dict[str, bytes]:
    got: dict[str, bytes] = {}
    for f in sorted(out.glob("*.ndjson")):
        data = f.read_bytes()
        assert data.endswith(b"\n")
        for raw in data.splitlines():
            r = orjson.loads(raw)
            assert r["resourceType"] == f.stem
            key = f"{r['resourceType']}/{r['id']}"
            assert key not in got, f"{key} written twice"
            got[key] = raw
    return got


def report_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---- NDJSON --------------------------------------------------------------------------------------------

def test_ndjson_holds_exactly_the_distinct_resources_of_the_bundles(archive, tmp_path):
    root, paths = archive
    out, rep = tmp_path / "out", tmp_path / "report.jsonl"
    listing = "".join(f"{p}\n" for p in paths).encode()
    r = run("convert", "--from-list", "-", "--format", "ndjson", "-o", out, "--report", rep, "--jobs", "2",
            stdin=listing)
    assert r.returncode == 1, r.stderr                   # the broken file fails, the rest converts
    stderr = r.stderr.decode()
    assert stderr.count("ccda2fhir: error:") == 1 and "broken.xml" in stderr and "line 2" in stderr
    assert f"converted {len(paths) - 1} of {len(paths)} documents" in stderr
    lines = report_of(rep)
    assert [line["source"] for line in lines] == [str(p) for p in paths]     # input order
    [failed] = [line for line in lines if line["status"] == "failed"]
    assert failed["source"].endswith("broken.xml") and failed["error"]["class"] == "InvalidXMLError"
    expected = expected_ndjson(lines)
    assert read_ndjson(out) == expected                  # same Type/id set, same content, each once
    # the report accounts for every resource of every Bundle: written here, or written earlier
    converted = [line for line in lines if line["status"] == "converted"]
    assert sum(line["written"] for line in converted) == len(expected)
    assert all(line["written"] + line["duplicates"] + len(line["conflicts"]) == line["resources"]
               for line in converted)
    conflicts = [c for line in converted for c in line["conflicts"]]
    assert conflicts and all(c in expected for c in conflicts)   # HL7's examples describe one doctor differently
    assert "the first kept" in stderr and "resources written: " in stderr


def test_ndjson_output_does_not_depend_on_the_number_of_jobs(archive, tmp_path):
    root, paths = archive
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{p}\n" for p in paths))
    outputs = []
    for jobs in (1, 2):
        out = tmp_path / f"out{jobs}"
        run("convert", "--from-list", listing, "--format", "ndjson", "-o", out, "--jobs", jobs,
            "--patient-id-from", "document")
        outputs.append({f.name: f.read_bytes() for f in out.glob("*.ndjson")})
    assert outputs[0] == outputs[1] and len(outputs[0]) > 20


def test_a_folder_in_both_formats(archive, tmp_path):
    root, paths = archive
    r = run("convert", root, "--format", "ndjson", "-o", tmp_path / "nd", "--report", tmp_path / "nd.jsonl")
    assert r.returncode == 1 and b"broken.xml" in r.stderr
    lines = report_of(tmp_path / "nd.jsonl")
    assert sorted(line["source"] for line in lines) == sorted(map(str, paths))
    assert read_ndjson(tmp_path / "nd") == expected_ndjson(lines)
    r = run("convert", root, "-o", tmp_path / "bundles", "--report", tmp_path / "b.jsonl")
    assert r.returncode == 1 and f"converted {len(paths) - 1} of {len(paths)}".encode() in r.stderr
    for line in report_of(tmp_path / "b.jsonl"):
        if line["status"] == "failed":
            assert line["source"].endswith("broken.xml")
            continue
        src = Path(line["source"])
        out = Path(line["output"])
        assert out == tmp_path / "bundles" / src.relative_to(root).parent / (src.name + ".json")
        bundle = json.loads(out.read_bytes())
        assert bundle == ccda2fhir.convert(src, line["patient_id"])
        assert line["patient_id"] == src.stem.replace("_", "-") or FHIR_ID.fullmatch(line["patient_id"])
        assert line["resources"] == len(bundle["entry"]) and isinstance(line["issues"], list)


def test_ndjson_refuses_to_mix_with_an_earlier_run_unless_asked(tmp_path):
    out = tmp_path / "out"
    assert run("convert", SAMPLE_CCD, "--format", "ndjson", "-o", out).returncode == 0
    (out / "Stale.ndjson").write_bytes(b'{"resourceType":"Stale","id":"x"}\n')
    r = run("convert", SAMPLE_CCD, "--format", "ndjson", "-o", out)
    assert r.returncode == 2 and "--overwrite" in one_error_line(r)
    r = run("convert", SAMPLE_CCD, "--format", "ndjson", "-o", out, "--overwrite")
    assert r.returncode == 0 and not (out / "Stale.ndjson").exists() and (out / "Patient.ndjson").is_file()


def test_ndjson_to_stdout_is_one_resource_a_line(tmp_path):
    r = run("convert", SAMPLE_CCD, SAMPLE_CCD, "--format", "ndjson", "-o", "-", "--patient-id", "same-1")
    assert r.returncode == 0, r.stderr
    resources = [orjson.loads(line) for line in r.stdout.splitlines()]
    bundle = ccda2fhir.convert(SAMPLE_CCD, "same-1")
    assert len(resources) == len(bundle["entry"])       # the second document repeats the first: written once
    assert resources[0] == bundle["entry"][0]["resource"]


# ---- inputs, names, patient ids --------------------------------------------------------------------------

def test_from_list_on_stdin_with_names_holding_spaces(tmp_path):
    src = tmp_path / "in dir"
    src.mkdir()
    (src / "first doc.xml").write_bytes(SAMPLE_CCD.read_bytes())
    (src / "second.cda").write_bytes(SAMPLE_CCD.read_bytes())
    listing = f"{src / 'first doc.xml'}\n\n{src / 'second.cda'}\r\n".encode()
    r = run("convert", "--from-list", "-", "-o", tmp_path / "out", "--root", src, stdin=listing)
    assert r.returncode == 0, r.stderr
    assert b"converted 2 of 2" in r.stderr
    ids = {json.loads((tmp_path / "out" / name).read_bytes())["entry"][0]["resource"]["id"]
           for name in ("first doc.xml.json", "second.cda.json")}
    assert ids == {ccda2fhir.patient_ids.id_from_name("first doc"), "second"}


def test_colliding_names_never_lose_a_document(tmp_path):
    for rel in ("a/doc.xml", "a/doc.ccda", "b/doc.xml"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_bytes(SAMPLE_CCD.read_bytes())
    r = run("convert", "a/doc.xml", "a/doc.ccda", "b/doc.xml", "-o", "out", cwd=tmp_path)
    assert r.returncode == 0 and b"converted 3 of 3" in r.stderr
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.json")) == \
        ["a/doc.ccda.json", "a/doc.xml.json", "b/doc.xml.json"]


def test_a_listed_path_outside_the_mirrored_root_is_that_documents_error(tmp_path):
    inside = tmp_path / "root"
    inside.mkdir()
    (inside / "a.xml").write_bytes(SAMPLE_CCD.read_bytes())
    listing = f"{inside / 'a.xml'}\n{SAMPLE_CCD}\n".encode()
    r = run("convert", "--from-list", "-", "-o", tmp_path / "out", "--root", inside, stdin=listing)
    assert r.returncode == 1 and b"outside" in r.stderr and b"converted 1 of 2" in r.stderr
    assert [p.name for p in (tmp_path / "out").rglob("*.json")] == ["a.xml.json"]


def test_patient_ids_from_the_document_are_valid_and_shared_by_one_patient(archive, tmp_path):
    root, paths = archive
    r = run("convert", root, "-o", tmp_path / "out", "--patient-id-from", "document", "--report", tmp_path / "r")
    lines = [line for line in report_of(tmp_path / "r") if line["status"] == "converted"]
    ids = {Path(line["source"]).name: line["patient_id"] for line in lines}
    assert all(FHIR_ID.fullmatch(i) for i in ids.values())
    assert ids["CCD.xml"] == ids["Care_Plan.xml"]        # one patient (same SSN and birth date) in both
    assert ids["CCD.xml"] != ids["Discharge_Summary.xml"]
    for line in lines:
        assert json.loads(Path(line["output"]).read_bytes())["entry"][0]["resource"]["id"] == line["patient_id"]


def test_max_bytes_applies_to_every_document_of_a_folder(tmp_path):
    for name in ("a.xml", "b.xml"):
        (tmp_path / name).write_bytes(SAMPLE_CCD.read_bytes())
    r = run("convert", tmp_path, "-o", tmp_path / "out", "--max-bytes", "1000", "--format", "ndjson")
    assert r.returncode == 1 and r.stderr.count(b"over the limit of 1000") == 2


# ---- the command line as a new user meets it ------------------------------------------------------------

@pytest.mark.parametrize("args, needle", [
    (["convert", SAMPLE_CCD, "--patient-id", "p", "-o", "/nonexistent/dir/x.json"], "does not exist"),
    (["convert", DOCS, "-o", SAMPLE_CCD], "is a file"),
    (["convert", DOCS, "-o", "OUT", "--jobs", "-1"], "--jobs"),
    (["convert", DOCS, "-o", "OUT", "--jobs", "many"], "--jobs"),
    (["convert", DOCS, "-o", "OUT", "--timeout", "-3"], "--timeout"),
    (["convert", DOCS, "-o", "OUT", "--max-bytes", "0"], "--max-bytes"),
    (["convert", DOCS], "-o/--output"),
    (["convert", "/nonexistent.xml", "--patient-id", "p"], "no such file"),
    (["convert", DOCS, "/nonexistent", "-o", "OUT"], "no such file or folder"),
    (["convert", "--from-list", "/nonexistent.txt", "-o", "OUT"], "no such file"),
    (["convert", DOCS, "-o", "OUT", "--format", "ndjson", "--pretty"], "--pretty"),
    (["convert", DOCS, "-o", "-", "--pretty"], "--pretty"),
    (["convert", SAMPLE_CCD, "--patient-id", "p", "--patient-id-from", "document"], "not allowed with"),
    (["convert", SAMPLE_CCD], "--patient-id"),
    (["convert", "-", SAMPLE_CCD, "-o", "OUT"], "stdin"),
    (["convert"], "no input"),
    (["convert", DOCS, "-o", "OUT", "--format", "csv"], "invalid choice"),
    (["convert", DOCS, "-o", "OUT", "--root", SAMPLE_CCD.parent / "Results"], "outside --root"),
    ([], "required"),
])
def test_every_user_error_is_one_line_and_exit_2(tmp_path, args, needle):
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert needle in one_error_line(r) and r.stdout == b""
    assert not (tmp_path / "OUT").exists()


def test_dash_output_is_stdout(tmp_path):
    r = run("convert", SAMPLE_CCD, "--patient-id", "p-1", "-o", "-", cwd=tmp_path)
    assert r.returncode == 0 and json.loads(r.stdout)["entry"][0]["resource"]["id"] == "p-1"
    assert not (tmp_path / "-").exists()
    r = run("convert", SAMPLE_CCD, SAMPLE_CCD, "-o", "-", "--patient-id", "p-2", cwd=tmp_path)
    bundles = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 0 and len(bundles) == 2 and bundles[0] == bundles[1]
    assert not (tmp_path / "-").exists()


def test_one_document_into_an_existing_folder(tmp_path):
    r = run("convert", SAMPLE_CCD, "--patient-id", "p-1", "-o", tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "CCD.xml.json").read_bytes())["entry"][0]["resource"]["id"] == "p-1"


def test_version():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.decode().startswith(f"ccda2fhir {ccda2fhir.__version__}")


@pytest.mark.parametrize("command", ["convert", "serve"])
def test_help_gives_every_option_a_default(command):
    text = run(command, "--help").stdout.decode()
    options = text[text.index("options:"):]
    # one entry per option: a line starting with '-' (its help may wrap over several lines)
    entries = re.split(r"\n  (?=-)", options)[1:]
    assert len(entries) > 2
    for entry in entries:
        if entry.startswith("-h"):
            continue
        assert "default" in " ".join(entry.split()), entry


def test_report_help_says_it_holds_every_issue():
    text = " ".join(run("convert", "--help").stdout.decode().split())
    assert "every issue of its conversion" in text


# ---- Ctrl-C ------------------------------------------------------------------------------------------

def test_ctrl_c_stops_cleanly_leaving_only_whole_lines(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    documents = sorted(DOCS.glob("*/*.xml")) + [SAMPLE_CCD]
    for i in range(120):
        shutil.copyfile(documents[i % len(documents)], src / f"doc{i:03}.xml")   # each its own patient ({stem})
    out, rep = tmp_path / "out", tmp_path / "report.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "ccda2fhir", "convert", str(src), "--format", "ndjson",
                             "-o", str(out), "--report", str(rep), "--jobs", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    end = time.monotonic() + 120
    while time.monotonic() < end and (not rep.exists() or rep.read_bytes().count(b"\n") < 5):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert b"interrupted" in stderr and b"Traceback" not in stderr
    done = rep.read_bytes()
    assert done.endswith(b"\n") and 5 <= done.count(b"\n") < 120
    for f in list(out.glob("*.ndjson")) + [rep]:
        data = f.read_bytes()
        assert data.endswith(b"\n"), f
        for line in data.splitlines():
            orjson.loads(line)


# ---- the whole corpus ---------------------------------------------------------------------------------

@needs_corpus
@pytest.mark.corpus
def test_corpus_documents_with_a_broken_file_in_the_middle(tmp_path):
    documents = [p for p in corpus_documents() if p.stat().st_size < 2_000_000][:60]
    broken = tmp_path / "broken.xml"
    broken.write_bytes(BROKEN)
    paths = documents[:30] + [broken] + documents[30:]
    listing = "".join(f"{p}\n" for p in paths).encode()
    rep = tmp_path / "r.jsonl"
    r = run("convert", "--from-list", "-", "--format", "ndjson", "-o", tmp_path / "nd", "--report", rep,
            "--patient-id-from", "document", stdin=listing)
    lines = report_of(rep)
    assert [line["source"] for line in lines] == [str(p) for p in paths]
    failed = [line for line in lines if line["status"] == "failed"]
    assert r.returncode == 1 and broken.name in failed[0]["source"]
    assert read_ndjson(tmp_path / "nd") == expected_ndjson(lines)
    r = run("convert", "--from-list", "-", "-o", tmp_path / "b", "--root", "/", stdin=listing)
    assert r.returncode == 1
    assert len(list((tmp_path / "b").rglob("*.json"))) == len(paths) - len(failed)
