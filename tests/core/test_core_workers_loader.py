"""The loader with worker processes: a failed batch costs that batch only (with and without workers),
timeouts, a pass that stops says why, a changed source reaches the workers, and ``workers="auto"``."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modalax import ConfigError, DataError, DataLoader
from modalax._src.loader import worker_stream, workers
from modalax._src.loader.worker_choice import BUSY_SHARE, MIN_BATCH_S, START_S, WorkerChoice, choose_workers
from modalax._src.loader.worker_launch import SERVER

sys.path.insert(0, str(Path(__file__).parent))  # the workers import the fixtures by this name
import workers_fixtures as fx

pytestmark = pytest.mark.multiprocess


@pytest.fixture(scope="module", autouse=True)
def server() -> Any:
    """One fork server for the module (each loader would otherwise start and stop its own)."""
    SERVER.hold(["workers_fixtures"])
    yield
    SERVER.release()


def drain(loader: DataLoader) -> tuple[list[int], list[str]]:
    """First label of every batch delivered, and the message of every error, in order, to the end."""
    firsts: list[int] = []
    errors: list[str] = []
    it = iter(loader)
    for _ in range(len(loader) * (loader.num_epochs or 1) + 1):  # bounded: a pass that fails for good ends the test
        try:
            batch = next(it)
        except StopIteration:
            return firsts, errors
        except DataError as exc:
            errors.append(str(exc))
            continue
        firsts.append(int(np.asarray(batch["x"] if "x" in batch else batch["nested"]["a"])[0]))
    raise AssertionError(f"the pass did not end: {errors[-3:]}")


# --------------------------------------------------- a failed batch costs that batch only
@pytest.mark.parametrize("n", [0, 2], ids=["workers=0", "workers=2"])
def test_a_batch_the_source_cannot_read_is_raised_and_the_pass_goes_on(n: int) -> None:
    loader = DataLoader(fx.FaultySource(40), 4, shuffle=False, workers=n)
    try:
        firsts, errors = drain(loader)
    finally:
        loader.close()
    assert firsts == [0, 4, 8, 16, 20, 24, 28, 32, 36]  # batch [12..15] is the one lost
    assert len(errors) == 1 and f"file{fx.RAISE_AT}.jpg" in errors[0] and "truncated" in errors[0]


@pytest.mark.parametrize("n", [0, 2], ids=["workers=0", "workers=2"])
def test_after_a_failed_batch_the_state_points_past_it(n: int) -> None:
    loader = DataLoader(fx.FaultySource(40), 4, shuffle=False, workers=n)
    it = iter(loader)
    for _ in range(3):
        next(it)
    with pytest.raises(DataError, match="truncated"):
        next(it)
    assert (loader.state_dict()["epoch"], loader.state_dict()["batch"]) == (0, 4)
    assert np.asarray(next(it)["nested"]["a"]).tolist() == [16, 17, 18, 19]
    loader.close()


@pytest.mark.slow
@pytest.mark.parametrize(("death", "how"), [("exit", "exit code 3"), ("kill", "signal SIGKILL")])
def test_a_dead_worker_costs_its_batch_and_fresh_workers_read_the_rest(death: str, how: str) -> None:
    loader = DataLoader(fx.DyingSource(68, death), 4, shuffle=False, workers=2)
    try:
        for _ in range(2):  # the next pass meets the same batch again, and still reads the rest
            it = iter(loader)
            next(it)
            it.settle()
            first_pool = loader._workers.pool
            assert first_pool is not None
            got, errors = [], []
            for _ in range(16):
                try:
                    got.append(int(np.asarray(next(it)["nested"]["a"])[0]))
                except DataError as exc:
                    errors.append(str(exc))
            assert next(it, None) is None
            assert got == [i for i in range(4, 68, 4) if i != 64]
            assert len(errors) == 1 and "records [64, 65, 66, 67]" in errors[0] and how in errors[0], errors
            it.settle()
            assert loader._workers.pool is not first_pool and not first_pool.alive
    finally:
        loader.close()


@pytest.mark.slow
def test_a_hung_worker_is_a_data_error_naming_it_then_it_is_killed_and_the_pass_goes_on() -> None:
    loader = DataLoader(fx.HangingSource(80), 4, shuffle=False, workers=2, timeout=2)
    try:
        it = iter(loader)
        next(it)
        it.settle()
        pool = loader._workers.pool
        assert pool is not None
        got, errors = [], []
        for _ in range(19):
            try:
                got.append(int(np.asarray(next(it)["nested"]["a"])[0]))
            except DataError as exc:
                errors.append(str(exc))
        assert len(errors) == 1, errors
        message = errors[0]
        assert "records [68, 69, 70, 71] not decoded within 2.0 s by worker" in message
        assert any(f"(pid {pid})" in message for pid in pool.pids)
        stuck = next(pid for pid in pool.pids if f"(pid {pid})" in message)
        assert not fx.running(stuck)  # killed, not left hanging
        assert got == [i for i in range(4, 80, 4) if i != 68]
    finally:
        loader.close()


def test_a_long_wait_warns_naming_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "WATCH_S", 0.2)
    with workers.WorkerPool(fx.SlowSource(delay=1.0), 1) as pool:
        handle = pool.submit(np.array([1, 2]))
        with pytest.warns(RuntimeWarning, match=r"waiting \d+ s for records \[1, 2\] by worker 0 \(pid \d+\)"):
            assert handle.result()["labels"].tolist() == [1, 2]


def test_the_default_timeout_is_generous_and_documented() -> None:
    loader = DataLoader(fx.MixedSource(8), 4)
    assert loader.timeout == worker_stream.DEFAULT_TIMEOUT_S == 600.0
    assert DataLoader(fx.MixedSource(8), 4, timeout=None).timeout is None  # no limit; the watchdog still warns


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": 0}, r"DataLoader.timeout: got 0, expected a positive number of seconds, or None"),
        ({"timeout": -1.5}, r"DataLoader.timeout: got -1.5"),
        ({"timeout": "60"}, r"DataLoader.timeout: got '60'"),
        ({"timeout": True}, r"DataLoader.timeout: got True"),
        ({"timeout": float("nan")}, r"DataLoader.timeout: got nan"),
        ({"workers": -1}, r"DataLoader.workers: got -1, expected an int >= 0 \(0 decodes in this process\) or 'auto'"),
        ({"workers": "many"}, r"DataLoader.workers: got 'many'"),
        ({"workers": 2.0}, r"DataLoader.workers: got 2.0"),
        ({"workers": 10**6}, r"DataLoader.workers: got 1000000, expected at most \d+ \(16 per usable core"),
        ({"start_method": "fork"}, r"DataLoader.start_method: got 'fork', expected 'spawn' or 'forkserver'"),
    ],
)
def test_bad_worker_options_are_config_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DataLoader(fx.MixedSource(8), 4, **kwargs)


# ------------------------------------------------------ a pass that stops says why, every time
@pytest.mark.parametrize("n", [0, 2], ids=["workers=0", "workers=2"])
def test_a_bug_stops_the_pass_and_every_later_call_names_it(n: int) -> None:
    loader = DataLoader(fx.BuggySource(80), 4, shuffle=False, workers=n)
    it = iter(loader)
    try:
        with pytest.raises(TypeError, match="unsupported operand"):
            for _ in it:
                pass
        for _ in range(2):
            with pytest.raises(DataError, match=r"pass stopped before epoch 0 batch 17 because of TypeError"):
                next(it)
        assert np.asarray(next(iter(loader))["nested"]["a"]).tolist() == [0, 1, 2, 3]  # a new pass starts
    finally:
        loader.close()


def test_a_bug_in_a_worker_stops_the_pass_as_it_does_here() -> None:
    # The same bug read by this process would stop the pass with the TypeError itself: so must a
    # worker's, not become a DataError that costs one batch while the pass goes on.
    loader = DataLoader(fx.WorkerBugSource(800), 4, shuffle=False, workers=2)
    try:
        with pytest.raises(TypeError, match="unsupported operand") as info:
            for _ in loader:
                pass
        assert any("worker" in note for note in getattr(info.value, "__notes__", []))
    finally:
        loader.close()


def test_a_pass_that_ends_early_is_an_error_not_a_silent_end(monkeypatch: pytest.MonkeyPatch) -> None:
    loader = DataLoader(fx.MixedSource(40), 4, shuffle=False, num_epochs=2)
    full = loader._pieces
    monkeypatch.setattr(loader, "_pieces", lambda e, b: (p for i, p in enumerate(full(e, b)) if i < 1))
    it = iter(loader)
    assert sum(1 for _ in range(10) if next(it) is not None) == 10
    with pytest.raises(DataError, match=r"the pass ended early, at epoch 1 batch 0 of 2 epoch\(s\)"):
        next(it)


# ------------------------------------------------- what the workers hold follows the source
@pytest.mark.slow
def test_a_source_changed_between_passes_reaches_the_workers() -> None:
    import os

    source = fx.PidSource(48)
    plain, pooled = DataLoader(source, 8, shuffle=False), DataLoader(source, 8, shuffle=False, workers=2)
    try:
        for offset in (0, 100, 100, 7):
            source.offset = offset
            want = [np.asarray(b["x"]).tolist() for b in plain]
            it = iter(pooled)
            got = [next(it)]
            it.settle()  # the workers have started: the batches after those read ahead come from them
            got += list(it)
            assert [np.asarray(b["x"]).tolist() for b in got] == want, offset
            assert any((np.asarray(b["pid"]) != os.getpid()).all() for b in got[1:]), offset  # the workers read
    finally:
        pooled.close()


def test_every_batch_is_read_here_or_by_a_worker_of_the_pool_with_equal_values() -> None:
    import os

    source = fx.PidSource(96)
    loader = DataLoader(source, 8, shuffle=True, seed=2, workers=2, num_epochs=2)
    plain = [np.asarray(b["x"]).tolist() for b in DataLoader(source, 8, shuffle=True, seed=2, num_epochs=2)]
    try:
        batches = list(loader)
        pids = set(loader._workers.pool.pids) if loader._workers.pool is not None else set()
        assert [np.asarray(b["x"]).tolist() for b in batches] == plain
        readers = {int(p) for b in batches for p in np.asarray(b["pid"])}
        assert readers <= pids | {os.getpid()}
    finally:
        loader.close()


@pytest.mark.slow
def test_spawned_workers_read_what_workers_0_reads() -> None:
    source = fx.MixedSource(24)
    plain = [np.asarray(b["images"]).tobytes() for b in DataLoader(source, 8, seed=4)]
    loader = DataLoader(source, 8, seed=4, workers=1, start_method="spawn")
    try:
        assert [np.asarray(b["images"]).tobytes() for b in loader] == plain
    finally:
        loader.close()


# ----------------------------------------------------------------------- workers="auto"
@pytest.mark.parametrize(
    ("wall", "cpu", "cores", "remaining", "workers", "because"),
    [
        (0.100, 0.100, 1, None, 0, "one usable core"),
        (0.002, 0.002, 8, None, 0, "a batch takes 2.0 ms here"),
        (0.100, 0.180, 2, None, 0, "keeps 1.8 of 2 cores busy already"),
        (0.125, 0.1875, 2, None, 0, "keeps 1.5 of 2 cores busy already"),  # the share is BUSY_SHARE exactly
        (0.100, 0.100, 2, None, 2, "keeps 1.0 of 2 cores busy (it holds the GIL): 2 processes"),
        (0.100, 0.095, 8, None, 8, "8 processes"),
        (0.100, 0.100, 64, None, 16, "16 processes"),
        (0.100, 0.100, 2, 30, 0, "workers would save about 1.5 s, less than the 2 s"),
        (0.100, 0.100, 2, 41, 2, "2 processes"),  # 41 x 0.1 x (1 - 1/2) = 2.05 s > START_S
        (0.100, 0.100, 8, 10, 0, "the run has 10 batches left"),
        (0.100, -0.001, 4, None, 4, "keeps 0.0 of 4 cores busy"),  # a clock that went backwards
    ],
)
def test_auto_chooses_workers_where_decoding_holds_the_gil(
    wall: float, cpu: float, cores: int, remaining: int | None, workers: int, because: str
) -> None:
    choice = choose_workers(wall, cpu, cores, remaining)
    assert choice.workers == workers and because in choice.reason, choice
    assert (BUSY_SHARE, MIN_BATCH_S, START_S) == (0.75, 0.005, 2.0)


@pytest.mark.parametrize("chosen", [0, 2])
def test_auto_measures_the_first_batch_here_and_follows_the_choice(
    monkeypatch: pytest.MonkeyPatch, chosen: int
) -> None:
    import os

    seen: list[tuple[float, float, int, int | None]] = []

    def choose(wall: float, cpu: float, cores: int, remaining: int | None) -> WorkerChoice:
        seen.append((wall, cpu, cores, remaining))
        return WorkerChoice(chosen, "test")

    monkeypatch.setattr(worker_stream, "choose_workers", choose)
    monkeypatch.setattr(worker_stream, "usable_cores", lambda: 3)
    source = fx.PidSource(40)
    loader = DataLoader(source, 4, shuffle=False, workers="auto", num_epochs=3)
    assert loader.worker_choice is None and loader.workers == "auto"
    try:
        it = iter(loader)
        batches = [next(it)]
        it.settle()
        batches += list(it)
    finally:
        loader.close()
    assert len(seen) == 1 and seen[0][2:] == (3, 29)  # 3 epochs of 10 batches, the first measured
    assert seen[0][0] > 0 and loader.worker_choice == (chosen, "test")
    assert [np.asarray(b["x"]).tolist() for b in batches] == [list(range(i, i + 4)) for i in range(0, 40, 4)] * 3
    assert int(np.asarray(batches[0]["pid"])[0]) == os.getpid()  # the probe is read here
    later = {int(p) for b in batches[4:] for p in np.asarray(b["pid"])}  # after those read ahead
    assert (later == {os.getpid()}) == (chosen == 0)


def test_auto_on_a_source_gathered_on_the_device_uses_no_workers() -> None:
    from modalax import ArraySource

    loader = DataLoader(ArraySource({"x": np.arange(8.0)}), 4, workers="auto")
    assert len(list(loader)) == 2 and loader._workers.count == 0 and loader.worker_choice is None


def test_unused_warnings_are_not_raised_by_a_plain_pass() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loader = DataLoader(fx.MixedSource(16), 8, workers=1)
        try:
            assert len(list(loader)) == 2
        finally:
            loader.close()
