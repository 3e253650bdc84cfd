"""The parts of ccda2fhir.bulk: streamed discovery, unique names, the compact id set, whole lines
only (a failed write rolled back, signals held while writing)."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from ccda2fhir.bulk import atomic, discover
from ccda2fhir.bulk.atomic import LineFile, replace_file, signals_held
from ccda2fhir.bulk.naming import OutsideRoot, bundle_name, common_root
from ccda2fhir.bulk.seen import CONFLICT, NEW, SAME, SeenIds, content_digest, id_digest


def test_folder_discovery_streams_one_directory_at_a_time(tmp_path, monkeypatch):
    for i in range(50):
        (tmp_path / f"d{i:02}").mkdir()
        (tmp_path / f"d{i:02}" / "doc.xml").write_text("x")
        (tmp_path / f"d{i:02}" / "notes.txt").write_text("x")
    (tmp_path / "top.CDA").write_text("x")
    opened = []
    real = os.scandir
    monkeypatch.setattr(discover.os, "scandir", lambda p: opened.append(p) or real(p))
    stream = discover.iter_documents([tmp_path])
    first = next(stream)
    assert len(opened) <= 2 and first.suffix.lower() in (".xml", ".cda")   # before the tree is listed
    rest = list(stream)
    assert len(opened) == 51 and len(rest) == 50
    assert sorted(p.name for p in [first, *rest]).count("doc.xml") == 50


def test_count_documents_matches_what_is_streamed(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for rel in ("a/x.xml", "a/b/y.ccda", "z.cda", "a/skip.json"):
        (tmp_path / rel).write_text("x")
    listing = tmp_path / "list.txt"
    listing.write_text("one.xml\n\n two.xml\n")
    assert discover.count_documents([tmp_path], listing) == 5 == len(list(discover.iter_documents([tmp_path], listing)))
    assert discover.count_documents([tmp_path], "-") is None


def test_names_mirror_the_tree_and_keep_the_suffix(tmp_path):
    root = common_root([tmp_path / "a", tmp_path / "b" / "doc.xml"])
    assert root == tmp_path
    names = {bundle_name(Path("OUT"), root, tmp_path / rel) for rel in ("a/doc.xml", "a/doc.ccda", "b/doc.xml")}
    assert names == {Path("OUT/a/doc.xml.json"), Path("OUT/a/doc.ccda.json"), Path("OUT/b/doc.xml.json")}
    with pytest.raises(OutsideRoot, match="--root"):
        bundle_name(Path("OUT"), tmp_path / "a", tmp_path / "b" / "doc.xml")
    with pytest.raises(OutsideRoot):
        bundle_name(Path("OUT"), tmp_path / "a", tmp_path / "a" / ".." / ".." / "x.xml")


def test_the_id_set_remembers_sixteen_bytes_per_id_and_tells_conflicts():
    seen = SeenIds(16)
    for i in range(50_000):
        assert seen.add(id_digest("Observation", f"id-{i}"), content_digest(b"A%d" % i)) == NEW
    assert len(seen) == 50_000 and seen.nbytes <= 50_000 * 16 / 0.375
    assert seen.add(id_digest("Observation", "id-7"), content_digest(b"A7")) == SAME
    assert seen.add(id_digest("Observation", "id-7"), content_digest(b"other")) == CONFLICT
    assert seen.add(id_digest("Condition", "id-7"), content_digest(b"A7")) == NEW   # the type is part of the id
    assert len(seen) == 50_001


def test_a_failed_write_leaves_the_file_at_its_last_whole_line(tmp_path, monkeypatch):
    f = LineFile(tmp_path / "x.ndjson")
    f.write(b'{"a":1}\n')
    real = os.write
    calls = []

    def half_then_full(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real(fd, bytes(data[:5]))
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(atomic.os, "write", half_then_full)
    with pytest.raises(OSError):
        f.write(b'{"b":2}\n{"c":3}\n')
    monkeypatch.setattr(atomic.os, "write", real)
    f.write(b'{"d":4}\n')
    f.close()
    assert (tmp_path / "x.ndjson").read_bytes() == b'{"a":1}\n{"d":4}\n'


def test_a_signal_during_a_write_waits_for_its_end():
    order = []
    with pytest.raises(KeyboardInterrupt):
        with signals_held():
            os.kill(os.getpid(), signal.SIGINT)
            order.append("written")
    assert order == ["written"] and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_bundle_file_appears_whole_or_not_at_all(tmp_path, monkeypatch):
    target = tmp_path / "doc.xml.json"
    replace_file(target, b"{}\n")
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        replace_file(target, b'{"new": true}\n')
    assert target.read_bytes() == b"{}\n" and [p.name for p in tmp_path.iterdir()] == ["doc.xml.json"]


def test_ndjson_output_never_mixes_with_an_earlier_runs(tmp_path):
    from ccda2fhir.bulk import NdjsonExists, NdjsonFiles
    (tmp_path / "Patient.ndjson").write_bytes(b'{"resourceType":"Patient","id":"old"}\n')
    (tmp_path / "notes.ndjson").write_bytes(b"{}\n")           # not a resource type's file: left alone
    with pytest.raises(NdjsonExists, match="Patient.ndjson"):
        NdjsonFiles(tmp_path)
    NdjsonFiles(tmp_path, overwrite=True).close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.ndjson"]
