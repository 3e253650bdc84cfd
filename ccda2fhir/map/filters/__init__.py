"""CDA datatype conversions and navigation helpers, exposed to templates as filters."""
from __future__ import annotations

from ..engine.registry import import_all

import_all(__name__, __path__)
