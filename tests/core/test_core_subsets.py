"""Subset, Concat and random_split: views that keep records pure functions of their index."""

from __future__ import annotations

import json
import pickle
from typing import Any

import numpy as np
import pytest

from modalax import ArraySource, Concat, ConfigError, DataLoader, Subset, random_split

from .source_fixtures import NoiseDataset


def ids_of(source: Any, key: str = "id", **kwargs: Any) -> list[int]:
    out: list[int] = []
    for batch in DataLoader(source, 3, seed=4, **kwargs):
        ids = np.asarray(batch[key])
        out += ids[np.asarray(batch["mask"])].tolist()
    return out


@pytest.mark.parametrize("on_device", [True, False])
def test_random_split_is_disjoint_covering_and_the_same_in_every_process(on_device: bool) -> None:
    source = ArraySource({"id": np.arange(103, dtype=np.int32)}, on_device=on_device)
    train, val = random_split(source, [0.9, 0.1], seed=5)
    assert (len(train), len(val)) == (93, 10)
    got = ids_of(train) + ids_of(val)
    assert sorted(got) == list(range(103))  # disjoint, covering, each exactly once per epoch
    again = random_split(source, [0.9, 0.1], seed=5)
    np.testing.assert_array_equal(again[1].indices, val.indices)
    assert not np.array_equal(random_split(source, [0.9, 0.1], seed=6)[1].indices, val.indices)
    assert [len(s) for s in random_split(source, [50, 53], seed=0)] == [50, 53]
    assert train.traceable == on_device


def test_subset_of_a_synthetic_dataset_is_traceable_and_resumes_exactly() -> None:
    base = NoiseDataset(None, 40)
    sub = Subset(base, [39, 0, 7, 7, 12])
    np.testing.assert_array_equal(sub.get_records([0, 3])["x"], base.get_records([39, 7])["x"])
    assert sub.traceable and sorted(ids_of(sub)) == [0, 7, 7, 12, 39]
    first = DataLoader(sub, 2, seed=1)
    it = iter(first)
    head = [np.asarray(next(it)["id"])]
    resumed = DataLoader(sub, 2, seed=1)
    resumed.load_state_dict(json.dumps(first.state_dict()))
    rest = [np.asarray(b["id"]) for b in resumed]
    full = [np.asarray(b["id"]) for b in DataLoader(sub, 2, seed=1)]
    np.testing.assert_array_equal(np.concatenate(head + rest), np.concatenate(full))
    assert pickle.loads(pickle.dumps(Subset(ArraySource({"id": np.arange(4)}, on_device=False), [1])))[0]["id"] == 1


def test_concat_reads_each_part_in_order() -> None:
    a = ArraySource({"id": np.arange(5, dtype=np.int32), "name": np.array([f"a{i}" for i in range(5)])})
    b = ArraySource({"id": np.arange(100, 103, dtype=np.int32), "name": np.array(["b0", "b1", "b2"])}, on_device=False)
    both = Concat([a, b])
    batch = both.get_records([6, 0, 4, 5])
    assert batch["id"].tolist() == [101, 0, 4, 100] and list(batch["name"]) == ["b1", "a0", "a4", "b0"]
    assert sorted(ids_of(both)) == [0, 1, 2, 3, 4, 100, 101, 102]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: random_split(s, [0.5, 0.6]), r"random_split.sizes: fractions \[0.5, 0.6\] sum to 1.1"),
        (lambda s: random_split(s, [3, 3]), r"counts \[3, 3\] sum to 6, expected 10"),
        (lambda s: random_split(s, [-1, 11]), r"expected non-negative fractions or counts"),
        (lambda s: random_split(s, [0.5, 0.5], seed=-2), r"random_split.seed: got -2"),
        (lambda s: Subset(s, [0, 10]), r"Subset.indices: got 10, expected indices in \[0, 10\)"),
        (lambda s: Subset(s, [0.5]), r"Subset.indices: got float64"),
        (lambda s: Concat([]), r"Concat.sources: got \[\]"),
    ],
)
def test_bad_views(call: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call(ArraySource({"id": np.arange(10)}))
