"""The filter and global tables the template engine loads."""
from __future__ import annotations

from typing import Callable

FILTERS: dict[str, Callable] = {}
GLOBALS: dict[str, Callable] = {}


def template_filter(fn: Callable) -> Callable:
    """Expose ``fn`` to templates as ``{{ x | fn }}``."""
    FILTERS[fn.__name__] = fn
    return fn


def template_global(fn: Callable) -> Callable:
    """Expose ``fn`` to templates as ``{{ fn(...) }}``."""
    GLOBALS[fn.__name__] = fn
    return fn
