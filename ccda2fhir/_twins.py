"""Compiled twins of some of ccda2fhir's own modules, used only while their source is unchanged.

setup.py compiles the hot pure-Python modules with Cython (``TWINS``) and names each build
after the SHA-1 of the source it was made from, next to it: ``values.py`` -> ``values.<sha1[:16]>
.cpython-311-x86_64-linux-gnu.so`` (a name the ordinary import system never looks for).
The finder installed here (first on sys.meta_path, by ccda2fhir/__init__.py) loads a module's
twin only when one exists for the source as it is now; otherwise the ``.py`` is imported as
usual. A module edited after the build is never shadowed by a stale compiled copy, and nothing
needs rebuilding for the code to stay correct (only to stay fast).

CCDA2FHIR_PURE=1 in the environment turns all twins off (the pure-Python twin tests use it).
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# The modules setup.py compiles: the engine's per-resource work, the dispatcher, ids, identity and
# merging, and every module of the packages below (conform: the profile checks every resource
# goes through; a new module, or one split in two, is compiled without being listed here).
HOT = ("ccda2fhir.map.engine.values", "ccda2fhir.map.engine.runtime", "ccda2fhir.map.engine.prune",
       "ccda2fhir.map.dispatch", "ccda2fhir.assemble.ids", "ccda2fhir.assemble.merge",
       "ccda2fhir.assemble.identity")
HOT_PACKAGES = ("map/state", "map/datatypes", "map/shared", "map/domains", "conform")
TWINS = frozenset(HOT + tuple(
    "ccda2fhir." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
    for folder in HOT_PACKAGES for p in (PACKAGE / folder).glob("[a-z]*.py")))


def source_of(module: str) -> Path:
    """The .py file of one of our modules."""
    return PACKAGE.parent.joinpath(*module.split(".")).with_suffix(".py")


# How setup.py compiles a twin. Python's semantics exactly: bounds checks, negative indices, and
# annotations that stay hints, not C types (a list subclass stays welcome where `list` is written).
# Part of the twin's name, so that a build made under other directives is never loaded.
DIRECTIVES = {"language_level": "3", "annotation_typing": False}
RECIPE = repr(sorted(DIRECTIVES.items())).encode()


def source_hash(source: bytes) -> str:
    """What names the twin built from this source (and this recipe)."""
    return hashlib.sha1(RECIPE + source).hexdigest()[:16]


class _FreshTwins:
    """Finds the compiled twin of a TWINS module when one was built from its current source."""

    def __init__(self) -> None:
        self.loaded: dict[str, str] = {}    # module -> twin path, for what was imported compiled

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in TWINS:
            return None
        source = source_of(fullname)
        try:
            text = source.read_bytes()
        except OSError:
            return None
        stem = source.with_suffix(f".{source_hash(text)}")
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            twin = stem.with_name(stem.name + suffix)
            if twin.is_file():
                loader = importlib.machinery.ExtensionFileLoader(fullname, str(twin))
                self.loaded[fullname] = str(twin)
                return importlib.util.spec_from_file_location(fullname, str(twin), loader=loader)
        # no fresh twin: the source (even if an older build sits next to it under the plain name)
        loader = importlib.machinery.SourceFileLoader(fullname, str(source))
        return importlib.util.spec_from_file_location(fullname, str(source), loader=loader)


FINDER = _FreshTwins()


def install() -> None:
    """Put the finder first on sys.meta_path (once), unless CCDA2FHIR_PURE is set."""
    if os.environ.get("CCDA2FHIR_PURE") or any(isinstance(f, _FreshTwins) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, FINDER)


def compiled_modules() -> dict[str, str]:
    """The modules of TWINS imported compiled in this process, and from which file."""
    return dict(FINDER.loaded)
