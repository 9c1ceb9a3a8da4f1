"""WorkerPool's protocol in this process: the real worker loop in threads, deaths simulated.

The pool's bookkeeping (dispatch, results out of order, errors naming the records, warnings,
cancellation, deaths, a stubborn worker, a source that cannot load) does not depend on the
workers being processes; ``test_core_workers.py`` checks the same against real processes.
Here ``start_workers`` is replaced by threads running ``worker_main`` (or a worker that dies
after taking a batch), so these tests are fast and measured by coverage.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import signal
import sys
import threading
import types
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modalax import ConfigError, DataError, RecordIndexError
from modalax._src.loader import worker_process, worker_state, workers
from modalax._src.loader.worker_process import worker_main
from modalax._src.loader.workers import WorkerPool

sys.path.insert(0, str(Path(__file__).parent))
import workers_fixtures as fx


class ThreadWorker:
    """Stands in for a worker process: ``worker_main`` in a thread, or a worker that dies.

    ``die_with``: the exit code of a worker that takes one batch and dies (negative: a signal).
    ``stubborn``: a worker that ignores the polite stop and SIGTERM and ends only on SIGKILL.
    """

    pids = itertools.count(4_000_000)

    def __init__(self, payload: bytes, conn: Any, prefix: str, die_with: int | None, stubborn: bool) -> None:
        self.pid = next(self.pids)
        self.exitcode: int | None = None
        self.calls: list[str] = []
        self._killed = threading.Event()
        self._die_with, self._stubborn = die_with, stubborn
        self._thread = threading.Thread(target=self._run, args=(payload, conn, prefix), daemon=True)

    def _run(self, payload: bytes, conn: Any, prefix: str) -> None:
        try:
            if self._stubborn:
                self._killed.wait(10)
                self.exitcode = -signal.SIGKILL
            elif self._die_with is not None:
                conn.recv()  # takes its first batch, then dies decoding it
                self.exitcode = self._die_with
            else:
                worker_main(payload, conn, prefix)
                self.exitcode = 0
        finally:
            conn.close()

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def terminate(self) -> None:
        self.calls.append("terminate")

    def kill(self) -> None:
        self.calls.append("kill")
        self._killed.set()

    def close(self) -> None:
        self.calls.append("close")


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Make the next pools start thread workers; returns a function choosing their behaviour."""
    # signal.signal works only in the main thread; a worker thread must not touch this process's handlers
    quiet = types.SimpleNamespace(signal=lambda *a: None, SIGINT=signal.SIGINT, SIG_IGN=signal.SIG_IGN)
    monkeypatch.setattr(worker_process, "signal", quiet)
    monkeypatch.setattr(worker_state, "STOP_S", 0.05)
    monkeypatch.setattr(workers, "_LIVE", weakref.WeakSet())
    started: list[ThreadWorker] = []

    def choose(die_with: int | None = None, stubborn: bool = False) -> list[ThreadWorker]:
        def start(ctx: Any, n: int, payload: bytes, prefix: str) -> tuple[list[Any], list[Any]]:
            procs, conns = [], []
            for _ in range(n):
                mine, theirs = multiprocessing.Pipe(duplex=True)
                proc = ThreadWorker(payload, theirs, prefix, die_with, stubborn)
                proc.start()
                procs.append(proc)
                conns.append(mine)
            started.extend(procs)
            return procs, conns

        monkeypatch.setattr(workers, "start_workers", start)
        return started

    choose()
    return choose


@pytest.fixture
def pool(threads: Callable[..., None]) -> Iterator[WorkerPool]:
    before = fx.own_segments()
    with WorkerPool(fx.FaultySource(), 2, in_flight=3) as p:
        yield p
    assert not p.alive
    assert fx.own_segments() == before  # nothing left in shared memory


# ------------------------------------------------------------------ results
def test_results_are_the_source_records_in_order(pool: WorkerPool) -> None:
    source = fx.MixedSource()
    batches = [np.arange(i, i + 5) for i in range(20, 60, 5)] + [np.array([], np.int64)]
    got = list(pool.imap(batches))
    assert len(got) == len(batches)
    for b, records in zip(batches, got, strict=True):
        fx.same(records, source.get_records(b))
    assert pool.alive and not pool.broken and len(pool.pids) == 2


def test_handles_taken_out_of_order_and_twice(pool: WorkerPool) -> None:
    handles = [pool.submit([i, i + 1]) for i in range(20, 32, 2)]  # twice in_flight: some wait in the queue
    for h in reversed(handles):
        fx.same(h.result(), fx.MixedSource().get_records(h.indices))
    assert handles[0].result() is handles[0].result()


