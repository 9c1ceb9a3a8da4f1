"""Image operators: numerics through the kernels, masks following geometry, loader use."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError, DataError
from modalax_image import kernels
from modalax_image.operator_configs import (
    BrightnessConfig,
    ContrastConfig,
    CropConfig,
    FlipConfig,
    GaussianNoiseConfig,
    GrayscaleConfig,
    NormalizeConfig,
    ResizeConfig,
    RotateConfig,
)
from modalax_image.operators import (
    BrightnessOperator,
    ContrastOperator,
    CropOperator,
    FlipOperator,
    GaussianNoiseOperator,
    GrayscaleOperator,
    NormalizeOperator,
    ResizeOperator,
    RotateOperator,
)

RNG = np.random.default_rng(7)


def rngs() -> nnx.Rngs:
    return nnx.Rngs(0, augment=1)


def coordinate_batch(n: int = 4, h: int = 6, w: int = 8) -> dict[str, np.ndarray]:
    """Images whose channel 0 is the column and channel 1 the row; a mask equal to the column."""
    cols = np.broadcast_to(np.arange(w, dtype=np.float32), (n, h, w))
    rows = np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (n, h, w))
    images = np.stack([cols, rows, RNG.random((n, h, w), dtype=np.float32)], axis=-1)
    return {"images": images, "mask": cols.astype(np.int32)}


def test_operators_are_registered_by_name():
    assert modalax.list_operators("image") == [
        f"image/{n}"
        for n in (
            "brightness",
            "color_jitter",
            "contrast",
            "crop",
            "cutmix",
            "cutout",
            "flip",
            "gaussian_noise",
            "grayscale",
            "mixup",
            "normalize",
            "pixel_dropout",
            "poisson_noise",
            "resize",
            "rotate",
            "salt_and_pepper",
        )
    ]
    assert modalax.get_operator("image", "flip") is FlipOperator


def test_resize_operator_equals_the_kernel_and_moves_masks_with_nearest():
    batch = coordinate_batch()
    op = ResizeOperator(ResizeConfig(height=12, width=4, auxiliary_fields=("mask",)))
    out = op.apply_batch(batch)
    np.testing.assert_allclose(np.asarray(out["images"]), np.asarray(kernels.resize(batch["images"], 12, 4)), atol=1e-6)
    mask = np.asarray(out["mask"])
    assert mask.dtype == np.int32 and mask.shape == (4, 12, 4)
    np.testing.assert_array_equal(mask[0, 0], [1, 3, 5, 7])  # nearest columns of 8 -> 4


def test_normalize_and_grayscale_operators():
    x = RNG.integers(0, 256, (2, 3, 3, 3), dtype=np.uint8)
    out = NormalizeOperator(NormalizeConfig(output_range=(-1.0, 1.0))).apply_batch({"images": x})
    np.testing.assert_allclose(np.asarray(out["images"]), x / 255.0 * 2 - 1, atol=1e-6)
    gray = GrayscaleOperator(GrayscaleConfig()).apply_batch({"images": x.astype(np.float32)})
    np.testing.assert_allclose(np.asarray(gray["images"])[..., 0], x @ np.array(kernels.LUMA), rtol=1e-5)


def test_flip_flags_are_per_record_and_the_mask_follows():
    batch = coordinate_batch(n=64)
    op = FlipOperator(FlipConfig(auxiliary_fields=("mask",)), rngs=rngs())
    out = op.apply_batch(batch, rng=jax.random.key(3))
    images, mask = np.asarray(out["images"]), np.asarray(out["mask"])
    flipped = images[:, 0, 0, 0] == 7  # column 0 now holds column 7
    assert 10 < flipped.sum() < 54  # p = 0.5 over 64 records
    for i in range(64):
        src = batch["images"][i, :, ::-1] if flipped[i] else batch["images"][i]
        np.testing.assert_array_equal(images[i], src)
        np.testing.assert_array_equal(mask[i], images[i, :, :, 0].astype(np.int32))
    again = op.apply_batch(batch, rng=jax.random.key(3))
    np.testing.assert_array_equal(np.asarray(again["images"]), images)


def test_fixed_flip_when_not_stochastic():
    batch = coordinate_batch(n=2)
    out = FlipOperator(FlipConfig(stochastic=False, direction="vertical")).apply_batch(batch)
    np.testing.assert_array_equal(np.asarray(out["images"]), batch["images"][:, ::-1])


def test_random_crop_moves_the_mask_and_centre_crop_is_fixed():
    batch = coordinate_batch(n=16, h=10, w=12)
    op = CropOperator(CropConfig(height=4, width=5, auxiliary_fields=("mask",)), rngs=rngs())
    out = op.apply_batch(batch, rng=jax.random.key(0))
    images, mask = np.asarray(out["images"]), np.asarray(out["mask"])
    assert images.shape == (16, 4, 5, 3) and mask.shape == (16, 4, 5)
    lefts, tops = images[:, 0, 0, 0].astype(int), images[:, 0, 0, 1].astype(int)
    assert len(set(zip(lefts, tops, strict=True))) > 4
    for i in range(16):
        np.testing.assert_array_equal(images[i], batch["images"][i, tops[i] : tops[i] + 4, lefts[i] : lefts[i] + 5])
        np.testing.assert_array_equal(mask[i], batch["mask"][i, tops[i] : tops[i] + 4, lefts[i] : lefts[i] + 5])
    centre = CropOperator(CropConfig(height=4, width=6, stochastic=False)).apply_batch(batch)
    np.testing.assert_array_equal(np.asarray(centre["images"]), batch["images"][:, 3:7, 3:9])


def test_crop_larger_than_the_image_is_a_clear_error():
    op = CropOperator(CropConfig(height=20), rngs=rngs())
    with pytest.raises(DataError, match=r"a 20x20 crop does not fit 6x8 images"):
        op.apply_batch(coordinate_batch(), rng=jax.random.key(0))


def test_brightness_contrast_parameters_lie_in_their_ranges_and_clip():
    x = np.full((200, 2, 2, 1), 0.5, np.float32)
    out = np.asarray(
        BrightnessOperator(BrightnessConfig(max_delta=0.2), rngs=rngs()).apply_batch(
            {"images": x}, rng=jax.random.key(1)
        )["images"]
    )
    delta = out[:, 0, 0, 0] - 0.5
    assert np.all(np.abs(delta) <= 0.2 + 1e-6) and delta.min() < -0.15 and delta.max() > 0.15
    np.testing.assert_allclose(out, np.broadcast_to(0.5 + delta[:, None, None, None], out.shape), atol=1e-6)
    clipped = BrightnessOperator(BrightnessConfig(max_delta=0.8, clip_range=(0.0, 1.0)), rngs=rngs())
    y = np.asarray(clipped.apply_batch({"images": x}, rng=jax.random.key(1))["images"])
    assert y.min() == 0.0 and y.max() == 1.0
    fixed = BrightnessOperator(BrightnessConfig(max_delta=0.1, stochastic=False)).apply_batch({"images": x})
    np.testing.assert_allclose(np.asarray(fixed["images"]), x + 0.1, atol=1e-7)
    z = RNG.random((50, 3, 3, 2), dtype=np.float32)
    c = np.asarray(
        ContrastOperator(ContrastConfig(lower=0.5, upper=1.5), rngs=rngs()).apply_batch(
            {"images": z}, rng=jax.random.key(2)
        )["images"]
    )
    mean = z.mean(axis=(1, 2), keepdims=True)
    factor = ((c - mean) / (z - mean))[:, 0, 0, 0]
    assert np.all((factor > 0.5 - 1e-3) & (factor < 1.5 + 1e-3))


def test_rotate_moves_masks_with_nearest_and_fill():
    batch = coordinate_batch(n=3, h=9, w=9)
    op = RotateOperator(RotateConfig(max_angle=90.0, stochastic=False, method="nearest", auxiliary_fields=("mask",)))
    out = op.apply_batch(batch)
    # 90 degrees counter-clockwise: the new top row is the old right column, read top to bottom.
    top = np.asarray(out["images"])[0, 0]
    np.testing.assert_array_equal(top[:, 0], np.full(9, 8.0))
    np.testing.assert_array_equal(top[:, 1], np.arange(9))
    np.testing.assert_array_equal(np.asarray(out["mask"]), np.asarray(out["images"])[..., 0].astype(np.int32))


def test_gaussian_noise_operator_per_record():
    x = np.zeros((8, 16, 16, 1), np.float32)
    op = GaussianNoiseOperator(GaussianNoiseConfig(std=0.1), rngs=rngs())
    out = np.asarray(op.apply_batch({"images": x}, rng=jax.random.key(0))["images"])
    assert abs(out.std() - 0.1) < 0.01
    assert not np.allclose(out[0], out[1])


def test_wrong_rank_elements_are_rejected():
    with pytest.raises(DataError, match=r"field 'images' has shape \(2, 5\), expected a batch of images \(N, height"):
        ResizeOperator(ResizeConfig(height=4)).apply_batch({"images": np.zeros((2, 5), np.float32)})


def test_stochastic_operator_needs_the_augment_stream():
    with pytest.raises(ConfigError, match=r"stream 'augment'"):
        FlipOperator(FlipConfig(), rngs=nnx.Rngs(0))


def test_loader_pipeline_is_deterministic_and_masks_stay_aligned():
    n = 24
    images = np.stack([np.broadcast_to(np.arange(8, dtype=np.uint8) * 30, (8, 8))] * 3, axis=-1)
    data = {
        "images": np.broadcast_to(images, (n, 8, 8, 3)).copy(),
        "segmentation": np.broadcast_to(np.arange(8, dtype=np.int32), (n, 8, 8)).copy(),
    }
    ops = [
        NormalizeOperator(NormalizeConfig()),
        ResizeOperator(ResizeConfig(height=16, auxiliary_fields=("segmentation",))),
        FlipOperator(FlipConfig(auxiliary_fields=("segmentation",)), rngs=rngs()),
        BrightnessOperator(BrightnessConfig(max_delta=0.2, clip_range=(0.0, 1.0)), rngs=rngs()),
    ]

    def epoch() -> list[dict[str, np.ndarray]]:
        loader = modalax.DataLoader(modalax.ArraySource(data), 8, seed=5, operators=ops, with_indices=True)
        return [{k: np.asarray(v) for k, v in b.items()} for b in loader]

    first, second = epoch(), epoch()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a["images"], b["images"])
    batch = first[0]
    assert batch["images"].shape == (8, 16, 16, 3) and batch["segmentation"].shape == (8, 16, 16)
    assert batch["images"].min() >= 0.0 and batch["images"].max() <= 1.0
    for img, mask in zip(batch["images"], batch["segmentation"], strict=True):
        # the ramp rises left to right unless flipped; the mask must agree with the image
        rising = img[0, -1, 0] > img[0, 0, 0]
        assert (mask[0, -1] > mask[0, 0]) == rising
