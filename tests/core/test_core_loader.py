"""DataLoader: exact epochs across shards, exact resume, padding, per-record keys, prefetch."""

from __future__ import annotations

import json
import threading
import warnings
from pathlib import Path
from typing import Any
from unittest import mock

import jax
import numpy as np
import pytest
from flax import nnx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modalax import ArraySource, ConfigError, DataError, DataLoader, create_data_loader
from modalax._src.loader import loader as loader_module
from modalax._src.loader.prefetch import Lookahead

from .operator_fixtures import Shift, ShiftConfig
from .source_fixtures import FailingSource, NpyFolder, digest, epoch_order, ids_source, valid_ids

ROOT = Path(__file__).resolve().parents[2]


def run_epochs(n: int, batch: int, shards: int, drop_last: bool, epochs: int, seed: int = 5) -> list[list[np.ndarray]]:
    """Per epoch, the valid ids of every global batch (shards concatenated in order)."""
    loaders = [
        DataLoader(
            ids_source(n),
            batch,
            seed=seed,
            drop_last=drop_last,
            num_epochs=epochs,
            num_shards=shards,
            shard_index=p,
            prefetch=0,
        )
        for p in range(shards)
    ]
    per_epoch: list[list[np.ndarray]] = [[] for _ in range(epochs)]
    for step, parts in enumerate(zip(*loaders, strict=True)):
        per_epoch[step // len(loaders[0])].append(np.concatenate([valid_ids(b) for b in parts]))
    return per_epoch


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 70),
    per_shard=st.integers(1, 9),
    shards=st.sampled_from([1, 2, 3, 4]),
    drop_last=st.booleans(),
    epochs=st.integers(1, 3),
    materialized=st.booleans(),
)
def test_every_record_exactly_once_per_epoch_across_shards(
    n: int, per_shard: int, shards: int, drop_last: bool, epochs: int, materialized: bool
) -> None:
    batch = per_shard * shards
    if drop_last and batch > n:
        with pytest.raises(ConfigError, match="yields no batch"):
            DataLoader(ids_source(n), batch, drop_last=True, num_shards=shards)
        return
    # both orders: the drawn permutation, and the per-position one used for huge datasets
    with epoch_order(materialized):
        per_epoch = run_epochs(n, batch, shards, drop_last, epochs)
    for ids in per_epoch:
        seen = np.concatenate(ids)
        assert len(seen) == len(set(seen.tolist()))  # never twice
        if drop_last:
            assert len(seen) == (n // batch) * batch and all(len(b) == batch for b in ids)
        else:
            assert sorted(seen.tolist()) == list(range(n))
    if epochs > 1 and n > 3:
        assert not all(np.array_equal(np.concatenate(per_epoch[0]), np.concatenate(e)) for e in per_epoch[1:])


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 50),
    batch=st.integers(1, 8),
    drop_last=st.booleans(),
    epochs=st.integers(1, 3),
    stop=st.integers(0, 30),
    prefetch=st.sampled_from([0, 2]),
    on_device=st.booleans(),
    block=st.sampled_from([1, 3, 64]),
    materialized=st.booleans(),
)
def test_resume_yields_exactly_the_remaining_batches(
    n: int,
    batch: int,
    drop_last: bool,
    epochs: int,
    stop: int,
    prefetch: int,
    on_device: bool,
    block: int,
    materialized: bool,
) -> None:
    if drop_last and batch > n:
        return

    def make() -> DataLoader:
        source = ArraySource({"id": np.arange(n, dtype=np.int32)}, on_device=on_device)
        return DataLoader(source, batch, seed=11, drop_last=drop_last, num_epochs=epochs, prefetch=prefetch)

    with mock.patch.object(loader_module, "_BLOCK", block), epoch_order(materialized):
        _check_resume(make, stop)  # indices go to the device in blocks, of either epoch order


def _check_resume(make: Any, stop: int) -> None:
    full = [np.asarray(b["id"]) for b in make()]
    stop = min(stop, len(full))
    first = make()
    it = iter(first)
    head = [np.asarray(next(it)["id"]) for _ in range(stop)]
    state = json.loads(json.dumps(first.state_dict()))
    it.close()
    resumed = make()
    resumed.load_state_dict(state)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "DataLoader: the loaded state is the end of the run", RuntimeWarning)
        tail = [np.asarray(b["id"]) for b in resumed]
    assert len(head) + len(tail) == len(full)
    for a, b in zip(head + tail, full, strict=True):
        np.testing.assert_array_equal(a, b)


