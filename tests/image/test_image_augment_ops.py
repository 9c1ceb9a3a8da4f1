"""Cutout, pixel dropout, salt-and-pepper, Poisson and Gaussian noise against numpy references."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import DataError
from modalax_image import augment_kernels as ak
from modalax_image.augment_configs import CutoutConfig, PixelDropoutConfig, PoissonNoiseConfig, SaltAndPepperConfig
from modalax_image.augment_ops import CutoutOperator, PixelDropoutOperator, PoissonNoiseOperator, SaltAndPepperOperator
from modalax_image.operator_configs import GaussianNoiseConfig
from modalax_image.operators import GaussianNoiseOperator

RNG = np.random.default_rng(11)


def rngs() -> nnx.Rngs:
    return nnx.Rngs(0, augment=1)


def keys(n: int, seed: int = 0) -> jax.Array:
    return jax.random.split(jax.random.key(seed), n)


def params_of(op, batch: dict, k: jax.Array):
    """The per-record random parameters the operator draws from keys ``k`` (what apply_batch uses)."""
    element = {name: value[0] for name, value in batch.items()}
    params = op.record_params(k, element)
    return jax.tree.map(lambda p: p if jax.dtypes.issubdtype(p.dtype, jax.dtypes.prng_key) else np.asarray(p), params)


# ----------------------------------------------------------------------- references
def cutout_ref(x: np.ndarray, boxes: np.ndarray, fill) -> np.ndarray:
    out = x.copy()
    for i, rows in enumerate(boxes):
        for top, left, h, w in rows:
            out[i, top : top + h, left : left + w] = fill
    return out


def test_cutout_equals_the_reference_for_its_boxes_and_the_mask_follows():
    n, h, w = 12, 20, 24
    batch = {
        "images": RNG.random((n, h, w, 3), dtype=np.float32),
        "seg": RNG.integers(1, 5, (n, h, w)).astype(np.int32),
    }
    op = CutoutOperator(
        CutoutConfig(num_patches=3, size_range=(2, 7), fill=0.25, mask_fill=-1, auxiliary_fields=("seg",)), rngs=rngs()
    )
    k = keys(n)
    boxes = params_of(op, batch, k)
    assert boxes.shape == (n, 3, 4) and boxes.dtype == np.int32
    top, left, bh, bw = np.moveaxis(boxes, -1, 0)
    assert bh.min() >= 2 and bh.max() <= 7 and bw.min() >= 2 and bw.max() <= 7
    assert len(np.unique(bh)) > 3  # sizes are drawn, not fixed
    assert np.all(top >= 0) and np.all(top + bh <= h) and np.all(left >= 0) and np.all(left + bw <= w)
    out = op.apply_batch(batch, keys=k)
    np.testing.assert_array_equal(np.asarray(out["images"]), cutout_ref(batch["images"], boxes, np.float32(0.25)))
    np.testing.assert_array_equal(np.asarray(out["seg"]), cutout_ref(batch["seg"], boxes, -1))


def test_cutout_fixed_size_positions_cover_the_image_uniformly():
    n = 400
    batch = {"images": np.zeros((n, 10, 10, 1), np.float32)}
    op = CutoutOperator(CutoutConfig(patch_size=(3, 4)), rngs=rngs())
    boxes = params_of(op, batch, keys(n))[:, 0]
    np.testing.assert_array_equal(boxes[:, 2:], np.broadcast_to([3, 4], (n, 2)))
    assert set(boxes[:, 0]) == set(range(8)) and set(boxes[:, 1]) == set(range(7))  # every fitting corner occurs


def test_cutout_keeps_uint8_and_converts_the_fill():
    x = RNG.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    boxes = np.array([[[0, 0, 2, 2]], [[3, 4, 5, 4]], [[7, 7, 1, 1]]])
    out = np.asarray(modalax.get_kernel("image.cutout")(x, boxes, fill=0.5))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, cutout_ref(x, boxes, 128))
    as_float = np.asarray(ak.cutout(x / np.float32(255), boxes, 0.5))
    np.testing.assert_allclose(as_float, cutout_ref(x / np.float32(255), boxes, 0.5), atol=1e-7)
    with pytest.raises(DataError, match=r"image.cutout.fill: got 1.5 for uint8 images, expected a value in \[0, 1\]"):
        ak.cutout(x, boxes, 1.5)


def test_pixel_dropout_equals_the_reference_and_drops_at_its_rate():
    n, h, w, p = 64, 32, 32, 0.2
    batch = {"images": RNG.uniform(0.1, 1.0, (n, h, w, 3)).astype(np.float32)}
    op = PixelDropoutOperator(PixelDropoutConfig(probability=p, fill=0.0), rngs=rngs())
    k = keys(n, 3)
    drop = params_of(op, batch, k)
    assert drop.shape == (n, h, w) and drop.dtype == bool
    out = np.asarray(op.apply_batch(batch, keys=k)["images"])
    np.testing.assert_array_equal(out, np.where(drop[..., None], 0.0, batch["images"]))
    dropped = (out == 0).all(axis=-1)  # whole pixels: every channel at once
    assert np.array_equal(dropped, (out == 0).any(axis=-1))
    total = n * h * w
    assert abs(dropped.sum() - p * total) < 5 * np.sqrt(total * p * (1 - p))  # binomial, 5 sigma
    per_image = dropped.mean(axis=(1, 2))
    assert per_image.std() > 0  # each record draws its own mask


def test_pixel_dropout_per_channel_drops_single_values():
    n, p = 32, 0.3
    batch = {"images": RNG.integers(1, 256, (n, 16, 16, 3), dtype=np.uint8)}
    op = PixelDropoutOperator(PixelDropoutConfig(probability=p, per_channel=True, fill=1.0), rngs=rngs())
    k = keys(n, 4)
    drop = params_of(op, batch, k)
    assert drop.shape == (n, 16, 16, 3)
    out = np.asarray(op.apply_batch(batch, keys=k)["images"])
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.where(drop, 255, batch["images"]))
    total = drop.size
    assert abs(drop.sum() - p * total) < 5 * np.sqrt(total * p * (1 - p))
    # channels are independent: all three dropped together about p^3 of the time, not p
    assert (drop.all(axis=-1)).mean() < 2 * p**3


@pytest.mark.parametrize("probability, expected", [(0.0, "unchanged"), (1.0, "all fill")])
def test_pixel_dropout_extremes(probability, expected):
    x = RNG.uniform(0.2, 1.0, (4, 8, 8, 3)).astype(np.float32)
    op = PixelDropoutOperator(PixelDropoutConfig(probability=probability, fill=0.1), rngs=rngs())
    out = np.asarray(op.apply_batch({"images": x}, rng=jax.random.key(0))["images"])
    np.testing.assert_array_equal(out, x if expected == "unchanged" else np.full_like(x, 0.1))


def test_salt_and_pepper_codes_and_rates():
    n, amount, svp = 48, 0.2, 0.3
    batch = {"images": RNG.uniform(0.1, 0.9, (n, 24, 24, 3)).astype(np.float32)}
    op = SaltAndPepperOperator(SaltAndPepperConfig(amount=amount, salt_vs_pepper=svp), rngs=rngs())
    k = keys(n, 5)
    codes = params_of(op, batch, k)
    assert codes.shape == (n, 24, 24) and codes.dtype == np.uint8 and set(np.unique(codes)) == {0, 1, 2}
    out = np.asarray(op.apply_batch(batch, keys=k)["images"])
    ref = np.where(codes[..., None] == 1, 1.0, np.where(codes[..., None] == 2, 0.0, batch["images"]))
    np.testing.assert_array_equal(out, ref)
    total = codes.size
    for value, rate in ((1.0, amount * svp), (0.0, amount * (1 - svp))):
        count = (out == value).all(axis=-1).sum()
        assert abs(count - rate * total) < 5 * np.sqrt(total * rate * (1 - rate))


def test_salt_and_pepper_uses_the_dtype_range_and_only_salt():
    x = np.full((8, 16, 16, 1), 30_000, np.uint16)
    op = SaltAndPepperOperator(SaltAndPepperConfig(amount=0.5, salt_vs_pepper=1.0, per_channel=True), rngs=rngs())
    out = np.asarray(op.apply_batch({"images": x}, rng=jax.random.key(1))["images"])
    assert out.dtype == np.uint16 and set(np.unique(out)) == {30_000, 65_535}  # salt only: no pepper
    none = SaltAndPepperOperator(SaltAndPepperConfig(amount=0.0), rngs=rngs())
    np.testing.assert_array_equal(np.asarray(none.apply_batch({"images": x}, rng=jax.random.key(1))["images"]), x)


def test_poisson_noise_counts_have_variance_equal_to_mean():
    n, peak, level = 64, 20.0, 0.3
    x = np.full((n, 16, 16, 1), level, np.float32)
    op = PoissonNoiseOperator(PoissonNoiseConfig(peak=peak), rngs=rngs())
    out = np.asarray(op.apply_batch({"images": x}, rng=jax.random.key(2))["images"])
    counts = out * peak
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-4)  # whole photon counts
    lam, m = level * peak, counts.size
    assert abs(counts.mean() - lam) < 5 * np.sqrt(lam / m)
    assert abs(counts.var() - lam) < 5 * np.sqrt((lam + 2 * lam**2) / m)  # Poisson: variance = mean
    assert not np.array_equal(out[0], out[1])


def test_poisson_noise_is_the_poisson_draw_of_each_records_key_and_reads_uint8_as_its_range():
    n, peak = 6, 50.0
    u8 = RNG.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
    unit = u8 * np.float32(1 / 255)
    k = keys(n, 9)
    op = PoissonNoiseOperator(PoissonNoiseConfig(peak=peak), rngs=rngs())
    out = np.asarray(op.apply_batch({"images": u8}, keys=k)["images"])
    assert out.dtype == np.float32
    ref = np.stack(
        [
            np.asarray(jax.random.poisson(key, unit[i] * np.float32(peak), unit[i].shape))
            for i, key in enumerate(params_of(op, {"images": u8}, k))
        ]
    ) / np.float32(peak)
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(op.apply_batch({"images": unit}, keys=k)["images"]), out)


def test_poisson_noise_preserves_the_mean_per_pixel():
    n, peak = 512, 100.0
    ramp = np.linspace(0.0, 1.0, 8, dtype=np.float32).reshape(1, 1, 8, 1)
    x = np.broadcast_to(ramp, (n, 1, 8, 1)).copy()
    op = PoissonNoiseOperator(PoissonNoiseConfig(peak=peak), rngs=rngs())
    out = np.asarray(op.apply_batch({"images": x}, rng=jax.random.key(4))["images"])
    se = np.sqrt(np.maximum(ramp.ravel(), 1e-3) / peak / n)
    assert np.all(np.abs(out.mean(axis=0).ravel() - ramp.ravel()) < 5 * se)
    assert np.all(out[:, 0, 0] == 0.0)  # zero light, zero photons


def test_gaussian_noise_mean_offsets_the_noise():
    x = np.full((32, 16, 16, 1), 0.5, np.float32)
    op = GaussianNoiseOperator(GaussianNoiseConfig(std=0.05, mean=0.1), rngs=rngs())
    noise = np.asarray(op.apply_batch({"images": x}, rng=jax.random.key(0))["images"]) - 0.5
    assert abs(noise.mean() - 0.1) < 5 * 0.05 / np.sqrt(noise.size)
    assert abs(noise.std() - 0.05) < 0.003
    k = keys(4)
    plain = GaussianNoiseOperator(GaussianNoiseConfig(std=0.05), rngs=rngs()).apply_batch({"images": x[:4]}, keys=k)
    shifted = op.apply_batch({"images": x[:4]}, keys=k)
    np.testing.assert_allclose(np.asarray(shifted["images"]), np.asarray(plain["images"]) + 0.1, atol=1e-6)
    zero = GaussianNoiseOperator(GaussianNoiseConfig(std=0.0), rngs=rngs()).apply_batch({"images": x[:4]}, keys=k)
    np.testing.assert_array_equal(np.asarray(zero["images"]), x[:4])
