"""WorkerPool's option checks, and the worker side of the pool: starting children, the worker loop, errors as text."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sys
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modalax import ConfigError, DataError
from modalax._src.loader import worker_process
from modalax._src.loader.worker_process import read_batch, start_workers, unlink_segment, worker_main
from modalax._src.loader.workers import WorkerPool

sys.path.insert(0, str(Path(__file__).parent))
import workers_fixtures as fx


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"workers": -1}, "WorkerPool.workers: got -1, expected a positive int"),
        ({"workers": 1.5}, "WorkerPool.workers: got 1.5"),
        ({"workers": 1, "in_flight": True}, "WorkerPool.in_flight: got True, expected a positive int or None"),
        ({"workers": 1, "in_flight": "2"}, "WorkerPool.in_flight: got '2'"),
        ({"workers": 1, "start_method": "thread"}, "got 'thread', expected 'spawn' or 'forkserver'"),
    ],
)
def test_bad_options_are_config_errors_naming_them(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        WorkerPool(fx.MixedSource(), **kwargs)
    assert fragment in str(info.value)


def test_a_source_without_get_records_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"WorkerPool\.source: got list, expected a source with get_records"):
        WorkerPool([1, 2, 3], 1)


# --------------------------------------------------- the worker side itself
class _Recorder:
    """A ``multiprocessing`` context that records the environment each process starts with."""

    def __init__(self) -> None:
        self.seen: list[str | None] = []

    def Pipe(self, duplex: bool = True) -> Any:
        return multiprocessing.Pipe(duplex)

    def Process(self, target: Any, args: Any, name: str, daemon: bool) -> Any:
        ctx = self

        class P:
            pid = 1

            def start(self) -> None:
                assert daemon and name.startswith("modalax-worker-") and target is worker_main
                ctx.seen.append(os.environ.get("JAX_PLATFORMS"))

        return P()


@pytest.mark.parametrize("before", [None, "cuda"])
def test_start_workers_starts_children_on_cpu_and_restores_the_environment(
    monkeypatch: pytest.MonkeyPatch, before: str | None
) -> None:
    if before is None:
        monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    else:
        monkeypatch.setenv("JAX_PLATFORMS", before)
    ctx = _Recorder()
    procs, conns = start_workers(ctx, 2, b"payload", "mxtest_")
    assert ctx.seen == ["cpu", "cpu"] and len(procs) == len(conns) == 2
    assert os.environ.get("JAX_PLATFORMS") == before
    for c in conns:
        c.close()


def test_worker_main_in_this_thread_answers_every_task_then_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    handler = signal.getsignal(signal.SIGINT)
    mine, theirs = multiprocessing.Pipe(duplex=True)
    prefix = f"mxcov{os.getpid():x}_"
    for seq, idx in enumerate(([1, 2], [fx.RAISE_AT], [fx.WARN_AT])):
        mine.send((seq, np.array(idx)))
    mine.send(None)
    try:
        worker_main(pickle.dumps(fx.FaultySource()), theirs, prefix)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # Ctrl-C is the parent's to handle
    finally:
        signal.signal(signal.SIGINT, handler)
    ok, err, warned = mine.recv(), mine.recv(), mine.recv()
    assert not mine.poll(0)
    assert ok[:2] == ("ok", 0) and ok[3] == f"{prefix}0" and ok[4] == [] and ok[5] == []
    fx.same(read_batch(ok[2], ok[3]), fx.MixedSource().get_records(np.array([1, 2])))
    with pytest.raises(FileNotFoundError):
        SharedMemory(name=ok[3])  # read_batch unlinked it
    assert err[:2] == ("error", 1)
    blob, kind, text, trace = err[2]
    assert kind == "DataError" and "truncated" in text and "Traceback" in trace
    assert isinstance(pickle.loads(blob), DataError)
    assert warned[0] == "ok" and warned[4] == [(RuntimeWarning, f"skipping 'file{fx.WARN_AT}.jpg'")]
    unlink_segment(warned[3])
    unlink_segment(warned[3])  # a missing segment is not an error


def test_worker_main_reports_a_source_it_cannot_load_and_ends_when_orphaned() -> None:
    handler = signal.getsignal(signal.SIGINT)
    try:
        mine, theirs = multiprocessing.Pipe(duplex=True)
        worker_main(pickle.dumps(fx.UnloadableSource()), theirs, "mxcov_")
        fatal = mine.recv()
        assert fatal[:2] == ("fatal", -1) and fatal[2][1:3] == ("RuntimeError", "codec library missing")
        mine, theirs = multiprocessing.Pipe(duplex=True)
        mine.close()  # the main process is gone
        worker_main(pickle.dumps(fx.MixedSource()), theirs, "mxcov_")  # returns instead of hanging
    finally:
        signal.signal(signal.SIGINT, handler)


def test_an_unpicklable_exception_travels_as_text() -> None:
    class Local(Exception):  # a local class does not pickle
        pass

    blob, kind, text, trace = worker_process._describe(Local("boom"))
    assert blob is None and (kind, text) == ("Local", "boom") and "Local: boom" in trace
    assert read_batch(("value", ("a", "b")), None) == ("a", "b")  # records that are not a dict pass through
