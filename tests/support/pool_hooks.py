"""Test-only worker behaviour for the conversion pool, installed through its ``initializer``.

Nothing here is reachable from production code: a test passes ``initializer=misbehave`` to a
ConversionPool, and in those workers only, a few patient ids make the job hang, crash or report
the worker's process id (and a file whose name holds 'hang' hangs).
"""
from __future__ import annotations

import ctypes
import os
import signal
import time


def misbehave() -> None:
    """Wrap the worker's job runner so that the patient id can ask for a hang or a crash."""
    from ccda2fhir.pool import worker
    real = worker.run_job

    def run_job(data, patient_id, options, want_report):
        if not isinstance(patient_id, str):      # FROM_DOCUMENT: nothing to ask for
            return real(data, patient_id, options, want_report)
        if patient_id == "hang" or (isinstance(data, os.PathLike) and "hang" in os.path.basename(data)):
            # a CPU loop that never returns
            while True:
                pass
        if patient_id == "hang-ignoring-sigterm":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            while True:
                pass
        if patient_id.startswith("sleep-"):   # 'sleep-0.5': a slow but finite job
            time.sleep(float(patient_id[6:]))
            return real(data, "slept", options, want_report)
        if patient_id == "crash":             # killed from outside, as by the OOM killer
            os.kill(os.getpid(), signal.SIGKILL)
        if patient_id == "segfault":
            ctypes.string_at(0)
        if patient_id == "pid":
            return True, os.getpid()
        if patient_id == "unreadable":          # pickles here, cannot be rebuilt in the parent
            return False, Unrebuildable("half", "of it")
        return real(data, patient_id, options, want_report)

    worker.run_job = run_job


class Unrebuildable(Exception):
    """An exception whose pickled form cannot be unpickled (its __init__ wants two arguments)."""

    def __init__(self, first, second) -> None:
        super().__init__(first)          # args holds one: unpickling calls Unrebuildable(first)


def broken() -> None:
    """An initializer that fails: the pool must give up rather than restart workers forever."""
    raise RuntimeError("this worker cannot start")
