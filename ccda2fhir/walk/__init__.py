"""Walk: one pass over the parsed document into plain data for the templates.

The compiled walker and narrative (built from ext/walker.pyx and ext/narrative.pyx) are used when
present; the pure-Python twins (pywalker.py, narrative.py) give the same result where
no compiler was available. ``compiled`` says whether both compiled ones are in use.
"""
from __future__ import annotations

try:  # the extension modules setup.py builds from ext/
    from ._walker import walk, plain  # type: ignore[import-not-found]
    _walker_compiled = True
except ImportError:  # pragma: no cover - exercised on machines without a compiler
    from .pywalker import walk, plain
    _walker_compiled = False
try:
    from ._narrative import section_narrative  # type: ignore[import-not-found]
    _narrative_compiled = True
except ImportError:  # pragma: no cover - exercised on machines without a compiler
    from .narrative import section_narrative
    _narrative_compiled = False

from .pywalker import DepthError, LimitError

compiled = _walker_compiled and _narrative_compiled

__all__ = ["walk", "plain", "section_narrative", "compiled", "DepthError", "LimitError"]
