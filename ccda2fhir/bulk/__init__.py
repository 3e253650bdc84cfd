"""Whole archives: many documents through the worker pool into Bundle files or FHIR Bulk Data NDJSON.

    from ccda2fhir.bulk import BulkConversion, NdjsonFiles, iter_documents
    run = BulkConversion(iter_documents(["inbox/"]), NdjsonFiles("out/"), patient_id="{stem}", jobs=4)
    summary = run.run()

discover: which files (streamed); naming: where each Bundle goes; sinks: Bundle files, Bundle
lines, NDJSON files or lines (each Type/id once, ``seen``); atomic: whole lines and files only;
outcome: each document's result, report line and the run's summary; run: the run itself.
"""
from __future__ import annotations

from .discover import SUFFIXES, count_documents, iter_documents, read_list, walk_folder
from .naming import OutsideRoot, bundle_name, common_root
from .outcome import Outcome, Summary
from .run import BulkConversion, OutputError
from .seen import SeenIds
from .sinks import BundleFiles, BundleLines, NdjsonExists, NdjsonFiles, NdjsonLines, Written, ndjson_files_in

__all__ = ["BulkConversion", "OutputError", "Outcome", "Summary", "BundleFiles", "BundleLines", "NdjsonFiles",
           "NdjsonLines", "NdjsonExists", "ndjson_files_in", "Written", "SeenIds", "iter_documents", "walk_folder", "read_list", "count_documents",
           "common_root", "bundle_name", "OutsideRoot", "SUFFIXES"]
