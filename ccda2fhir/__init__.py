"""ccda2fhir: HL7 C-CDA documents to FHIR R4 batch Bundles, deterministic and schema-valid."""
from __future__ import annotations

from . import _twins

_twins.install()  # before any module that has a compiled twin is imported

from .convert import convert, convert_file, convert_to_json, convert_with_report  # noqa: E402
from .errors import (ConversionCancelled, ConversionError, ConversionTimeout, InputTooLargeError,  # noqa: E402
                     InvalidPatientIdError, InvalidXMLError, NotCCDAError, WorkerCrashed)
from .limits import LIMITS, Limits  # noqa: E402
from .patient_ids import FROM_DOCUMENT  # noqa: E402
from .pool import ConversionPool, Result  # noqa: E402
from .report import Issue, Report
from .version import __version__
from .walk import compiled

__all__ = ["convert", "convert_file", "convert_with_report", "convert_to_json", "compiled", "ConversionError",
           "InvalidXMLError", "NotCCDAError", "InputTooLargeError", "InvalidPatientIdError", "ConversionTimeout",
           "WorkerCrashed", "ConversionCancelled", "ConversionPool", "Result", "Report", "Issue", "Limits", "LIMITS",
           "FROM_DOCUMENT"]
