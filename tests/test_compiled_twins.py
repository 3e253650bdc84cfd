"""Compiled twins (Cython builds of hot pure-Python modules) convert exactly as the modules do,
and are used only while built from the source as it is now (ccda2fhir/_twins.py)."""
from __future__ import annotations

import hashlib
import importlib.machinery
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import ccda2fhir
from ccda2fhir import _twins
from tests.conftest import FIXTURES, corpus_documents


def _fresh_twin(module: str) -> Path | None:
    source = _twins.source_of(module)
    stem = source.with_suffix(f".{_twins.source_hash(source.read_bytes())}")
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        twin = stem.with_name(stem.name + suffix)
        if twin.is_file():
            return twin
    return None


BUILT = {m: t for m in _twins.TWINS if (t := _fresh_twin(m)) is not None}
needs_twins = pytest.mark.skipif(not BUILT, reason="no compiled twins built here (Cython or a C "
                                                   "compiler missing at install time)")


def _digests(paths: list[str]) -> list[str]:
    out = []
    for p in paths:
        h = hashlib.sha256()
        try:
            bundle, report = ccda2fhir.convert(Path(p).read_bytes(), "p1", report=True)
            h.update(orjson.dumps(bundle) + orjson.dumps([str(i) for i in report.issues]))
        except ccda2fhir.ConversionError as exc:
            h.update(f"{type(exc).__name__}: {exc}".encode())
        out.append(h.hexdigest())
    return out


def _sample() -> list[str]:
    docs = [str(p) for p in sorted(FIXTURES.rglob("*.xml"))]
    return docs + [str(p) for p in corpus_documents()[::5]]


@needs_twins
def test_every_fresh_twin_is_the_module_imported():
    """A twin built from the current source is what `import` gives (the finder works)."""
    import importlib
    for module, twin in BUILT.items():
        assert Path(importlib.import_module(module).__file__) == twin
    assert set(_twins.compiled_modules()) >= set(BUILT)


@needs_twins
def test_pure_python_and_twins_convert_identically():
    paths = _sample()
    compiled = _digests(paths)
    code = ("import sys, json\nsys.path.append(sys.argv[1])\n"
            "from tests.test_compiled_twins import _digests\n"
            "import ccda2fhir._twins as t\nassert not t.compiled_modules()\n"
            "print(json.dumps(_digests(json.loads(sys.stdin.read()))))")
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parents[1])],
                         input=orjson.dumps(paths).decode(), capture_output=True, text=True,
                         env={**os.environ, "CCDA2FHIR_PURE": "1"}, cwd=Path(__file__).parent)
    assert out.returncode == 0, out.stderr[-2000:]
    pure = orjson.loads(out.stdout)
    assert [p for p, a, b in zip(paths, compiled, pure) if a != b] == []


@needs_twins
def test_an_edited_module_is_imported_from_its_source(tmp_path, monkeypatch):
    module, twin = next(iter(BUILT.items()))
    source = _twins.source_of(module)
    copy = tmp_path / source.name
    shutil.copy(source, copy)
    shutil.copy(twin, tmp_path / twin.name)
    monkeypatch.setattr(_twins, "source_of", lambda m: copy)
    finder = _twins._FreshTwins()
    assert finder.find_spec(module).origin == str(tmp_path / twin.name)
    copy.write_text(copy.read_text() + "\n# edited after the build\n")
    finder = _twins._FreshTwins()
    spec = finder.find_spec(module)
    assert spec.origin == str(copy)
    assert isinstance(spec.loader, importlib.machinery.SourceFileLoader)
    assert module not in finder.loaded


def test_other_modules_are_left_to_the_import_system():
    assert _twins._FreshTwins().find_spec("ccda2fhir.map.engine") is None
    assert _twins._FreshTwins().find_spec("json") is None
