"""The loader hands its validity mask to operators that read it (MixUp, CutMix): padding is never mixed in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from modalax import ArraySource, ConfigError, DataLoader, FileSource

mix_ops = pytest.importorskip("modalax_image.mix_ops")

N = 21  # batches of 8: the last holds 5 records and 3 padded ones


def _data(n: int = N) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(4)
    return {"images": rng.random((n, 8, 8, 3), dtype=np.float32), "labels": np.arange(n, dtype=np.int32)}


def _op(kind: str, **kw: Any) -> Any:
    cls, config = {
        "mixup": (mix_ops.MixUpOperator, mix_ops.MixUpConfig),
        "cutmix": (mix_ops.CutMixOperator, mix_ops.CutMixConfig),
    }[kind]
    return cls(config(num_classes=N, mode="record", **kw), rngs=nnx.Rngs(0, augment=1))


def _assert_unmixed_invalid(batch: dict[str, Any], raw_images: np.ndarray, mask_key: str = "mask") -> None:
    """Valid rows hold no weight of an invalid record's class; invalid rows are their raw images."""
    mask, idx = np.asarray(batch[mask_key]), np.asarray(batch["index"])
    labels = np.asarray(batch["labels"])
    assert (~mask).any() and mask.any()
    assert labels[mask][:, idx[~mask]].sum() == 0.0
    assert labels[mask][:, idx[mask]].sum(axis=1) == pytest.approx(1.0)
    np.testing.assert_array_equal(np.asarray(batch["images"])[~mask], raw_images[~mask])


@pytest.mark.parametrize("kind", ["mixup", "cutmix"])
def test_padded_records_are_never_mixed_into_valid_ones(kind: str) -> None:
    data = _data()
    loader = DataLoader(ArraySource(data), 8, operators=[_op(kind)], seed=0, with_indices=True)
    last = list(loader)[-1]
    _assert_unmixed_invalid(last, data["images"][np.asarray(last["index"])])
    # the scanned epoch hands the same mask to the operator
    again = DataLoader(ArraySource(data), 8, operators=[_op(kind)], seed=0, with_indices=True)
    _, scanned = again.scan_epoch(lambda c, b: (c, b), jnp.int32(0))
    np.testing.assert_array_equal(np.asarray(scanned["labels"][-1]), np.asarray(last["labels"]))


class NpyImages(FileSource):
    """One ``.npy`` image per record; the label is the record's index."""

    def decode(self, path: Path) -> dict[str, np.ndarray]:
        return {"images": np.load(path, allow_pickle=False)}

    def extra_fields(self, index: int) -> dict[str, Any]:
        return {"labels": np.int32(index)}


def test_records_skipped_as_bad_files_are_never_mixed(tmp_path: Path) -> None:
    data = _data(8)
    paths = []
    for i in range(8):
        path = tmp_path / f"{i}.npy"
        np.save(path, data["images"][i]) if i != 3 else path.write_bytes(b"not an array")
        paths.append(path)
    source = NpyImages(paths, on_error="skip", num_threads=1)
    loader = DataLoader(source, 8, operators=[_op("mixup")], drop_last=True, seed=0, with_indices=True)
    with pytest.warns(RuntimeWarning, match=r"skipping .*3.npy"):
        batch = next(iter(loader))
    assert np.asarray(batch["mask"]).tolist() == [i != 3 for i in np.asarray(batch["index"])]
    raw = data["images"][np.asarray(batch["index"])]
    raw[~np.asarray(batch["mask"])] = 0.0  # a skipped file's stand-in is a record of zeros
    _assert_unmixed_invalid(batch, raw)


def test_an_own_mask_key_reaches_an_operator_reading_that_key() -> None:
    data = _data()
    op = _op("cutmix", mask_key="valid")
    last = list(DataLoader(ArraySource(data), 8, operators=[op], mask_key="valid", seed=0, with_indices=True))[-1]
    assert "mask" not in last and last["valid"].dtype == bool
    _assert_unmixed_invalid(last, data["images"][np.asarray(last["index"])], mask_key="valid")


def test_an_operator_ignoring_masks_is_fine_where_every_record_is_valid() -> None:
    op = _op("mixup", mask_key=None)
    assert len(list(DataLoader(ArraySource(_data(16)), 8, operators=[op], drop_last=True))) == 2


def test_without_padding_no_mask_field_appears() -> None:
    batches = list(DataLoader(ArraySource(_data(16)), 8, operators=[_op("mixup")], drop_last=True, seed=0))
    assert all("mask" not in b for b in batches)


@pytest.mark.parametrize(
    ("op_kw", "loader_kw", "data_kw", "message"),
    [
        ({}, {"mask_key": "valid"}, {}, r"config.mask_key: got 'mask', but the loader passes .* as 'valid'"),
        ({"mask_key": None}, {}, {}, r"config.mask_key: got None, but the loader passes"),
        ({}, {}, {"mask": np.ones(N, bool)}, r"DataLoader.mask_key: the batch already has a field 'mask'"),
    ],
)
def test_a_mask_the_operator_would_miss_or_overwrite_is_a_config_error(
    op_kw: dict[str, Any], loader_kw: dict[str, Any], data_kw: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        list(DataLoader(ArraySource({**_data(), **data_kw}), 8, operators=[_op("mixup", **op_kw)], **loader_kw))