@pytest.mark.parametrize(
    ("indices", "error", "fragments"),
    [
        ([12, fx.RAISE_AT], DataError, ["records [12, 13] failed", "raised DataError", "'file13.jpg': truncated"]),
        ([fx.OOR], RecordIndexError, [f"records [{fx.OOR}] failed", "raised RecordIndexError", "out of range"]),
        ([fx.UNPICKLABLE_AT], DataError, ["records [68] failed", "generator"]),
    ],
)
def test_a_raising_source_is_a_data_error_naming_the_records(
    pool: WorkerPool, indices: list[int], error: type[Exception], fragments: list[str]
) -> None:
    with pytest.raises(error) as info:
        pool.submit(indices).result()
    assert all(f in str(info.value) for f in fragments), str(info.value)
    assert any(note.startswith("worker traceback:") for note in info.value.__notes__)
    assert not pool.broken  # a source's error does not break the pool
    fx.same(pool.submit([1]).result(), fx.MixedSource().get_records(np.array([1])))


class NeedsTwo(DataError):
    def __init__(self, path: str, why: str) -> None:
        super().__init__(path, why)


class OddSource:
    """Raises errors the pool cannot rebuild as they were, or returns records that are not dicts."""

    def get_records(self, indices: Any) -> Any:
        i = int(np.asarray(indices)[0])
        if i == 0:
            raise NeedsTwo("a.wav", "bad header")  # a DataError subclass without a one-argument constructor
        if i == 1:
            raise ValueError("plain bug")
        if i == 2:
            return tuple(f"r{j}" for j in np.asarray(indices))  # not a dict: travels pickled
        if i == 3:
            return {"text": ["x", "y"], "nested": {}, "none": np.zeros((2, 0))}  # nothing for shared memory
        raise KeyboardInterrupt  # reported like any other exception, the worker goes on


def test_errors_without_a_matching_constructor_and_records_that_are_not_dicts(threads: Any) -> None:
    with WorkerPool(OddSource(), 1) as pool:
        with pytest.raises(DataError) as info:
            pool.submit([0]).result()
        assert type(info.value) is DataError and "raised NeedsTwo" in str(info.value)
        assert isinstance(info.value.__cause__, NeedsTwo)
        with pytest.raises(DataError, match=r"records \[1\] failed: worker 0 raised ValueError: plain bug"):
            pool.submit([1]).result()
        assert pool.submit([2, 5]).result() == ("r2", "r5")
        got = pool.submit([3]).result()
        assert got["text"] == ["x", "y"] and got["nested"] == {} and got["none"].shape == (2, 0)
        with pytest.raises(DataError, match="raised KeyboardInterrupt"):
            pool.submit([4]).result()
        assert pool.submit([2]).result() == ("r2",)


def test_worker_warnings_reach_the_caller(pool: WorkerPool) -> None:
    with pytest.warns(RuntimeWarning, match=f"skipping 'file{fx.WARN_AT}.jpg'"):
        records = pool.submit([fx.WARN_AT]).result()
    assert records["labels"].tolist() == [fx.WARN_AT % 7]


def test_long_index_lists_are_shortened_in_messages(pool: WorkerPool) -> None:
    with pytest.raises(DataError) as info:
        pool.submit(np.r_[np.arange(20), fx.RAISE_AT]).result()
    assert "records [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, ... (21 in all)]" in str(info.value)


# ------------------------------------------------------- cancel and timeouts
def test_cancelled_and_dropped_handles_free_their_records(pool: WorkerPool) -> None:
    before = fx.own_segments()
    first = pool.submit([1, 2])
    first.cancel()
    first.cancel()  # twice is harmless
    queued = [pool.submit([i]) for i in range(3, 9)]  # beyond in_flight: the last ones wait in the main process
    queued[-1].cancel()  # a queued batch is dropped before it reaches a worker
    dropped = pool.submit([9])
    del dropped
    gc.collect()
    for h in queued[:-1]:
        assert h.result()["labels"].tolist() == [int(h.indices[0]) % 7]
    for _ in range(3):
        pool.submit([0]).result()  # the cancelled results arrive meanwhile and are freed
    assert not pool._state.tasks  # every batch is accounted for
    assert fx.own_segments() == before


def test_an_abandoned_imap_cancels_its_batches(pool: WorkerPool) -> None:
    before = fx.own_segments()
    gen = pool.imap(np.arange(20, 60).reshape(10, 4))
    assert next(gen)["labels"].tolist() == [6, 0, 1, 2]
    gen.close()
    assert pool.submit([5]).result()["labels"].tolist() == [5]
    pool.submit([6]).result()
    pool.close()
    assert fx.own_segments() == before


