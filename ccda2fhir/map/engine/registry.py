"""The filter and global tables templates see, and the packages that fill them.

Filter modules register their functions with ``@template_filter`` (``{{ value | name }}``) or
``@template_global`` (``name(...)``). The engine imports none of them: ``load()`` imports the
packages named in ``FILTER_PACKAGES`` by name (each imports all its modules), so the engine stays
below the clinical layers it serves while a template still finds every filter.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

FILTERS: dict[str, Callable] = {}
GLOBALS: dict[str, Callable] = {}
# Lowest layer first: datatype conversions, the parts domains share, the clinical domains.
FILTER_PACKAGES = ("ccda2fhir.map.datatypes", "ccda2fhir.map.shared", "ccda2fhir.map.domains")


def template_filter(fn: Callable) -> Callable:
    """Expose ``fn`` to templates as ``{{ x | fn }}``."""
    FILTERS[fn.__name__] = fn
    return fn


def template_global(fn: Callable) -> Callable:
    """Expose ``fn`` to templates as ``{{ fn(...) }}``."""
    GLOBALS[fn.__name__] = fn
    return fn


def load() -> None:
    """Import every filter package (once; later calls cost a dict lookup each)."""
    for package in FILTER_PACKAGES:
        importlib.import_module(package)


def import_all(package: str, path) -> None:
    """Import every module of a filter package (its __init__ calls this), in name order."""
    for name in sorted(m.name for m in pkgutil.iter_modules(path)):
        importlib.import_module(f"{package}.{name}")
