"""WorkerPool: byte-identical records, errors naming the records, nothing outlives the pool."""

from __future__ import annotations

import gc
import multiprocessing
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modalax import ConfigError, DataError, RecordIndexError
from modalax._src.loader.workers import WorkerPool

sys.path.insert(0, str(Path(__file__).parent))  # the workers import the fixtures by this name
import workers_fixtures as fx

pytestmark = pytest.mark.multiprocess


def _children() -> set[int]:
    multiprocessing.resource_tracker.ensure_running()  # the tracker lives as long as the interpreter
    return fx.descendants()


@pytest.fixture(scope="module")
def pool() -> Any:
    multiprocessing.resource_tracker.ensure_running()  # the tracker lives as long as the interpreter
    with WorkerPool(fx.FaultySource(), 2, in_flight=3) as p:
        yield p


def _assert_same(got: Any, want: Any, where: str = "") -> None:
    assert type(got) is type(want), where
    if isinstance(want, dict):
        assert list(got) == list(want), where
        for k in want:
            _assert_same(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and got.shape == want.shape, where
        assert got.tobytes() == want.tobytes(), where
    else:
        assert got == want, where


def test_records_are_byte_identical_in_order(pool: WorkerPool) -> None:
    source = fx.MixedSource()
    batches = [np.arange(i, i + 6) for i in range(70, 100, 6)] + [np.array([5, 3, 99, 0]), np.array([], np.int64)]
    got = list(pool.imap(batches))
    assert len(got) == len(batches)
    for b, records in zip(batches, got, strict=True):
        _assert_same(records, source.get_records(b), str(b))


def test_handles_can_be_taken_out_of_order(pool: WorkerPool) -> None:
    source = fx.MixedSource()
    handles = [pool.submit(np.array([i, i + 1])) for i in range(0, 10, 2)]  # more than in_flight
    for h in reversed(handles):
        _assert_same(h.result(), source.get_records(h.indices))
    assert handles[0].result() is handles[0].result()


@pytest.mark.parametrize(
    ("indices", "error", "names"),
    [
        ([12, fx.RAISE_AT], DataError, [f"file{fx.RAISE_AT}.jpg", "truncated", "[12, 13]"]),
        ([fx.OOR, 1], RecordIndexError, [str(fx.OOR), "out of range", f"[{fx.OOR}, 1]"]),
        ([fx.UNPICKLABLE_AT], DataError, ["[68]", "generator"]),
    ],
)
def test_a_raising_worker_is_a_data_error_naming_the_records(
    pool: WorkerPool, indices: list[int], error: type[Exception], names: list[str]
) -> None:
    with pytest.raises(error) as info:
        pool.submit(np.array(indices)).result()
    for name in names:
        assert name in str(info.value)
    assert not pool.broken
    _assert_same(pool.submit(np.array([1, 2])).result(), fx.MixedSource().get_records(np.array([1, 2])))


def test_worker_warnings_reach_the_caller(pool: WorkerPool) -> None:
    with pytest.warns(RuntimeWarning, match=f"file{fx.WARN_AT}.jpg"):
        pool.submit(np.array([fx.WARN_AT])).result()


@pytest.mark.slow
@pytest.mark.parametrize(("at", "how"), [(fx.EXIT_AT, "exit code 3"), (fx.KILL_AT, "SIGKILL")])
def test_a_dead_worker_is_a_data_error_and_leaves_nothing(at: int, how: str) -> None:
    multiprocessing.resource_tracker.ensure_running()
    children, segments = _children(), fx.own_segments()
    pool = WorkerPool(fx.FaultySource(), 2)
    ok = pool.submit(np.array([1, 2]))
    bad = pool.submit(np.array([at, 1]))
    later = pool.submit(np.array([3]))
    ok.result()
    with pytest.raises(DataError) as info:
        bad.result()
    assert f"records [{at}, 1]" in str(info.value) and how in str(info.value)
    assert pool.broken
    with pytest.raises(DataError, match=r"records \[3\] were not decoded"):
        later.result()
    pool.close()
    assert _children() == children and fx.own_segments() == segments


@pytest.mark.slow
def test_a_dropped_pool_stops_its_workers_and_unlinks_its_segments() -> None:
    multiprocessing.resource_tracker.ensure_running()
    children, segments = _children(), fx.own_segments()
    pool = WorkerPool(fx.MixedSource(), 2, in_flight=4)
    pids = pool.pids
    for records in pool.imap(np.arange(40).reshape(10, 4)):
        assert records["labels"].dtype == np.int32
        break  # an early break: batches in flight, results in shared memory, no close()
    handle = pool.submit(np.array([7]))
    del pool, handle, records
    gc.collect()
    assert _children() == children and fx.own_segments() == segments
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)


