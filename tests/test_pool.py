"""The worker pool: the same output as in-process, errors that cross back intact, time limits
that really stop a conversion, crashes contained, bounded streaming, and a clean close."""
from __future__ import annotations

import asyncio
import pickle
import time

import orjson
import pytest

import ccda2fhir
from ccda2fhir import pool as pool_module
from ccda2fhir.errors import (ConversionCancelled, ConversionError, ConversionTimeout, InputTooLargeError,
                              InvalidXMLError, MappingError, NotCCDAError, WorkerCrashed)
from ccda2fhir.pool import ConversionPool, Result
from tests.conftest import SAMPLE_CCD
from tests.support.pool_hooks import broken, misbehave
from tests.support.waiting import until

CCD = SAMPLE_CCD.read_bytes()
BAD = b"<ClinicalDocument xmlns='urn:hl7-org:v3'>\n<title>x</titel>\n</ClinicalDocument>"


@pytest.fixture(scope="module")
def pool():
    with ConversionPool(2, initializer=misbehave) as p:
        yield p


def _in_process_error(data, **options) -> ConversionError:
    with pytest.raises(ConversionError) as err:
        ccda2fhir.convert(data, "p1", **options)
    return err.value


# ---- same output, errors intact ----------------------------------------------------------------------

def test_result_is_the_in_process_conversion(pool):
    bundle, report = ccda2fhir.convert(CCD, "pool-1", report=True)
    result = pool.submit(CCD, "pool-1", report=True).result(timeout=120)
    assert isinstance(result, Result)
    assert result.bundle_json == orjson.dumps(bundle)
    assert result.resources == len(bundle["entry"]) and result.unmapped == len(report.unmapped())
    assert result.summary == report.summary() and result.report == report.as_dict()
    assert sum(result.types.values()) == result.resources and result.types["Patient"] == 1
    assert pool.submit(CCD, "pool-1").result(timeout=120).report is None   # only when asked


def test_pool_options_apply_to_every_job_and_a_job_may_override_them():
    with ConversionPool(1, max_bytes=1000) as small:
        with pytest.raises(InputTooLargeError, match="over the limit of 1000"):
            small.submit(CCD, "p1").result(timeout=120)
        assert small.submit(CCD, "p1", max_bytes=len(CCD)).result(timeout=120).resources > 100


@pytest.mark.parametrize("data, options", [
    (BAD, {}),
    (b"<levelOne xmlns='urn:hl7-org:v3'/>", {}),
    (CCD, {"max_depth": 5}),
    (CCD, {"max_bytes": 10}),
], ids=["invalid-xml", "not-ccda", "too-deep", "too-large"])
def test_errors_cross_back_as_the_same_class_message_line_and_column(pool, data, options):
    expected = _in_process_error(data, **options)
    with pytest.raises(ConversionError) as err:
        pool.submit(data, "p1", **options).result(timeout=120)
    got = err.value
    assert type(got) is type(expected)
    assert (str(got), got.line, got.column, got.location) == (str(expected), expected.line, expected.column,
                                                             expected.location)


def test_conversion_errors_pickle_without_repeating_where():
    for err in (InvalidXMLError("bad", line=3, column=7, location="a.xml"), NotCCDAError("x", line=2),
                ConversionTimeout("stopped after 1 s")):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)
        assert (back.line, back.column, back.location) == (err.line, err.column, err.location)


# ---- time limits and crashes ----------------------------------------------------------------------

def _pid(pool) -> int:
    return pool.submit(b"", "pid").result(timeout=120)


def test_a_job_past_its_time_limit_is_stopped_and_its_worker_replaced():
    with ConversionPool(1, initializer=misbehave) as p:
        before = _pid(p)
        start = time.monotonic()
        with pytest.raises(ConversionTimeout, match=r"after 0.5 s"):
            p.submit(CCD, "hang", timeout=0.5).result(timeout=60)
        assert time.monotonic() - start < 10
        after = _pid(p)
        assert after != before
        assert until(lambda: not _alive(before), 10)
        assert p.submit(CCD, "p1", timeout=60).result(timeout=120).resources > 100  # the new worker converts


def _alive(pid: int) -> bool:
    import os
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_worker_ignoring_sigterm_is_killed_after_the_grace():
    with ConversionPool(1, initializer=misbehave, timeout=0.5) as p:   # the pool's default limit
        before = _pid(p)
        with pytest.raises(ConversionTimeout):
            p.submit(CCD, "hang-ignoring-sigterm").result(timeout=60)
        assert until(lambda: not _alive(before), 10)
        assert _pid(p) != before


@pytest.mark.parametrize("how, signal_number", [("crash", 9), ("segfault", 11)])
def test_a_worker_that_dies_fails_its_job_and_is_replaced(pool, how, signal_number):
    with pytest.raises(WorkerCrashed, match=f"killed by signal {signal_number}"):
        pool.submit(CCD, how).result(timeout=60)
    assert pool.submit(CCD, "p1").result(timeout=120).resources > 100
    assert until(lambda: pool.alive == 2, 30)


