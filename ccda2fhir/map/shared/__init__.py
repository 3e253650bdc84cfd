"""What clinical domains build from: participants, provenance, comments, reasons, observation
values, references between statements, a holder's resource, dosage, nothing-to-report. Above the
datatype filters, below the domains.
"""
from __future__ import annotations

from ..engine.registry import import_all

import_all(__name__, __path__)