@pytest.mark.slow
def test_interpreter_exit_stops_the_workers(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, numpy as np
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import workers_fixtures as fx
        from modalax._src.loader.workers import WorkerPool
        from modalax._src.loader.worker_launch import SERVER
        if __name__ == "__main__":
            pool = WorkerPool(fx.MixedSource(), 2)
            handles = [pool.submit(np.array([i])) for i in range(4)]
            handles[0].result()
            print(pool._state.prefix, SERVER.pid, *pool.pids)
        """
    )
    path = tmp_path / "leave.py"
    path.write_text(script)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120, check=True)
    prefix, *pids = out.stdout.split()  # the fork server's, then the workers'
    assert len(pids) == 3 and not any(_running(int(pid)) for pid in pids)
    assert not fx.own_segments(prefix)
    assert "leaked" not in out.stderr, out.stderr


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"workers": 0}, ["workers", "0"]),
        ({"workers": True}, ["workers", "True"]),
        ({"workers": 2, "in_flight": 0}, ["in_flight", "0"]),
        ({"workers": 2, "start_method": "fork"}, ["start_method", "fork"]),
    ],
)
def test_bad_options_are_config_errors(kwargs: dict[str, Any], names: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        WorkerPool(fx.MixedSource(), **kwargs)
    assert all(n in str(info.value) for n in names)


def test_an_unpicklable_source_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="UnpicklableSource cannot be pickled"):
        WorkerPool(fx.UnpicklableSource(), 1)


def test_a_closed_pool_refuses_work(pool: WorkerPool) -> None:
    other = WorkerPool(fx.MixedSource(), 1)
    other.close()
    other.close()
    with pytest.raises(DataError, match="closed"):
        other.submit(np.array([1]))
    assert not other.alive and not any(Path(f"/proc/{pid}").exists() for pid in other.pids)


@pytest.mark.slow
def test_loader_batches_and_resume_positions_match_workers_0() -> None:
    import jax

    from modalax import DataLoader

    source = fx.MixedSource(30)
    kwargs = {"shuffle": True, "seed": 5, "num_epochs": 2, "with_indices": True}
    plain = list(DataLoader(source, 8, **kwargs))
    before = _children()
    pooled_loader = DataLoader(source, 8, workers=2, **kwargs)
    it = iter(pooled_loader)
    pooled = [next(it) for _ in range(3)]
    it.settle()  # the workers have started
    pool = pooled_loader._workers.pool
    assert pool is not None and len(pool.pids) == 2
    state = pooled_loader.state_dict()
    pooled_loader.load_state_dict(state)  # supersedes `it`, whose batches in flight are dropped
    pooled += list(pooled_loader)
    assert pooled_loader._workers.pool is pool and pool.alive  # the pool outlives an epoch and a resume
    pooled_loader.close()
    assert _children() == before
    assert len(pooled) == len(plain)
    for a, b in zip(plain, pooled, strict=True):
        assert list(a) == list(b)
        for k in a:
            for x, y in zip(jax.tree.leaves(a[k]), jax.tree.leaves(b[k]), strict=True):
                assert np.asarray(x).tobytes() == np.asarray(y).tobytes(), k


@pytest.mark.slow
def test_a_dropped_loader_with_workers_stops_them() -> None:
    from modalax import DataLoader

    before = _children()
    loader = DataLoader(fx.MixedSource(30), 4, workers=1, num_epochs=None)
    it = iter(loader)
    next(it)
    it.settle()
    pool = loader._workers.pool
    assert pool is not None and all(_running(pid) for pid in pool.pids)
    for i, _ in enumerate(it):
        if i == 2:
            break
    del loader, it, pool
    for _ in range(200):  # the producer thread ends after its current batch, then the pool is collected
        gc.collect()
        if _children() == before:
            break
        time.sleep(0.05)
    assert _children() == before  # the workers, and the fork server unless something else holds it


def test_pending_counts_batches_until_settle_waits_them_out() -> None:
    with WorkerPool(fx.SlowSource(delay=0.2), 1, in_flight=2) as slow:
        first, second = slow.submit(np.array([0, 1])), slow.submit(np.array([2]))
        assert slow.pending == 2
        slow.settle()
        assert slow.pending == 0
        # Delivered already: a zero timeout would raise "not decoded within 0 s" for a batch still decoding.
        assert second.result(timeout=0)["labels"].tolist() == [2]
        assert first.result(timeout=0)["labels"].tolist() == [0, 1]


@pytest.mark.parametrize(
    ("num_threads", "in_worker_main_thread"),
    [(None, True), (1, True), (3, False)],
    ids=["default: one thread in a worker", "one thread asked", "three threads asked"],
)
def test_a_file_source_decodes_on_one_thread_in_a_worker_unless_told(
    tmp_path: Path, num_threads: int | None, in_worker_main_thread: bool
) -> None:
    probe = fx.ThreadProbe([tmp_path / f"{i}.bin" for i in range(6)], num_threads=num_threads)
    here = probe.get_records(np.arange(6))["main"]
    assert here.tolist() == [num_threads == 1] * 6  # in this process the default is a thread pool
    with WorkerPool(probe, 1) as one:
        assert one.submit(np.arange(6)).result()["main"].tolist() == [in_worker_main_thread] * 6


@pytest.mark.slow
def test_loader_settle_leaves_no_worker_decoding() -> None:
    from modalax import DataLoader

    loader = DataLoader(fx.SlowSource(40, delay=0.05), 4, workers=1, num_epochs=None)
    it = iter(loader)
    first = next(it)
    it.settle()
    assert loader._workers.pool is not None and loader._workers.pool.pending == 0
    assert np.asarray(first["labels"]).shape == (4,)
    loader.close()


def test_workers_get_the_callers_folder_and_environment_of_now_not_of_the_servers_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workers_light

    from modalax._src.loader.worker_launch import SERVER

    SERVER.hold()  # the server starts now, in this folder, with this environment
    try:
        monkeypatch.chdir(tmp_path)  # a source may hold relative paths
        monkeypatch.setenv("JAX_PLATFORMS", "cuda")  # workers run on the CPU whatever the caller uses
        with WorkerPool(workers_light.LightSource(), 1) as one:
            got = one.submit(np.arange(2)).result()
        assert str(got["cwd"]) == str(tmp_path)
        assert got["env"].tolist() == ["1", "cpu"]  # one decode thread, no accelerator
        assert (got["pid"] != os.getpid()).all()
    finally:
        SERVER.release()


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"
