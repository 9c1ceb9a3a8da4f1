"""The loader's lifecycle under faults: early breaks, dropped iterators, a second thread, resume states.

Thread checks poll for a bounded time (the producer finishes its current batch first); they
assert that threads end, never how fast.
"""

from __future__ import annotations

import gc
import json
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import pytest
from flax import nnx

from modalax import ArraySource, ConfigError, DataLoader, StaleIteratorError

from .operator_fixtures import Shift, ShiftConfig
from .source_fixtures import NoiseDataset, ids_source


def prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "modalax-prefetch" and t.is_alive()]


def wait_for(condition: Callable[[], bool], limit_s: float = 20.0) -> bool:
    """Poll ``condition`` (collecting garbage) until it holds or ``limit_s`` passes."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        gc.collect()
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def big_host_loader() -> DataLoader:
    return DataLoader(ids_source(10_000), batch_size=2, prefetch=4, num_epochs=None)


def break_early(loader: DataLoader) -> None:
    for i, _ in enumerate(loader):
        if i == 2:
            break


def return_from_loop(loader: DataLoader) -> dict[str, Any]:
    for batch in loader:
        return batch
    raise AssertionError("unreachable")


def next_then_drop(loader: DataLoader) -> None:
    it = iter(loader)
    next(it)
    del it


@pytest.mark.parametrize("leave", [break_early, return_from_loop, next_then_drop], ids=lambda f: f.__name__)
def test_producer_thread_stops_when_the_iterator_is_unreachable(leave: Callable[[DataLoader], Any]) -> None:
    assert wait_for(lambda: not prefetch_threads())
    loader = big_host_loader()
    leave(loader)
    assert wait_for(lambda: not prefetch_threads()), "prefetch thread outlived its iterator"
    # The loader stays usable, and dropping it frees it (no thread keeps it alive).
    assert np.asarray(next(iter(loader))["id"]).shape == (2,)
    ref = weakref.ref(loader)
    del loader
    assert wait_for(lambda: ref() is None and not prefetch_threads()), "the loader was kept alive"


def test_second_iter_supersedes_the_first_which_raises() -> None:
    loader = DataLoader(ids_source(10), batch_size=2, seed=3)
    first = iter(loader)
    a = next(first)
    second = iter(loader)
    with pytest.raises(StaleIteratorError, match=r"superseded at epoch 0 batch 1 by a newer iter\(loader\)"):
        next(first)
    # The new iterator starts the run from the beginning and delivers every batch.
    batches = list(second)
    assert len(batches) == 5
    np.testing.assert_array_equal(batches[0]["id"], a["id"])
    assert sorted(np.concatenate([b["id"] for b in batches]).tolist()) == list(range(10))


def test_load_state_dict_supersedes_and_serves_only_the_next_iterator() -> None:
    loader = DataLoader(ids_source(10), batch_size=2, seed=3)
    reference = [np.asarray(b["id"]) for b in DataLoader(ids_source(10), batch_size=2, seed=3)]
    it = iter(loader)
    next(it), next(it)
    state = loader.state_dict()
    loader.load_state_dict(state)
    with pytest.raises(StaleIteratorError):
        next(it)
    resumed = [np.asarray(b["id"]) for b in loader]
    assert len(resumed) == 3
    for a, b in zip(resumed, reference[2:], strict=True):
        np.testing.assert_array_equal(a, b)
    again = [np.asarray(b["id"]) for b in loader]  # the state served one iterator only
    assert len(again) == 5
    np.testing.assert_array_equal(again[0], reference[0])


@pytest.mark.parametrize("on_device", [False, True], ids=["host-thread", "device-lookahead"])
def test_iter_from_another_thread_never_blocks_the_first(on_device: bool) -> None:
    source = ArraySource({"id": np.arange(100_000, dtype=np.int32)}, on_device=on_device)
    loader = DataLoader(source, batch_size=2, num_epochs=None, prefetch=2)
    started, outcome = threading.Event(), {}

    def consume() -> None:
        try:
            for _ in iter(loader):
                started.set()
        except StaleIteratorError as exc:
            outcome["error"] = exc

    a = threading.Thread(target=consume, daemon=True)
    a.start()
    assert started.wait(30)
    b_iter = iter(loader)  # thread B (this one) takes over
    a.join(timeout=30)
    assert not a.is_alive(), "the superseded consumer is blocked"
    assert isinstance(outcome.get("error"), StaleIteratorError)
    assert np.asarray(next(b_iter)["id"]).shape == (2,)
    b_iter.close()


def test_epochs_past_two_to_the_32_augment_like_no_earlier_epoch() -> None:
    loader = DataLoader(ids_source(4), batch_size=4, seed=1, num_epochs=None)
    data = {e: jax.random.key_data(loader.epoch_key(e)) for e in (0, 1, 2**32, 2**32 + 1, 2**40)}
    assert len({tuple(np.asarray(v).tolist()) for v in data.values()}) == len(data)

    def first_batch(epoch: int) -> np.ndarray:
        shift = Shift(
            ShiftConfig(field_key="x", stochastic=True, stream_name="augment"),
            rngs=nnx.Rngs(0, augment=1),
        )
        src = ArraySource({"x": np.zeros((4, 3), np.float32)})
        dl = DataLoader(src, batch_size=4, seed=1, shuffle=False, num_epochs=None, operators=[shift])
        dl.load_state_dict({**dl.state_dict(), "epoch": epoch, "batch": 0})
        return np.asarray(next(iter(dl))["x"])

    assert not np.array_equal(first_batch(0), first_batch(2**32))
    np.testing.assert_array_equal(first_batch(5), first_batch(5))


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"epoch": 2}, ConfigError, r"load_state_dict.epoch: got epoch 2 batch 0, but this loader runs 1 epoch"),
        ({"epoch": 1, "batch": 1}, ConfigError, r"got epoch 1 batch 1, but this loader runs 1 epoch"),
        ({"epoch": -1}, ConfigError, r"load_state_dict.epoch: got -1, expected an int in \[0, "),
        ({"epoch": 2**63}, ConfigError, r"load_state_dict.epoch: got 9223372036854775808"),
        ({"batch": 6}, ConfigError, r"load_state_dict.batch: got 6, expected an int in \[0, 5\]"),
        ({"batch": 1.5}, ConfigError, r"load_state_dict.batch: got 1.5"),
        ({"seed": 4}, ConfigError, r"1 field\(s\) differ \(seed\), saved -> this loader: seed: 4 -> 3"),
    ],
)
def test_bad_resume_states(change: dict[str, Any], error: type, message: str) -> None:
    loader = DataLoader(ids_source(10), batch_size=2, seed=3)
    with pytest.raises(error, match=message):
        loader.load_state_dict({**loader.state_dict(), **change})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"version": 1, "epoch": 0, "bat', r"load_state_dict: got a string that is not valid JSON"),
        ("[1, 2]", r"load_state_dict: got list, expected a dict"),
        ("", r"not valid JSON"),
    ],
)
def test_bad_resume_json(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DataLoader(ids_source(10), batch_size=2).load_state_dict(text)


def test_resuming_a_finished_run_warns_and_yields_nothing() -> None:
    loader = DataLoader(ids_source(10), batch_size=2, seed=3)
    assert len(list(loader)) == 5
    state = json.dumps(loader.state_dict())
    assert json.loads(state)["epoch"] == 1
    fresh = DataLoader(ids_source(10), batch_size=2, seed=3)
    fresh.load_state_dict(state)
    with pytest.warns(RuntimeWarning, match="the loaded state is the end of the run"):
        assert list(fresh) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(fresh)) == 5  # the end state served one iterator only


def test_synthetic_state_round_trips_through_json_text() -> None:
    make = lambda: DataLoader(NoiseDataset(None, 12), batch_size=4, seed=2)  # noqa: E731
    first = make()
    it = iter(first)
    head = np.asarray(next(it)["x"])
    resumed = make()
    resumed.load_state_dict(json.dumps(first.state_dict()))
    rest = [np.asarray(b["x"]) for b in resumed]
    full = [np.asarray(b["x"]) for b in make()]
    np.testing.assert_array_equal(np.concatenate([head, *rest]), np.concatenate(full))


def test_settle_waits_until_the_read_ahead_is_full_and_then_nothing_runs() -> None:
    calls: list[int] = []
    data = np.arange(64, dtype=np.float32).reshape(32, 2)

    class Counting:
        def __len__(self) -> int:
            return 32

        def get_records(self, indices: Any) -> dict[str, Any]:
            time.sleep(0.02)
            calls.append(len(indices))
            return {"x": data[np.asarray(indices)]}

    loader = DataLoader(Counting(), 4, shuffle=False, prefetch=1)
    it = iter(loader)
    assert np.asarray(next(it)["x"]).tolist() == data[:4].tolist()
    it.settle()
    settled = len(calls)
    time.sleep(0.2)
    assert len(calls) == settled >= 3  # the batch taken, one in the queue, one waiting to be put
    assert np.asarray(next(it)["x"]).tolist() == data[4:8].tolist()  # settle changed nothing
    it.close()


def test_epoch_keys_of_an_endless_run_equal_a_resumed_run_and_compile_once() -> None:
    from modalax._src.loader import produce as loader_module
    from modalax._src.loader import state as state_module

    def augmented(epoch: int | None = None, batches: int = 1) -> list[np.ndarray]:
        shift = Shift(ShiftConfig(field_key="x", stochastic=True, stream_name="augment"), rngs=nnx.Rngs(0, augment=1))
        src = ArraySource({"x": np.zeros((4, 3), np.float32)})
        dl = DataLoader(src, batch_size=2, seed=3, num_epochs=None, operators=[shift])
        if epoch is not None:
            dl.load_state_dict({**dl.state_dict(), "epoch": epoch, "batch": 0})
        it = iter(dl)
        return [np.asarray(next(it)["x"]) for _ in range(batches)]

    endless = augmented(batches=14)  # 7 epochs of 2 batches, keys read one epoch ahead
    for epoch in (0, 1, 3, 6):
        np.testing.assert_array_equal(endless[2 * epoch], augmented(epoch)[0], err_msg=f"epoch {epoch}")
    assert len({a.tobytes() for a in endless[::2]}) == 7  # every epoch augments differently
    assert loader_module._epoch_key_data._cache_size() == 1  # one compile, not one per epoch
    assert state_module.fold_epoch._cache_size() <= 2  # the same, inside and outside the key function


def test_settle_returns_when_only_the_end_of_the_run_waits_to_be_queued() -> None:
    data = np.arange(16, dtype=np.float32).reshape(8, 2)
    loader = DataLoader(ArraySource({"x": data}, on_device=False), 4, shuffle=False, prefetch=1)
    it = iter(loader)
    next(it)  # the second (last) batch fills the queue; the end marker then waits behind it
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (it.settle(), done.set()), daemon=True)
    waiter.start()
    waiter.join(timeout=10)
    assert done.is_set(), "settle waited on a producer that only had the end of the run left"
    assert np.asarray(next(it)["x"]).tolist() == data[4:].tolist()
    assert next(it, None) is None