class SlowSource:
    """Waits for ``release`` before decoding."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.release = GATE

    def get_records(self, indices: Any) -> dict[str, Any]:
        assert self.release.wait(10)
        return {"x": np.asarray(indices, np.int32) * 2}


GATE = threading.Event()


def test_a_timeout_can_be_waited_out_again(threads: Any) -> None:
    GATE.clear()
    with WorkerPool(SlowSource(), 1) as pool:
        handle = pool.submit([3, 4])
        with pytest.raises(DataError, match=r"records \[3, 4\] not decoded within 0.01 s"):
            handle.result(timeout=0.01)
        GATE.set()
        assert handle.result(timeout=10)["x"].tolist() == [6, 8]


def test_a_closed_pool_fails_what_was_pending_and_refuses_work(threads: Any) -> None:
    GATE.clear()
    pool = WorkerPool(SlowSource(), 1)
    pending = pool.submit([1])
    threading.Timer(0.05, GATE.set).start()  # the worker finishes its batch during the stop
    pool.close()
    pool.close()  # twice is harmless
    with pytest.raises(DataError, match=r"records \[1\] were not decoded: the pool was closed"):
        pending.result()
    with pytest.raises(DataError, match=r"WorkerPool\.submit: the pool is closed"):
        pool.submit([2])
    assert not pool.alive


def test_interpreter_exit_closes_live_pools(threads: Any) -> None:
    pool = WorkerPool(fx.MixedSource(), 1)
    assert pool.alive
    workers._close_all()
    assert not pool.alive
    with pytest.raises(DataError, match="closed"):
        pool.submit([0])


# ------------------------------------------------------------- failures
@pytest.mark.parametrize(("code", "how"), [(-signal.SIGKILL, "signal SIGKILL"), (3, "exit code 3")])
def test_a_dead_worker_breaks_the_pool(threads: Callable[..., list[ThreadWorker]], code: int, how: str) -> None:
    threads(die_with=code)
    pool = WorkerPool(fx.MixedSource(), 1, in_flight=1)
    doomed = pool.submit([1, 2])
    later = pool.submit([3])  # queued behind the dying batch
    with pytest.raises(DataError) as info:
        doomed.result()
    text = str(info.value)
    assert f"records [1, 2] were not decoded: worker 0 (pid {pool.pids[0]}) died ({how})" in text
    assert "while decoding records [1, 2]" in text
    assert pool.broken and not pool.alive
    with pytest.raises(DataError) as again:
        doomed.result()
    assert again.value is info.value
    with pytest.raises(DataError, match=r"records \[3\] were not decoded: worker 0 .* died"):
        later.result()
    with pytest.raises(DataError, match="the pool is closed"):
        pool.submit([4])


def test_a_source_that_cannot_load_breaks_the_pool(threads: Any) -> None:
    pool = WorkerPool(fx.UnloadableSource(), 1)
    with pytest.raises(DataError) as info:
        pool.submit([0, 1]).result()
    assert str(info.value) == (
        "WorkerPool: records [0, 1] were not decoded: worker 0 could not load the source: "
        "RuntimeError: codec library missing"
    )
    assert pool.broken


def test_a_stubborn_worker_is_terminated_then_killed(threads: Callable[..., list[ThreadWorker]]) -> None:
    started = threads(stubborn=True)
    pool = WorkerPool(fx.MixedSource(), 1)
    pool.close()
    assert started[-1].calls == ["terminate", "kill", "close"]
    assert started[-1].exitcode == -signal.SIGKILL and not pool.alive


def test_numpy_integer_counts_are_accepted(threads: Any) -> None:
    with WorkerPool(fx.MixedSource(), np.int64(1), in_flight=np.int32(2)) as pool:
        assert (pool.workers, pool.in_flight) == (1, 2)
        assert type(pool.workers) is int and type(pool.in_flight) is int


class ListSource:
    def get_records(self, indices: Any) -> list[str]:
        return [f"r{int(i)}" for i in np.asarray(indices)]


def test_records_that_are_a_list_come_back_unchanged(threads: Any) -> None:
    # A list must not be mistaken for a shared-memory layout (it once failed with a raw ValueError).
    with WorkerPool(ListSource(), 1) as pool:
        assert pool.submit([2, 5]).result() == ["r2", "r5"]


def test_an_unpicklable_source_is_a_config_error_before_any_worker_starts(threads: Any) -> None:
    with pytest.raises(ConfigError, match=r"UnpicklableSource cannot be pickled \(.*\); expected a picklable source"):
        WorkerPool(fx.UnpicklableSource(), 1)
