"""Convert a folder (or bucket) of C-CDA documents to FHIR with Apache Spark, one output per resource type.

Locally (Spark in this process, every core):

    pip install "ccda2fhir[spark]"
    python examples/spark_bulk.py ccda/ fhir/ --format ndjson

On a cluster, unchanged (each executor needs ccda2fhir installed, or ship a wheel with --py-files):

    spark-submit --master yarn examples/spark_bulk.py s3a://lake/ccda/ s3a://lake/fhir/ --format parquet

Output: OUT/resource_type=<Type>/part-*.txt (NDJSON: one resource a line) or part-*.parquet
(columns id, resource), each (type, id) once: when documents disagree about one id, the first
document by path wins, as the CLI's NDJSON keeps the first in its input order. Documents that
fail are listed with their error in OUT/_errors/ (JSON lines: path, error).
"""
from __future__ import annotations

import argparse
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ccda2fhir.patient_ids import patient_id_for
from ccda2fhir.spark import convert_df, resources_df

GLOB = "*.{xml,XML,ccda,cda}"


def run(spark: SparkSession, source: str, out: str, fmt: str = "ndjson", patient_ids: str = "document") -> dict:
    """Convert every C-CDA file under ``source`` into ``out``; returns the counts."""
    files = (spark.read.format("binaryFile").option("recursiveFileLookup", "true")
             .option("pathGlobFilter", GLOB).load(source).select("path", "content"))
    if patient_ids == "stem":    # the CLI's {stem}: each file's name, made a valid FHIR id
        stem_id = F.udf(lambda path: patient_id_for("{stem}", _path(path)), "string")
        files = files.withColumn("patient_id", stem_id("path"))
        converted = convert_df(files, xml_col="content", patient_id_col="patient_id")
    else:                        # one id per patient, read from each document's recordTarget
        converted = convert_df(files, xml_col="content", patient_id_col=None)
    converted = converted.drop("content").persist()     # converted once, read twice below
    try:
        resources = resources_df(converted, order_col="path")
        if fmt == "parquet":
            resources.write.mode("overwrite").partitionBy("resource_type").parquet(out)
        else:
            resources.select("resource_type", "resource").write.mode("overwrite").partitionBy("resource_type").text(out)
        converted.filter("error IS NOT NULL").select("path", "error").write.mode("overwrite").json(f"{out}/_errors")
        counts = converted.agg(F.count("*").alias("documents"), F.count("error").alias("failed")).first()
        return {"documents": counts.documents, "failed": counts.failed}
    finally:
        converted.unpersist()


def _path(uri: str):
    from pathlib import PurePosixPath
    return PurePosixPath(uri.rsplit("/", 1)[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", help="folder or URI of C-CDA files (.xml, .ccda, .cda), read recursively")
    ap.add_argument("out", help="output folder or URI (replaced)")
    ap.add_argument("--format", choices=("ndjson", "parquet"), default="ndjson", help="(default: ndjson)")
    ap.add_argument("--patient-ids", choices=("document", "stem"), default="document",
                    help="document: from each recordTarget; stem: from each file name (default: document)")
    ap.add_argument("--master", help="Spark master when run with python (default: spark-submit's, else local[*])")
    a = ap.parse_args(argv)
    builder = SparkSession.builder.appName("ccda2fhir")
    if a.master:
        builder = builder.master(a.master)
    spark = builder.getOrCreate()
    try:
        counts = run(spark, a.source, a.out, a.format, a.patient_ids)
    finally:
        spark.stop()
    print(f"converted {counts['documents'] - counts['failed']} of {counts['documents']} documents into {a.out}",
          file=sys.stderr)
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
