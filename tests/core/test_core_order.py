"""The epoch order: a true permutation either way, uniform, and O(batch) for huge datasets."""

from __future__ import annotations

import collections
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modalax import ConfigError, DataLoader
from modalax._src.loader import EpochOrder, epoch_permutation

from .source_fixtures import NoiseDataset, epoch_order


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 3000), seed=st.integers(0, 2**32), epoch=st.integers(0, 1000), materialized=st.booleans())
def test_every_order_is_a_permutation_and_positions_agree(n: int, seed: int, epoch: int, materialized: bool) -> None:
    with epoch_order(materialized):
        order = EpochOrder(n, seed, epoch, True)
        whole = order.materialize()
        np.testing.assert_array_equal(np.sort(whole), np.arange(n))
        pos = np.random.default_rng(seed).integers(0, n, size=(3, 5))
        np.testing.assert_array_equal(order[pos], whole[pos])  # any shape of positions, same answer
        np.testing.assert_array_equal(epoch_permutation(n, seed, epoch, True), whole)
        np.testing.assert_array_equal(EpochOrder(n, seed, epoch, False)[pos], pos)


def test_drawn_order_is_numpy_pcg64_of_seed_and_epoch() -> None:
    expected = np.random.Generator(np.random.PCG64(np.random.SeedSequence([4, 2]))).permutation(100)
    np.testing.assert_array_equal(epoch_permutation(100, 4, 2, True), expected)


def test_per_position_order_is_uniform_over_permutations_and_positions() -> None:
    with epoch_order(materialized=False):
        counts = collections.Counter(tuple(epoch_permutation(3, 0, e, True)) for e in range(3000))
        assert len(counts) == 6 and all(400 < c < 600 for c in counts.values()), counts  # 500 expected
        where = np.zeros((10, 10))
        for e in range(2000):
            where[np.arange(10), epoch_permutation(10, 1, e, True)] += 1
        assert where.min() > 140 and where.max() < 260, where  # 200 expected, sd 13
        assert not np.array_equal(epoch_permutation(1000, 1, 0, True), epoch_permutation(1000, 1, 1, True))
        assert not np.array_equal(epoch_permutation(1000, 1, 0, True), epoch_permutation(1000, 2, 0, True))


def test_loader_over_a_huge_dataset_never_materialises_the_epoch() -> None:
    n = 2**27  # a drawn permutation would be 1 GiB of int64
    loader = DataLoader(NoiseDataset(dataset_size=n, rngs=0), 64, seed=3, prefetch=0)
    tracemalloc.start()
    try:
        it = iter(loader)
        ids = [np.asarray(next(it)["id"]) for _ in range(3)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    it.close()
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB traced"
    seen = np.concatenate(ids)
    assert len(set(seen.tolist())) == 192 and seen.min() >= 0 and seen.max() < n
    expected = EpochOrder(n, 3, 0, True)[np.arange(192)]
    np.testing.assert_array_equal(seen, expected)


def test_more_records_than_int32_indices_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"num_records: got 2,147,483,648 records, expected at most 2,147,483,647"):
        DataLoader(NoiseDataset(dataset_size=2**31, rngs=0), 8)
