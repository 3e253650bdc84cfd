"""Errors raised by ccda2fhir: one base class, each message says what and where."""
from __future__ import annotations


class ConversionError(Exception):
    """Base class of every error ccda2fhir raises on bad input."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None,
                 location: str | None = None) -> None:
        self.line = line
        self.column = column
        self.location = location
        where = []
        if location:
            where.append(location)
        if line:
            where.append(f"line {line}" + (f", column {column}" if column else ""))
        super().__init__(f"{message} ({'; '.join(where)})" if where else message)


class InvalidXMLError(ConversionError):
    """The input is not well-formed XML, or uses forbidden XML features (DTDs, entities)."""


class NotCCDAError(ConversionError):
    """The input is XML but not an HL7 CDA ClinicalDocument."""


class InputTooLargeError(ConversionError):
    """The input is larger, or nested deeper, than the configured limits."""


class InputTypeError(ConversionError, TypeError):
    """The input is neither text, bytes nor a path."""


class MappingError(ConversionError):
    """The document parsed but could not be mapped (a defect met on this input; see __cause__)."""
