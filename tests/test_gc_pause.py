"""convert() pauses the cyclic garbage collector while it works, and gives it back as it found it."""
from __future__ import annotations

import gc
import threading

import pytest

import ccda2fhir
from tests.conftest import SAMPLE_CCD


@pytest.fixture
def restore_gc():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_paused_during_a_conversion_and_enabled_after(restore_gc, monkeypatch):
    import importlib
    convert_module = importlib.import_module("ccda2fhir.pipeline")
    seen = []
    real = convert_module.map_document

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)
    monkeypatch.setattr(convert_module, "map_document", spy)
    gc.enable()
    ccda2fhir.convert(SAMPLE_CCD.read_bytes(), "p")
    assert seen == [False] and gc.isenabled()


def test_enabled_after_a_failed_conversion(restore_gc):
    gc.enable()
    with pytest.raises(ccda2fhir.ConversionError):
        ccda2fhir.convert(b"<notccda/>", "p")
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off(restore_gc):
    gc.disable()
    ccda2fhir.convert(SAMPLE_CCD.read_bytes(), "p")
    assert not gc.isenabled()


def test_concurrent_conversions_enable_it_once_the_last_ends(restore_gc):
    gc.enable()
    data = SAMPLE_CCD.read_bytes()
    threads = [threading.Thread(target=ccda2fhir.convert, args=(data, f"p{i}")) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gc.isenabled()
