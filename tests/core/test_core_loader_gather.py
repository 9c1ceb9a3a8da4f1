"""The loader's own gathers for ArraySource (``modalax._src.loader.gather``) give the source's batches.

A device ArraySource without operators is gathered on the CPU backend by the loader's
``row_take`` (jnp.take's fill mode for large rows, clip for small ones) instead of the source's
clip gather; a host ArraySource is gathered into 64-byte aligned buffers. Each test runs the
loader's path and the source's own path (a subclass, which the loader leaves alone) and compares
every batch, across epochs, padding and blocks.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import jax
import numpy as np
import pytest
from flax import nnx

from modalax import ArraySource, DataLoader
from modalax._src.loader import gather as gather_module
from modalax._src.loader import loader as loader_module

from .operator_fixtures import Shift, ShiftConfig


class SourceGather(ArraySource):
    """An ArraySource subclass: the loader keeps its own gather (the path before the loader's)."""

    @staticmethod
    def _take(data: dict[str, Any], indices: Any) -> Any:
        return ArraySource._take(data, indices)

    def get_records(self, indices: Any) -> Any:
        return super().get_records(indices)


def _data(n: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {
        "image": rng.random((n, 5, 4, 3), dtype=np.float32),  # 240-byte rows: clip mode
        "large": rng.random((n, 8, 8, 65), dtype=np.float32),  # 16,640-byte rows: fill mode
        "pixels": rng.integers(0, 256, (n, 7), dtype=np.uint8),
        "flag": rng.random(n) < 0.5,
        "nested": {"id": np.arange(n, dtype=np.int32), "wide": np.arange(n, dtype=np.int64) * 3},
        "half": rng.random((n, 2)).astype(np.float16),
        "double": rng.random((n, 3)),  # float64: float32 on the device without jax_enable_x64
    }


def _batches(source: ArraySource, **kw: Any) -> list[dict[str, Any]]:
    return list(DataLoader(source, 4, seed=3, num_epochs=2, prefetch=0, with_indices=True, **kw))


def _assert_same(ours: list[dict[str, Any]], reference: list[dict[str, Any]]) -> None:
    """Same batches: the same fields, dtypes and values, in order (nested dicts included)."""
    assert len(ours) == len(reference)
    for a, b in zip(ours, reference, strict=True):
        assert jax.tree.structure(a) == jax.tree.structure(b)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            assert type(x) is type(y) and x.dtype == y.dtype
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _check_rows(batches: list[dict[str, Any]], data: dict[str, Any]) -> None:
    """Every field of every batch is the source's rows at the batch's indices, as jax arrays."""
    for batch in batches:
        idx = np.asarray(batch["index"])
        for path, leaf in jax.tree_util.tree_flatten_with_path(data)[0]:
            got = batch
            for p in path:
                got = got[p.key]
            assert isinstance(got, jax.Array)
            np.testing.assert_array_equal(np.asarray(got), np.asarray(jax.numpy.asarray(leaf[idx])))


@pytest.mark.parametrize("drop_last", [False, True])
def test_bare_device_gather_gives_the_source_gathers_batches(drop_last: bool) -> None:
    n = 4 * loader_module._BLOCK + 3  # more than one block; the last batch is padded
    data = _data(n)
    mine = DataLoader(ArraySource(data), 4)
    on_cpu = jax.default_backend() == "cpu"
    assert mine._step.gather is (gather_module.row_take if on_cpu else ArraySource._take)
    modes = {k: gather_module.take_mode(v[0]) for k, v in data.items() if k != "nested"}
    assert modes["large"] == "fill" and modes["image"] == "clip"  # both modes run
    theirs = DataLoader(SourceGather(data), 4)
    assert theirs._step.gather is not gather_module.row_take
    ours, reference = (
        _batches(ArraySource(data), drop_last=drop_last),
        _batches(SourceGather(data), drop_last=drop_last),
    )
    assert len(ours) == (2 * (n // 4) if drop_last else 2 * -(-n // 4))
    _assert_same(ours, reference)
    _check_rows(ours, data)


def test_device_gather_with_operators_or_on_accelerators_stays_the_sources() -> None:
    op = Shift(ShiftConfig(field_key="image"), rngs=nnx.Rngs(0))
    assert DataLoader(ArraySource(_data(8)), 4, operators=[op])._step.gather is ArraySource._take
    with mock.patch.object(gather_module.jax, "default_backend", return_value="gpu"):
        assert DataLoader(ArraySource(_data(8)), 4)._step.gather is ArraySource._take


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("with_operator", [False, True])
def test_host_gather_gives_get_records_batches(drop_last: bool, with_operator: bool) -> None:
    n = 2 * loader_module._BLOCK * 4 + 1
    data = {**_data(n), "name": np.array([f"r{i}" for i in range(n)])}  # strings stay host fields

    def run(source: ArraySource) -> list[dict[str, Any]]:
        ops = [Shift(ShiftConfig(field_key="image", stochastic=True, stream_name="a"), rngs=nnx.Rngs(0, a=1))]
        return _batches(source, drop_last=drop_last, operators=ops if with_operator else None)

    assert gather_module.host_array_data(ArraySource(data, on_device=False)) is not None
    assert gather_module.host_array_data(SourceGather(data, on_device=False)) is None
    ours, reference = run(ArraySource(data, on_device=False)), run(SourceGather(data, on_device=False))
    _assert_same(ours, reference)
    for batch in ours:
        assert batch["name"].tolist() == [f"r{i}" for i in np.asarray(batch["index"])]
        assert ("mask" in batch) != drop_last
    if not with_operator:
        _check_rows(ours, {k: v for k, v in data.items() if k != "name"})


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [((128, 64, 64, 3), np.float32), ((3, 5), np.uint8), ((7,), np.bool_), ((1, 3), np.float16), ((0, 4), np.int32)],
)
def test_aligned_empty_starts_on_the_alignment(shape: tuple[int, ...], dtype: Any) -> None:
    for _ in range(5):  # numpy's own blocks start at 16 bytes: several tries hit each offset
        out = gather_module.aligned_empty(shape, np.dtype(dtype))
        assert out.shape == shape and out.dtype == dtype and out.flags.c_contiguous and out.flags.writeable
        assert out.ctypes.data % gather_module.ALIGN == 0 or out.size == 0


def test_host_take_fills_aligned_buffers_and_indexes_strings() -> None:
    data = {"x": np.arange(40, dtype=np.float32).reshape(10, 4), "s": np.array(list("abcdefghij"))}
    idx = np.array([9, 0, 9, 3])
    out = gather_module.host_take(data, idx)
    np.testing.assert_array_equal(out["x"], data["x"][idx])
    assert out["x"].ctypes.data % gather_module.ALIGN == 0
    assert out["s"].tolist() == ["j", "a", "j", "d"]