def test_padded_last_batch_has_fixed_shape_and_mask() -> None:
    batches = list(DataLoader(ids_source(10), 4, shuffle=False, prefetch=0))
    assert [b["id"].shape for b in batches] == [(4,), (4,), (4,)]
    np.testing.assert_array_equal(batches[-1]["mask"], [True, True, False, False])
    np.testing.assert_array_equal(batches[-1]["id"], [8, 9, 0, 1])  # padding wraps to real records
    assert "mask" not in next(iter(DataLoader(ids_source(10), 4, drop_last=True)))


def test_create_data_loader_batches_hold_their_permutation_slice() -> None:
    loader = create_data_loader(ids_source(12), 4, shuffle=True, drop_last=True, seed=3)
    from modalax._src.loader import epoch_permutation

    perm = epoch_permutation(12, 3, 0, True)
    got = [np.asarray(b["id"]) for b in loader]
    np.testing.assert_array_equal(np.concatenate(got), perm)
    assert sorted(perm.tolist()) == list(range(12))


def test_operator_randomness_is_per_record_not_per_batch_or_shard() -> None:
    data = {"x": np.zeros((16, 1), np.float32), "id": np.arange(16)}

    def outputs(batch_size: int, shards: int = 1) -> dict[int, float]:
        got: dict[int, float] = {}
        for p in range(shards):
            op = Shift(ShiftConfig(field_key="x", stochastic=True, stream_name="augment"), rngs=nnx.Rngs(0, augment=0))
            for b in DataLoader(
                ArraySource(data), batch_size, seed=2, operators=[op], num_shards=shards, shard_index=p, prefetch=0
            ):
                for i, v, m in zip(np.asarray(b["id"]), np.asarray(b["x"])[:, 0], np.asarray(b["mask"])):
                    if m:
                        got[int(i)] = float(v)
        return got

    base = outputs(4)
    assert len(base) == 16 and len(set(base.values())) == 16
    assert outputs(8) == base
    assert outputs(8, shards=2) == base
    assert outputs(5) == base


def test_loader_applies_operators_on_host_sources_too(tmp_path: Path) -> None:
    paths = []
    for i in range(6):
        np.save(tmp_path / f"{i}.npy", np.full((3,), i, np.float32))
        paths.append(tmp_path / f"{i}.npy")
    src = NpyFolder(paths)
    op = Shift(ShiftConfig(field_key="x", delta=0.5))
    for b in DataLoader(src, 3, operators=[op], prefetch=1, seed=1):
        np.testing.assert_allclose(np.asarray(b["x"]), np.asarray(b["id"])[:, None] + 0.5 + np.zeros((1, 3)))


def test_corrupt_file_error_names_the_file_and_reaches_the_consumer(tmp_path: Path) -> None:
    good = tmp_path / "good.npy"
    np.save(good, np.zeros(3, np.float32))
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not a numpy file")
    loader = DataLoader(NpyFolder([good, bad, good]), 3, shuffle=False, prefetch=2)
    with pytest.raises(DataError, match=r"cannot decode '.*bad\.npy'"):
        list(loader)


def test_prefetch_error_propagates_and_thread_stops() -> None:
    loader = DataLoader(FailingSource(20, bad=13), 4, shuffle=False, prefetch=3)
    it = iter(loader)
    got = [next(it) for _ in range(3)]
    assert [int(b["id"][0]) for b in got] == [0, 4, 8]
    with pytest.raises(RuntimeError, match="record 13 is unreadable"):
        next(it)
    assert not it._it.alive


class HostFailingDeviceSource(ArraySource):
    """On-device source whose host-side fields fail for record ``bad``."""

    def __init__(self, n: int, bad: int) -> None:
        super().__init__({"id": np.arange(n, dtype=np.int32)})
        self.bad = bad

    def host_records(self, indices: Any) -> dict[str, Any]:
        if self.bad in np.asarray(indices):
            raise RuntimeError(f"record {self.bad} has no caption")
        return {}


