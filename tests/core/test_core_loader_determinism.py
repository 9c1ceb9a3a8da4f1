"""The loader's determinism across processes, progress, get_batch, its own mask and index fields, index blocks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

from modalax import ArraySource, ConfigError, DataLoader

from .operator_fixtures import Shift, ShiftConfig
from .source_fixtures import NoiseDataset, digest, ids_source

ROOT = Path(__file__).resolve().parents[2]


DETERMINISM = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from flax import nnx
    from modalax import DataLoader
    from tests.core.operator_fixtures import Shift, ShiftConfig
    from tests.core.source_fixtures import NoiseDataset, digest
    ds = NoiseDataset(dataset_size=37, split="val", rngs=nnx.Rngs(4))
    op = Shift(ShiftConfig(field_key="x", stochastic=True, stream_name="augment"), rngs=nnx.Rngs(0, augment=9))
    print(digest(list(DataLoader(ds, 8, seed=6, num_epochs=2, operators=[op]))))
""")


def test_same_seed_gives_byte_identical_batches_in_a_fresh_process() -> None:
    ds = NoiseDataset(dataset_size=37, split="val", rngs=nnx.Rngs(4))
    op = Shift(ShiftConfig(field_key="x", stochastic=True, stream_name="augment"), rngs=nnx.Rngs(0, augment=9))
    here = digest(list(DataLoader(ds, 8, seed=6, num_epochs=2, operators=[op])))
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    res = subprocess.run(
        [sys.executable, "-c", DETERMINISM.format(root=str(ROOT))],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    assert res.stdout.strip() == here


def test_synthetic_dataset_is_a_pure_function_of_seed_split_index() -> None:
    a = NoiseDataset(dataset_size=10**9, split="train", rngs=nnx.Rngs(1))
    np.testing.assert_array_equal(a[123_456_789]["x"], a.get_batch_at(123_456_789, 1)["x"][0])
    np.testing.assert_array_equal(a[5]["x"], NoiseDataset(dataset_size=10, rngs=nnx.Rngs(1))[5]["x"])
    val = NoiseDataset(dataset_size=10, split="val", rngs=nnx.Rngs(1))
    train = np.asarray(a.get_records(np.arange(10))["x"])
    assert not np.isin(np.asarray(val.get_records(np.arange(10))["x"]), train).any()
    with pytest.raises(IndexError, match="index: got 10, expected -10 <= index < 10"):
        val[10]
    traced = jax.jit(lambda s: val.get_batch_at(s, 3)["id"])(jax.numpy.int32(8))
    np.testing.assert_array_equal(traced, [8, 9, 0])
    assert val.element_spec()["x"] == jax.ShapeDtypeStruct((4,), np.float32)


def test_progress_bar_counts_batches(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    batches = list(DataLoader(ids_source(10), 4, progress=True, prefetch=0, num_epochs=2))
    assert len(batches) == 6
    assert "6/6" in capsys.readouterr().err


def test_get_batch_draws_from_the_dataset_and_advances() -> None:
    ds = NoiseDataset(dataset_size=50, rngs=nnx.Rngs(2))
    a, b = ds.get_batch(8), ds.get_batch(8)
    assert a["x"].shape == (8, 4) and not np.array_equal(a["id"], b["id"])
    np.testing.assert_array_equal(a["x"], ds.get_records(a["id"])["x"])
    again = NoiseDataset(dataset_size=50, rngs=nnx.Rngs(2)).get_batch(8)
    np.testing.assert_array_equal(again["id"], a["id"])
    with pytest.raises(ConfigError, match=r"get_batch.batch_size: got 0"):
        ds.get_batch(0)
    assert ds.get_data_statistics() == {
        "size": 50,
        "split": "train",
        "fields": {"x": {"shape": [4], "dtype": "float32"}, "id": {"shape": [], "dtype": "int32"}},
    }


def test_padding_mask_never_overwrites_a_data_field() -> None:
    src = ArraySource({"x": np.zeros((5, 2)), "mask": np.ones((5, 2))})
    with pytest.raises(ConfigError, match=r"mask_key: the batch already has a field 'mask'"):
        next(iter(DataLoader(src, 2, prefetch=0)))
    batch = next(iter(DataLoader(src, 2, prefetch=0, mask_key="valid")))
    np.testing.assert_array_equal(batch["mask"], np.ones((2, 2)))
    assert batch["valid"].dtype == bool


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40),
    shards=st.integers(1, 4),
    per_shard=st.integers(1, 5),
    drop_last=st.booleans(),
    lo=st.integers(0, 12),
    width=st.integers(1, 12),
)
def test_index_blocks_hold_their_slice_of_the_permutation(
    n: int, shards: int, per_shard: int, drop_last: bool, lo: int, width: int
) -> None:
    from modalax._src.loader import BatchPlan, epoch_permutation

    batch = shards * per_shard
    if drop_last and batch > n:
        return
    perm = epoch_permutation(n, 1, 0, True)
    for shard in range(shards):
        plan = BatchPlan(n, batch, drop_last, shards, shard)
        lo_b = min(lo, plan.batches_per_epoch - 1)
        hi_b = min(lo_b + width, plan.batches_per_epoch)
        idx, mask = plan.local_indices_block(perm, lo_b, hi_b)
        for row, b in enumerate(range(lo_b, hi_b)):
            # batch b is positions [b*B, (b+1)*B) of the permutation; shard s takes its s-th slice;
            # positions past the end wrap to the start and are masked out
            pos = [b * batch + shard * per_shard + j for j in range(per_shard)]
            assert idx[row].tolist() == [int(perm[q % n]) for q in pos]
            assert mask[row].tolist() == [q < n for q in pos]
            one_idx, one_mask = plan.local_indices(perm, b)
            np.testing.assert_array_equal(one_idx, idx[row])
            np.testing.assert_array_equal(one_mask, mask[row])