def test_other_jobs_are_unaffected_by_one_that_hangs(pool):
    slow = pool.submit(CCD, "hang", timeout=2)
    fine = [pool.submit(CCD, f"p{i}") for i in range(4)]
    assert all(f.result(timeout=120).resources > 100 for f in fine)
    with pytest.raises(ConversionTimeout):
        slow.result(timeout=60)


def test_an_answer_that_cannot_be_read_fails_only_its_job(pool):
    with pytest.raises(MappingError, match="could not read the worker's answer"):
        pool.submit(CCD, "unreadable").result(timeout=60)
    assert pool.submit(CCD, "p1").result(timeout=120).resources > 100


def test_a_pool_whose_workers_cannot_start_gives_up():
    with ConversionPool(1, initializer=broken) as p:
        with pytest.raises(WorkerCrashed, match="cannot start workers.*this worker cannot start"):
            p.submit(CCD, "p1").result(timeout=120)


def test_timeout_must_be_positive(pool):
    with pytest.raises(ValueError, match="timeout"):
        pool.submit(CCD, "p1", timeout=0)
    with pytest.raises(ValueError, match="timeout"):
        ConversionPool(1, timeout=-1)


# ---- map_unordered ------------------------------------------------------------------------------------

def test_map_unordered_streams_with_a_bounded_number_in_flight(pool):
    pulled = []

    def jobs():
        for i in range(10):
            pulled.append(i)
            yield i, (BAD if i == 3 else CCD), ("sleep-0.2" if i % 2 else f"p{i}")

    seen = {}
    stream = pool.map_unordered(jobs(), max_pending=3)
    key, first = next(stream)
    assert len(pulled) == 3            # streaming: the first result before the rest is read
    seen[key] = first
    for key, outcome in stream:
        assert len(pulled) - len(seen) <= 3   # never more than max_pending taken and not yet given back
        seen[key] = outcome
    assert sorted(seen) == list(range(10))
    assert isinstance(seen[3], InvalidXMLError) and seen[3].line == 2
    assert all(isinstance(seen[i], Result) for i in range(10) if i != 3)


def test_map_unordered_passes_job_options(pool):
    [(key, outcome)] = list(pool.map_unordered([("k", CCD, "p1")], report=True))
    assert key == "k" and outcome.report["resources"] == outcome.resources


def test_map_yields_in_input_order_with_a_bounded_number_in_flight(pool):
    pulled = []

    def jobs():
        for i in range(8):
            pulled.append(i)
            # the first jobs are the slowest: unordered, they would come back last
            yield i, (BAD if i == 5 else CCD), ("sleep-0.4" if i < 2 else f"p{i}")

    got = []
    for key, outcome in pool.map(jobs(), max_pending=4):
        assert len(pulled) - len(got) <= 4
        got.append((key, outcome))
    assert [k for k, _ in got] == list(range(8))
    assert isinstance(got[5][1], InvalidXMLError)
    assert all(isinstance(o, Result) for k, o in got if k != 5)


def test_a_stopped_map_cancels_what_it_had_not_started(pool):
    stream = pool.map(((i, CCD, "sleep-0.3") for i in range(6)), max_pending=6)
    assert next(stream)[0] == 0
    stream.close()                     # the caller stops early (a Ctrl-C does the same)
    assert pool.submit(CCD, "p1").result(timeout=120).resources > 100   # the pool still serves


def test_the_patient_id_made_from_the_document_comes_back(pool):
    result = pool.submit(CCD, ccda2fhir.FROM_DOCUMENT).result(timeout=120)
    bundle = ccda2fhir.convert(CCD, ccda2fhir.FROM_DOCUMENT)
    assert result.patient_id == bundle["entry"][0]["resource"]["id"] and len(result.patient_id) == 36
    assert pool.submit(CCD, "given-1").result(timeout=120).patient_id == "given-1"


# ---- close, readiness, asyncio ----------------------------------------------------------------------

def test_close_waits_for_running_and_queued_jobs():
    p = ConversionPool(1, initializer=misbehave)
    futures = [p.submit(CCD, "sleep-0.3") for _ in range(3)]
    p.close()
    assert all(f.result(timeout=0).resources > 100 for f in futures)
    with pytest.raises(RuntimeError, match="closed"):
        p.submit(CCD, "p1")
    assert p.alive == 0


def test_close_without_waiting_stops_jobs_in_flight():
    p = ConversionPool(1, initializer=misbehave)
    assert until(lambda: p.alive == 1, 30)
    pid = _pid(p)
    running = p.submit(CCD, "hang")
    queued = p.submit(CCD, "p1")
    assert until(running.running, 30)
    start = time.monotonic()
    p.close(wait=False)
    assert time.monotonic() - start < 5
    with pytest.raises(ConversionCancelled):
        running.result(timeout=0)
    assert queued.cancelled() or isinstance(queued.exception(timeout=0), ConversionCancelled)
    assert until(lambda: not _alive(pid), 10)


