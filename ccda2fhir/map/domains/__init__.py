"""One module per clinical domain (allergies, conditions, medications, results, ...): the filters
and globals its templates call. A domain imports only what lies below it (engine, state,
datatypes, shared), never another domain.
"""
from __future__ import annotations

from ..engine.registry import import_all

import_all(__name__, __path__)
