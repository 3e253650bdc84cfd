"""Walk: one pass over the parsed document into plain data for the templates.

The compiled walker (built from ext/walker.pyx) is used when present; the
pure-Python twin gives the same result where no compiler was available.
"""
from __future__ import annotations

try:  # the extension module setup.py builds from ext/walker.pyx
    from ccda2fhir._walker import walk, plain  # type: ignore[import-not-found]
    compiled = True
except ImportError:  # pragma: no cover - exercised on machines without a compiler
    from .pywalker import walk, plain
    compiled = False

from .pywalker import DepthError, LimitError

__all__ = ["walk", "plain", "compiled", "DepthError", "LimitError"]
