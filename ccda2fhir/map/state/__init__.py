"""The state of one conversion: the document, the resources made from it, where we are, the report.

``current()`` is the conversion the running template belongs to (filters reach it through it;
``emit`` and ``warn`` are its emit and warn).
"""
from __future__ import annotations

from .conversion import REQUIRED, WRAPPED_TYPES, Conversion, current, emit, warn
from .store import MERGE_TYPES, PATIENT_COMPARTMENT, ResourceStore

__all__ = ["Conversion", "current", "emit", "warn", "ResourceStore", "REQUIRED", "WRAPPED_TYPES", "MERGE_TYPES",
           "PATIENT_COMPARTMENT"]