def test_device_sources_prefetch_without_a_thread_and_errors_come_in_order() -> None:
    before = set(threading.enumerate())  # threads of earlier tests may still be ending: compare sets
    loader = DataLoader(HostFailingDeviceSource(20, bad=13), 4, shuffle=False, prefetch=3)
    it = iter(loader)
    assert isinstance(it._it, Lookahead) and not set(threading.enumerate()) - before
    got = [next(it) for _ in range(3)]  # batch 3 (records 12..15) was produced ahead and failed
    assert [np.asarray(b["id"]).tolist() for b in got] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    with pytest.raises(RuntimeError, match="record 13 has no caption"):
        next(it)
    assert not it._it.alive
    with pytest.raises(DataError, match=r"pass stopped before epoch 0 batch 3 because of RuntimeError: record 13"):
        next(it)  # never a silent end (docs/workers.md: what a failed batch costs)


def test_device_prefetch_yields_what_no_prefetch_yields() -> None:
    data = {"x": np.arange(50, dtype=np.float32).reshape(25, 2)}
    runs = [list(DataLoader(ArraySource(data), 4, seed=3, num_epochs=2, prefetch=k)) for k in (0, 1, 5)]
    assert len(runs[0]) == 14
    for run in runs[1:]:
        assert digest(run) == digest(runs[0])


@pytest.mark.parametrize("traceable", [True, False])
def test_numpy_rows_and_device_rows_give_the_same_batches(traceable: bool) -> None:
    # The CPU backend passes the packed rows as numpy; accelerators copy a block once and split
    # it on the device. Both paths run here: same ids, masks and per-record draws, across blocks.
    data = {"x": np.zeros((151, 1), np.float32), "id": np.arange(151)}  # the last batch is padded
    source = ArraySource(data) if traceable else ArraySource(data, on_device=False)

    def run(host_rows: bool) -> list[dict]:
        op = Shift(ShiftConfig(field_key="x", stochastic=True, stream_name="augment"), rngs=nnx.Rngs(0, augment=0))
        loader = DataLoader(source, 2, seed=4, num_epochs=2, operators=[op], with_indices=True, prefetch=0)
        assert loader._host_rows == (jax.default_backend() == "cpu")
        loader._host_rows = host_rows
        return list(loader)

    numpy_rows, device_rows = run(True), run(False)
    assert len(numpy_rows) == 152 > loader_module._BLOCK
    assert digest(numpy_rows) == digest(device_rows)
    assert len({float(v) for b in numpy_rows for v in np.asarray(b["x"])[:, 0]}) > 100  # per-record draws


def test_early_exit_shuts_down_cleanly() -> None:
    loader = DataLoader(ids_source(1000), 2, num_epochs=None, prefetch=4)
    it = iter(loader)
    next(it)
    it.close()
    assert not it._it.alive
    assert loader.state_dict()["batch"] == 1


def test_endless_loader_crosses_epochs() -> None:
    it = iter(DataLoader(ids_source(5), 5, num_epochs=None, prefetch=0))
    epochs = [sorted(np.asarray(next(it)["id"]).tolist()) for _ in range(4)]
    assert epochs == [[0, 1, 2, 3, 4]] * 4


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("seed", 99, r"another stream; 1 field\(s\) differ \(seed\), saved -> this loader: seed: 99 -> 0"),
        ("batch_size", 3, r"1 field\(s\) differ \(batch_size\), saved -> this loader: batch_size: 3 -> 2"),
        ("version", 7, r"load_state_dict.version: got 7, expected 2 \(or 1\)"),
        ("batch", -1, r"load_state_dict.batch: got -1, expected an int in \[0, 5\]"),
        ("num_records", 4, r"num_records: 4 -> 10"),
    ],
)
def test_load_state_dict_rejects_incompatible_state(field: str, value: object, message: str) -> None:
    loader = DataLoader(ids_source(10), 2)
    state = {**loader.state_dict(), field: value}
    with pytest.raises(ConfigError, match=message):
        loader.load_state_dict(state)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, r"DataLoader.batch_size: got 0, expected a positive int"),
        ({"batch_size": 3, "num_shards": 2}, r"batch_size: got 3, expected a multiple of num_shards=2"),
        ({"batch_size": 2, "num_shards": 2, "shard_index": 2}, r"shard_index: got 2, expected 0 <= shard_index < 2"),
        ({"batch_size": 2, "seed": -1}, r"DataLoader.seed: got -1, expected an integer seed in \[0, 2\*\*64\)"),
        ({"batch_size": 2, "num_epochs": 0}, r"num_epochs: got 0, expected a positive int or None"),
    ],
)
def test_bad_loader_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DataLoader(ids_source(10), **kwargs)
    with pytest.raises(ConfigError, match=r"DataLoader.source: got object"):
        DataLoader(object(), 2)
