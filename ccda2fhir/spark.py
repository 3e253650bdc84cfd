"""C-CDA to FHIR on Apache Spark: ``convert_df`` and ``resources_df`` (``pip install "ccda2fhir[spark]"``).

    from ccda2fhir.spark import convert_df, resources_df
    bundles = convert_df(df, xml_col="xml", patient_id_col="patient_id")   # + bundle, error columns
    resources_df(bundles).write.partitionBy("resource_type").parquet("out/")

Both run as ``mapInArrow`` tasks: each executor's Python worker imports ccda2fhir once and keeps
its compiled templates between tasks and batches (Spark reuses Python workers), and rows cross
between the JVM and Python as Arrow batches. The conversion is ``ccda2fhir.convert_to_json``, so
a Bundle is byte for byte the one ``convert`` gives.
"""
from __future__ import annotations

from typing import Iterator

try:
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType
except ImportError as exc:   # pragma: no cover - depends on the environment
    raise ImportError("ccda2fhir.spark needs pyspark: pip install \"ccda2fhir[spark]\"") from exc

RESOURCE_SCHEMA = StructType([StructField("resource_type", StringType()), StructField("id", StringType()),
                              StructField("resource", StringType())])


def convert_df(df: DataFrame, xml_col: str = "xml", patient_id_col: str | None = "patient_id", *,
               bundle_col: str = "bundle", error_col: str = "error", **options) -> DataFrame:
    """``df`` with two more columns: ``bundle`` (the Bundle as a JSON string, null on failure) and
    ``error`` (``"<ErrorClass>: <message>"``, null on success).

    ``xml_col`` holds each document (string or binary, as ``binaryFile``'s ``content``);
    ``patient_id_col`` its Patient id, or None for ids made from each document's recordTarget
    (``ccda2fhir.FROM_DOCUMENT``). ``options``: convert()'s (limits, embed_source).
    """
    schema = StructType(df.schema.fields + [StructField(bundle_col, StringType(), True),
                                            StructField(error_col, StringType(), True)])

    def convert_batches(batches):
        from ccda2fhir.spark import _convert_batches   # in the executor: imported (and warmed) once
        return _convert_batches(batches, xml_col, patient_id_col, (bundle_col, error_col), options)

    return df.mapInArrow(convert_batches, schema)


def resources_df(bundles: DataFrame, bundle_col: str = "bundle", order_col: str | None = None) -> DataFrame:
    """Every resource of the Bundles, one row each (``resource_type``, ``id``, ``resource`` JSON),
    each ``(resource_type, id)`` once; rows without a Bundle (failed conversions) give nothing.

    When two Bundles hold one id with different content (a practitioner two documents describe
    differently), the row kept is the one whose ``order_col`` is least, as the CLI's NDJSON keeps
    the first document's; without ``order_col``, the least JSON, so that the result never depends
    on partitioning.
    """
    columns = [bundle_col] + ([order_col] if order_col else [])
    order_field = [bundles.schema[order_col]] if order_col else []
    exploded_schema = StructType(RESOURCE_SCHEMA.fields + order_field)

    def explode_batches(batches):
        from ccda2fhir.spark import _explode_batches
        return _explode_batches(batches, bundle_col, order_col, exploded_schema)

    rows = bundles.select(*columns).mapInArrow(explode_batches, exploded_schema)
    keys = ["resource_type", "id"]
    if order_col is None:
        return rows.groupBy(*keys).agg(F.min("resource").alias("resource"))
    kept = F.min_by("resource", F.struct(F.col(order_col), F.col("resource")))
    return rows.groupBy(*keys).agg(kept.alias("resource"))


# ---- executor side ----------------------------------------------------------------------------------

def _convert_batches(batches, xml_col: str, patient_id_col: str | None, added: tuple[str, str],
                     options: dict) -> Iterator:
    import pyarrow as pa

    from .convert import convert_to_json
    from .errors import ConversionError
    from .patient_ids import FROM_DOCUMENT
    from .pool import warm
    warm()
    for batch in batches:
        documents = batch.column(xml_col).to_pylist()
        patients = batch.column(patient_id_col).to_pylist() if patient_id_col else [FROM_DOCUMENT] * len(documents)
        bundles, errors = [], []
        for xml, patient_id in zip(documents, patients):
            try:
                if xml is None:
                    raise ConversionError(f"no document: {xml_col} is null")
                bundles.append(convert_to_json(xml, patient_id, **options).decode())
                errors.append(None)
            except ConversionError as exc:
                bundles.append(None)
                errors.append(f"{type(exc).__name__}: {exc}")
        yield pa.RecordBatch.from_arrays(batch.columns + [pa.array(bundles, pa.string()), pa.array(errors, pa.string())],
                                         names=batch.schema.names + list(added))


def _explode_batches(batches, bundle_col: str, order_col: str | None, schema) -> Iterator:
    import orjson
    import pyarrow as pa
    for batch in batches:
        bundles = batch.column(bundle_col).to_pylist()
        orders = batch.column(order_col).to_pylist() if order_col else [None] * len(bundles)
        types, ids, jsons, keep_order = [], [], [], []
        for bundle, order in zip(bundles, orders):
            if bundle is None:
                continue
            for entry in orjson.loads(bundle)["entry"]:
                resource = entry["resource"]
                types.append(resource["resourceType"])
                ids.append(resource["id"])
                jsons.append(orjson.dumps(resource).decode())
                keep_order.append(order)
        arrays = [pa.array(types, pa.string()), pa.array(ids, pa.string()), pa.array(jsons, pa.string())]
        if order_col:
            arrays.append(pa.array(keep_order, type=batch.schema.field(order_col).type))
        yield pa.RecordBatch.from_arrays(arrays, names=schema.fieldNames())
