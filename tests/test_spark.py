"""ccda2fhir.spark in Spark's local[2] mode: the same Bundles as convert(), the same resources as
the CLI's NDJSON. One Spark session for the whole file; skipped where pyspark or Java is missing."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import ccda2fhir
from tests.conftest import FIXTURES, SAMPLE_CCD

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed: pip install \"ccda2fhir[spark]\"")
if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
    pytest.skip("Java is missing: Spark needs a JDK (17 or later) on PATH or in JAVA_HOME", allow_module_level=True)

from ccda2fhir.spark import convert_df, resources_df  # noqa: E402

DOCS = sorted((FIXTURES / "hl7-c-cda-examples" / "Documents").glob("*/*.xml")) + [SAMPLE_CCD]
BROKEN = b"<ClinicalDocument xmlns='urn:hl7-org:v3'>\n<title>x</titel>\n</ClinicalDocument>"


@pytest.fixture(scope="session")
def spark():
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)   # executors run this interpreter (and its ccda2fhir)
    from pyspark.sql import SparkSession
    session = (SparkSession.builder.master("local[2]").appName("ccda2fhir-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def documents(spark):
    rows = [(i, p.read_bytes(), p.stem.replace("_", "-")) for i, p in enumerate(DOCS)]
    rows.insert(3, (len(DOCS), BROKEN, "broken"))
    return spark.createDataFrame(rows, "n long, xml binary, patient_id string").repartition(2)


def test_convert_df_gives_the_bundles_convert_gives(documents):
    rows = {r.n: r for r in convert_df(documents).collect()}
    assert len(rows) == len(DOCS) + 1
    broken = rows[len(DOCS)]
    assert broken.bundle is None and broken.error.startswith("InvalidXMLError: ") and "line 2" in broken.error
    for i, path in enumerate(DOCS):
        assert rows[i].error is None
        assert rows[i].bundle.encode() == ccda2fhir.convert_to_json(path.read_bytes(), rows[i].patient_id)


def test_convert_df_reads_text_and_makes_patient_ids_from_the_document(spark):
    df = spark.createDataFrame([(SAMPLE_CCD.read_text(),), (None,)], "doc string")
    ok, missing = convert_df(df, xml_col="doc", patient_id_col=None).collect()
    assert json.loads(ok.bundle) == ccda2fhir.convert(SAMPLE_CCD, ccda2fhir.FROM_DOCUMENT)
    assert missing.bundle is None and "null" in missing.error


def test_resources_df_gives_the_resources_of_the_cli_ndjson(spark, documents, tmp_path):
    bundles = convert_df(documents)
    resources = {f"{r.resource_type}/{r.id}": r.resource.encode()
                 for r in resources_df(bundles, order_col="n").collect()}
    # the CLI over the same documents, in the same order, with the same patient ids
    order = sorted(documents.select("n", "patient_id").collect())
    listing, ndjson = [], {}
    for n, patient_id in order:
        if n < len(DOCS):
            link = tmp_path / "in" / f"{patient_id}.xml"
            link.parent.mkdir(exist_ok=True)
            shutil.copyfile(DOCS[n], link)
            listing.append(f"{link}\n")
    subprocess.run([sys.executable, "-m", "ccda2fhir", "convert", "--from-list", "-", "--format", "ndjson",
                    "-o", str(tmp_path / "out")], input="".join(listing).encode(), check=True, capture_output=True)
    for f in (tmp_path / "out").glob("*.ndjson"):
        for line in f.read_bytes().splitlines():
            r = orjson.loads(line)
            ndjson[f"{r['resourceType']}/{r['id']}"] = line
    assert resources == ndjson


def test_resources_df_without_an_order_never_depends_on_partitioning(documents):
    once = sorted(resources_df(convert_df(documents)).collect())
    again = sorted(resources_df(convert_df(documents.repartition(3))).collect())
    assert once == again
    assert len({(r.resource_type, r.id) for r in once}) == len(once)


def test_the_example_script_writes_ndjson_per_resource_type(spark, tmp_path):
    import runpy
    example = runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "spark_bulk.py"))
    src = tmp_path / "in" / "sub"
    src.mkdir(parents=True)
    for path in DOCS[:3]:
        shutil.copyfile(path, src / path.name)
    (src / "broken.xml").write_bytes(BROKEN)
    (src / "notes.txt").write_text("not a document")
    out = tmp_path / "out"
    counts = example["run"](spark, str(tmp_path / "in"), str(out), "ndjson", "stem")
    assert counts == {"documents": 4, "failed": 1}
    written = {}
    for folder in out.glob("resource_type=*"):
        for f in folder.glob("part-*"):
            for line in f.read_text().splitlines():
                r = json.loads(line)
                assert r["resourceType"] == folder.name.split("=", 1)[1]
                written[f"{r['resourceType']}/{r['id']}"] = r
    expected = {}
    for path in sorted(DOCS[:3], key=lambda p: p.name):   # first by path wins, as the CLI's first in order
        for e in ccda2fhir.convert(path, ccda2fhir.patient_ids.patient_id_for("{stem}", path))["entry"]:
            expected.setdefault(f"{e['resource']['resourceType']}/{e['resource']['id']}", e["resource"])
    assert written == expected
    errors = [json.loads(line) for f in (out / "_errors").glob("part-*") for line in f.read_text().splitlines()]
    assert [Path(e["path"]).name for e in errors] == ["broken.xml"]
