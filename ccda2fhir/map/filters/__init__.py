"""CDA datatype conversions and navigation helpers, exposed to templates as filters.

Each module registers its functions with ``@template_filter`` (used as
``{{ value | name }}``) or ``@template_global`` (called as ``name(...)``).
"""
from __future__ import annotations

from .registry import FILTERS, GLOBALS, template_filter, template_global  # noqa: F401
from . import (  # noqa: F401,E402  (importing registers)
    navigation, terminology, codes, dates, quantities, identifiers, names, addresses,
    telecoms, text, participants, status, patient, documents, conditions, composition, encounters,
)
