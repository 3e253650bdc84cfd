"""CDA datatype conversions and navigation helpers, exposed to templates as filters.

Each module of this package registers its functions with ``@template_filter``
(used as ``{{ value | name }}``) or ``@template_global`` (called as ``name(...)``);
every module here is imported, so adding a module is all it takes.
"""
from __future__ import annotations

import importlib
import pkgutil

from .registry import FILTERS, GLOBALS, template_filter, template_global  # noqa: F401

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
