"""ccda2fhir: HL7 C-CDA documents to FHIR R4 batch Bundles, deterministic and schema-valid."""
from __future__ import annotations

from .convert import convert, convert_file, convert_to_json, convert_with_report
from .errors import (ConversionCancelled, ConversionError, ConversionTimeout, InputTooLargeError,
                     InvalidPatientIdError, InvalidXMLError, NotCCDAError, WorkerCrashed)
from .limits import LIMITS, Limits
from .patient_ids import FROM_DOCUMENT
from .pool import ConversionPool, Result
from .report import Issue, Report
from .walk import compiled

__version__ = "0.1.0"
__all__ = ["convert", "convert_file", "convert_with_report", "convert_to_json", "compiled", "ConversionError",
           "InvalidXMLError", "NotCCDAError", "InputTooLargeError", "InvalidPatientIdError", "ConversionTimeout",
           "WorkerCrashed", "ConversionCancelled", "ConversionPool", "Result", "Report", "Issue", "Limits", "LIMITS",
           "FROM_DOCUMENT"]
