"""Datatype filters: CDA datatypes (CD, TS/IVL_TS, PQ, II, PN, AD, TEL, ED ...) to FHIR ones, and
finding things in the walked document. Above the engine and the state of a conversion, below
every clinical module; each registers its filters with the engine's registry.
"""
from __future__ import annotations

from ..engine.registry import import_all

import_all(__name__, __path__)
