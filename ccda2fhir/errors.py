"""Errors raised by ccda2fhir: one base class, each message says what and where, on one line."""
from __future__ import annotations

import re

# Line breaks and other control characters (libxml2 ends some messages with '\n'; a NUL or a
# file name may carry them): one-line logs and the CLI's one-line promise need none of them.
_CONTROL = re.compile(r" *[\x00-\x1f\x7f-\x9f\u2028\u2029][\x00-\x20\x7f-\x9f\u2028\u2029]*")


def one_line(text: str) -> str:
    """``text`` with every run of line breaks or control characters made one space."""
    return _CONTROL.sub(" ", text).strip()


def _restore(cls, args: tuple, state: dict) -> "ConversionError":
    # The message already holds its 'where'; building it again through __init__ would repeat it.
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class ConversionError(Exception):
    """Base class of every error ccda2fhir raises on bad input (and on a conversion it had to stop)."""

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
        text = f"{message} ({'; '.join(where)})" if where else message
        super().__init__(one_line(text))

    def __reduce__(self):
        # Crosses process boundaries (the worker pool) as the same class, message, line and column.
        return (_restore, (type(self), self.args, dict(self.__dict__)))


class InvalidXMLError(ConversionError):
    """The input is not well-formed XML, or uses forbidden XML features (DTDs, entities)."""


class NotCCDAError(ConversionError):
    """The input is XML but not an HL7 CDA ClinicalDocument, or clearly not XML (gzip, JSON, PDF...)."""


class InputTooLargeError(ConversionError):
    """The input is larger, or nested deeper, than the configured limits."""


class InputTypeError(ConversionError, TypeError):
    """The input is neither text, bytes nor a path."""


class InvalidPatientIdError(ConversionError, ValueError):
    """The patient id is not a valid FHIR id (1 to 64 of A-Z, a-z, 0-9, '-', '.')."""


class MappingError(ConversionError):
    """The document parsed but could not be mapped (a defect met on this input; see __cause__)."""


class ConversionTimeout(ConversionError):
    """The conversion ran past its time limit; its worker process was stopped and replaced."""


class WorkerCrashed(ConversionError):
    """The worker process converting the document died (a crash, an out-of-memory kill)."""


class ConversionCancelled(ConversionError):
    """The worker pool was closed before this document's conversion finished."""
