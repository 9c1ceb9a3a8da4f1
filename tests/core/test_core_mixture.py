"""Mixture: exact proportions per epoch, new records of large sources each epoch, resume, views, workers, shards."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modalax import ArraySource, Concat, ConfigError, DataError, DataLoader, Mixture, Subset, random_split
from modalax._src.sources.mixture import apportion

from .source_fixtures import digest

BASE = (0, 1000, 5000)  # record ids of source k start at BASE[k]


def _source(k: int, n: int, on_device: bool = True) -> ArraySource:
    return ArraySource({"id": np.arange(BASE[k], BASE[k] + n, dtype=np.int32)}, on_device=on_device)


def _epoch_ids(loader: DataLoader) -> list[np.ndarray]:
    """The valid record ids of each epoch the loader yields, in order."""
    per, out, current = len(loader), [], []
    for i, batch in enumerate(loader):
        ids = np.asarray(batch["id"])
        current.append(ids[np.asarray(batch["mask"])] if "mask" in batch else ids)
        if (i + 1) % per == 0:
            out.append(np.concatenate(current))
            current = []
    return out


def _counts(ids: np.ndarray) -> list[int]:
    return [int(((ids >= b) & (ids < b + 1000)).sum()) for b in BASE]


@pytest.mark.parametrize(
    ("sizes", "weights", "epoch_size", "expected"),
    [
        ((100, 30), (0.5, 0.5), None, [30, 30, 0]),  # the smaller share decides: 30 + 30
        ((100, 30, 50), (1, 1, 2), None, [25, 25, 50]),  # 50 records at half the weight: 100 positions
        ((100, 30, 50), (0.2, 0.3, 0.5), 77, [15, 23, 39]),  # 15.4, 23.1, 38.5: remainders to the largest
        ((10, 10), (1, 3), 40, [10, 30, 0]),  # the larger share repeats its source (3 passes an epoch)
        ((10, 10, 10), (1, 0, 1), None, [10, 0, 10]),  # a zero weight contributes nothing
    ],
)
def test_proportions_are_exact_in_every_epoch(
    sizes: tuple[int, ...], weights: tuple[float, ...], epoch_size: int | None, expected: list[int]
) -> None:
    mixture = Mixture([_source(k, n) for k, n in enumerate(sizes)], weights, epoch_size=epoch_size, seed=3)
    assert mixture.counts == expected[: len(sizes)] and len(mixture) == sum(expected)
    for ids in _epoch_ids(DataLoader(mixture, 8, seed=1, num_epochs=3)):
        assert _counts(ids)[: len(sizes)] == expected[: len(sizes)]


@settings(max_examples=60, deadline=None)
@given(
    total=st.integers(1, 10**6),
    weights=st.lists(st.fractions(min_value=0, max_value=100), min_size=1, max_size=6).filter(any),
)
def test_apportion_is_exact_and_within_one_of_the_quota(total: int, weights: list[Fraction]) -> None:
    counts = apportion(total, weights)
    assert sum(counts) == total
    whole = sum(weights)
    for c, w in zip(counts, weights, strict=True):
        assert abs(c - total * w / whole) < 1


def test_a_larger_source_shows_new_records_each_epoch_and_all_of_them_before_repeating() -> None:
    mixture = Mixture([_source(0, 60), _source(1, 20)], [1, 1], seed=7)  # 20 of 60 per epoch
    epochs = _epoch_ids(DataLoader(mixture, 8, seed=2, num_epochs=6))
    big = [np.sort(e[e < 1000]) for e in epochs]
    assert all(len(b) == 20 and len(set(b.tolist())) == 20 for b in big)
    assert sorted(np.concatenate(big[:3]).tolist()) == list(range(60))  # one pass over three epochs
    assert sorted(np.concatenate(big[3:]).tolist()) == list(range(60))  # and the next pass
    assert not np.array_equal(big[0], big[3])  # a new permutation per pass
    small = [np.sort(e[e >= 1000]) for e in epochs]
    assert all(s.tolist() == list(range(1000, 1020)) for s in small)  # the smaller source whole, each epoch


def test_it_is_deterministic_for_a_seed() -> None:
    def run(seed: int) -> str:
        mixture = Mixture([_source(0, 50), _source(1, 20)], [3, 1], seed=seed)
        return digest(list(DataLoader(mixture, 8, seed=0, num_epochs=2)))

    assert run(4) == run(4)
    assert run(4) != run(5)


def test_an_unshuffled_loader_sees_the_sources_interleaved() -> None:
    mixture = Mixture([_source(0, 30), _source(1, 90)], [1, 3], seed=0)
    ids = np.concatenate([np.asarray(b["id"]) for b in DataLoader(mixture, 4, shuffle=False)])
    from_first = np.cumsum(ids < 1000)
    positions = np.arange(1, len(ids) + 1)
    assert np.all(np.abs(from_first - positions / 4) < 1)  # every prefix within one record of 1/4


@pytest.mark.parametrize("stop", [1, 4, 9])
def test_a_resumed_mixture_continues_the_same_batches(stop: int) -> None:
    def make() -> DataLoader:
        mixture = Mixture([_source(0, 40), _source(1, 25), _source(2, 10)], [2, 1, 1], seed=9)
        return DataLoader(mixture, 6, seed=3, num_epochs=3, with_indices=True)

    reference = list(make())
    first = make()
    it = iter(first)
    for _ in range(stop):
        next(it)
    resumed = make()
    resumed.load_state_dict(first.state_dict())
    assert digest(list(resumed)) == digest(reference[stop:])


def test_parts_may_be_subsets_concats_splits_and_mixtures() -> None:
    a, b = random_split(_source(0, 40), [30, 10], seed=1)
    tail = ArraySource({"id": np.arange(9000, 9005, dtype=np.int32)})
    inner = Mixture([_source(1, 12), _source(2, 12)], [1, 1], seed=2)  # 24 an epoch; its epoch is the outer pass
    mixture = Mixture([a, Concat([b, tail]), inner], [1, 1, 2], epoch_size=40, seed=3)
    assert mixture.counts == [10, 10, 20]
    epochs = _epoch_ids(DataLoader(mixture, 8, seed=0, num_epochs=6))
    for ids in epochs:
        first = ids[np.isin(ids, np.asarray(a.indices))]
        assert len(ids) == 40 and len(first) == 10 and len(set(first.tolist())) == 10
        second = ids[(ids >= 9000) | np.isin(ids, np.asarray(b.indices))]
        assert len(second) == 10
    inner_ids = np.concatenate([e[(e >= 1000) & (e < 9000)] for e in epochs])
    assert _counts(inner_ids)[1:] == [60, 60]  # 6 x 20 = 5 inner epochs of 12 + 12, exactly


def test_a_subset_of_a_mixture_reads_epoch_zero() -> None:
    mixture = Mixture([_source(0, 10), _source(1, 10)], [1, 1], seed=0)
    view = Subset(mixture, [0, 5, 19])
    epoch0 = mixture.record_source().get_records(mixture.epoch_records(0, np.array([0, 5, 19])))
    assert np.array_equal(np.asarray(view.get_records(np.arange(3))["id"]), np.asarray(epoch0["id"]))


def test_host_parts_with_workers_give_the_same_batches() -> None:
    def make(workers: int) -> DataLoader:
        parts = [_source(0, 30, on_device=False), _source(1, 12, on_device=False)]
        return DataLoader(Mixture(parts, [1, 1], seed=1), 6, seed=2, num_epochs=2, workers=workers)

    assert digest(list(make(1))) == digest(list(make(0)))


def test_the_shards_of_a_batch_are_the_single_process_batch() -> None:
    mixture = Mixture([_source(0, 40), _source(1, 25)], [1, 2], seed=6)
    single = list(DataLoader(mixture, 8, seed=1, num_epochs=2, num_shards=1, shard_index=0))
    shards = [list(DataLoader(mixture, 8, seed=1, num_epochs=2, num_shards=2, shard_index=i)) for i in range(2)]
    for whole, a, b in zip(single, *shards, strict=True):
        assert np.array_equal(np.concatenate([a["id"], b["id"]]), np.asarray(whole["id"]))


def test_the_state_names_the_weights() -> None:
    mixture = Mixture([_source(0, 10), _source(1, 10)], [1, 3], epoch_size=8)
    assert DataLoader(mixture, 4).state_dict()["fingerprint"]["mixture_weights"] == [1.0, 3.0]


def _two(**kw: Any) -> list[Any]:
    return [_source(0, 10), ArraySource({"id": np.arange(10, dtype=np.int32), **kw})]


@pytest.mark.parametrize(
    ("sources", "weights", "kwargs", "error", "message"),
    [
        (
            [_source(0, 5), _source(1, 5)],
            [1, -1],
            {},
            ConfigError,
            r"weights\[1\]: got -1, expected a finite",
        ),
        ([_source(0, 5), _source(1, 5)], [0, 0.0], {}, ConfigError, r"all zero; expected at least one positive"),
        ([_source(0, 5), _source(1, 5)], [1], {}, ConfigError, r"expected 2 non-negative numbers"),
        ([_source(0, 5), _source(1, 5)], [1, float("nan")], {}, ConfigError, r"weights\[1\]: got nan"),
        ([_source(0, 5), _source(1, 5)], [True, 1], {}, ConfigError, r"weights\[0\]: got True"),
        ([_source(0, 5), _source(1, 5)], [1, 1], {"epoch_size": 0}, ConfigError, r"epoch_size: got 0"),
        ([], [], {}, ConfigError, r"Mixture.sources: got \[\], expected a non-empty list"),
        (
            _two(extra=np.zeros(10)),
            [1, 1],
            {},
            DataError,
            r"sources\[1\] .* has fields .*extra \['extra'\]",
        ),
        (
            [_source(0, 5), ArraySource({"id": np.zeros((5, 2), np.int32)})],
            [1, 1],
            {},
            DataError,
            r"field 'id' is \(2,\) int32 per record, sources\[0\]'s is \(\) int32",
        ),
        (
            [_source(0, 5), ArraySource({"id": np.zeros(5, np.float32)})],
            [1, 1],
            {},
            DataError,
            r"field 'id' is \(\) float32 per record, sources\[0\]'s is \(\) int32",
        ),
    ],
)
def test_bad_mixtures_name_what_is_wrong(
    sources: list[Any], weights: list[Any], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Mixture(sources, weights, **kwargs)