def test_close_with_a_time_bound_cancels_what_is_left():
    p = ConversionPool(1, initializer=misbehave)
    running = p.submit(CCD, "hang")
    assert until(running.running, 30)
    start = time.monotonic()
    p.close(timeout=0.5)
    assert 0.4 < time.monotonic() - start < 5
    assert isinstance(running.exception(timeout=0), ConversionCancelled)


def test_cancel_stops_a_running_job_and_replaces_its_worker():
    with ConversionPool(1, initializer=misbehave) as p:
        before = _pid(p)
        running = p.submit(CCD, "hang")
        queued = p.submit(CCD, "p1")
        assert until(lambda: running.running(), 30)
        assert p.pending == 2
        assert p.cancel(queued) and queued.cancelled()            # dropped before it started
        start = time.monotonic()
        assert p.cancel(running)
        with pytest.raises(ConversionCancelled, match="cancelled"):
            running.result(timeout=10)
        assert time.monotonic() - start < 2                      # at once, not at a time limit
        assert until(lambda: not _alive(before), 10)            # the worker was stopped
        assert p.pending == 0
        assert p.submit(CCD, "p1").result(timeout=120).resources > 100   # by its replacement
        assert _pid(p) != before


def test_cancel_of_a_finished_job_changes_nothing(pool):
    done = pool.submit(CCD, "p1")
    result = done.result(timeout=120)
    assert pool.cancel(done) is False and done.result() is result


def test_result_names_the_document(pool):
    result = pool.submit(CCD, "p1").result(timeout=120)
    composition = next(e["resource"] for e in orjson.loads(result.bundle_json)["entry"]
                       if e["resource"]["resourceType"] == "Composition")
    assert result.document_id == f"{composition['identifier']['system']}|{composition['identifier']['value']}"
    assert result.document_id.startswith("urn:oid:")


def test_alive_counts_ready_workers(pool):
    assert until(lambda: pool.alive == 2, 30)


def test_an_asyncio_app_awaits_pool_jobs(pool):
    async def main():
        futures = [asyncio.wrap_future(pool.submit(CCD, f"a{i}")) for i in range(3)]
        return await asyncio.gather(*futures)
    expected = len(ccda2fhir.convert(CCD, "a0")["entry"])
    assert [r.resources for r in asyncio.run(main())] == [expected] * 3


# ---- convert(..., timeout=S) -------------------------------------------------------------------------

def test_convert_with_a_timeout_gives_the_in_process_result():
    bundle, report = ccda2fhir.convert(CCD, "t-1", report=True)
    got, got_report = ccda2fhir.convert(CCD, "t-1", report=True, timeout=120)
    assert got == bundle and got_report == report
    assert ccda2fhir.convert_to_json(CCD, "t-1", timeout=120) == ccda2fhir.convert_to_json(CCD, "t-1")
    assert ccda2fhir.convert_to_json(CCD, "t-1", timeout=120, pretty=True) == \
        ccda2fhir.convert_to_json(CCD, "t-1", pretty=True)
    shared = pool_module.shared_pool()
    assert shared.workers == 1 and pool_module.shared_pool() is shared   # one warm worker, kept
    with pytest.raises(InvalidXMLError) as err:
        ccda2fhir.convert(BAD, "p1", timeout=120)
    assert err.value.line == 2


def test_convert_with_a_timeout_stops_a_stuck_conversion(monkeypatch):
    stuck = ConversionPool(1, initializer=misbehave)
    monkeypatch.setattr(pool_module, "_shared", stuck)
    try:
        start = time.monotonic()
        with pytest.raises(ConversionTimeout, match="1 s"):
            ccda2fhir.convert(CCD, "hang", timeout=1)
        assert time.monotonic() - start < 10
    finally:
        stuck.close(wait=False)


# ---- memory: a worker that stays large after a document is replaced ------------------------------------

def test_a_worker_over_its_memory_bound_answers_then_is_replaced():
    with ConversionPool(1, max_worker_rss=1, initializer=misbehave) as p:   # every worker is over 1 byte
        pids = [p.submit(CCD, "pid").result(timeout=120) for _ in range(3)]
        assert len(set(pids)) == 3                      # a fresh worker for each document
        results = [p.submit(CCD, f"m{i}") for i in range(4)]
        assert all(r.result(timeout=120).resources > 100 for r in results)   # none lost in the hand-over
        assert until(lambda: p.alive == 1, 30)


def test_workers_within_their_memory_bound_are_kept(pool):
    first = pool.submit(CCD, "pid").result(timeout=120)
    for _ in range(3):
        pool.submit(CCD, "p1").result(timeout=120)
    assert first in {pool.submit(CCD, "pid").result(timeout=120) for _ in range(4)}
