"""Parse: the document's bytes (read_source) and the safe parse of them (no entities, no DTD, no
network, bounded size), what a refused input is (sniff), and sender mistakes mended (repairs).
"""
from __future__ import annotations

from .reader import CDA_NS, DEFAULT_MAX_BYTES, Source, parse, read_source

__all__ = ["CDA_NS", "DEFAULT_MAX_BYTES", "Source", "parse", "read_source"]
