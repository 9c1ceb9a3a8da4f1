"""Colour jitter: HSV conversions against colorsys and skimage, factors against a numpy reference."""

from __future__ import annotations

import colorsys

import jax
import numpy as np
import pytest
from flax import nnx
from skimage.color import hsv2rgb, rgb2hsv

from modalax import DataError
from modalax_image import augment_kernels as ak
from modalax_image.augment_configs import ColorJitterConfig
from modalax_image.augment_ops import ColorJitterOperator

RNG = np.random.default_rng(5)
LUMA = np.array([0.299, 0.587, 0.114])


def random_pixels(n: int = 2000) -> np.ndarray:
    p = RNG.random((n, 3)).astype(np.float32)
    p[:200] = np.round(p[:200] * 4) / 4  # ties between channels, greys, black, primaries
    return p


def hue_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(a - b) % 1.0
    return np.minimum(d, 1.0 - d)


def test_rgb_to_hsv_matches_colorsys_and_skimage():
    p = random_pixels()
    got = np.asarray(ak.rgb_to_hsv(p))
    ref = np.array([colorsys.rgb_to_hsv(*map(float, q)) for q in p])
    assert hue_distance(got[:, 0], ref[:, 0]).max() < 1e-6
    np.testing.assert_allclose(got[:, 1:], ref[:, 1:], atol=1e-6)
    image = RNG.random((9, 7, 3)).astype(np.float32)
    sk = rgb2hsv(image)
    hsv = np.asarray(ak.rgb_to_hsv(image))
    assert hue_distance(hsv[..., 0], sk[..., 0]).max() < 1e-6
    np.testing.assert_allclose(hsv[..., 1:], sk[..., 1:], atol=1e-6)


def test_hsv_to_rgb_matches_colorsys_and_skimage_and_inverts():
    hsv = RNG.random((2000, 3)).astype(np.float32)
    got = np.asarray(ak.hsv_to_rgb(hsv))
    ref = np.array([colorsys.hsv_to_rgb(*map(float, q)) for q in hsv])
    np.testing.assert_allclose(got, ref, atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(ak.hsv_to_rgb(hsv.reshape(40, 50, 3))), hsv2rgb(hsv.reshape(40, 50, 3)), atol=1e-6
    )
    p = random_pixels()
    np.testing.assert_allclose(np.asarray(ak.hsv_to_rgb(ak.rgb_to_hsv(p))), p, atol=1e-6)


def jitter_ref(x: np.ndarray, b: float, c: float, s: float, h: float) -> np.ndarray:
    """The documented semantics, with skimage doing the HSV conversions."""
    rgb = np.clip(x.astype(np.float64) * b, 0, 1)
    mean = (rgb @ LUMA).mean()
    rgb = np.clip((rgb - mean) * c + mean, 0, 1)
    hsv = rgb2hsv(rgb)
    hsv[..., 0] = (hsv[..., 0] + h) % 1.0
    hsv[..., 1] = np.clip(hsv[..., 1] * s, 0, 1)
    return np.clip(hsv2rgb(hsv), 0, 1)


def test_operator_equals_the_reference_for_its_drawn_factors():
    n = 8
    x = RNG.random((n, 10, 12, 3)).astype(np.float32)
    op = ColorJitterOperator(
        ColorJitterConfig(brightness=0.4, contrast=(0.5, 1.5), saturation=0.8, hue=0.25), rngs=nnx.Rngs(0, augment=1)
    )
    k = jax.random.split(jax.random.key(0), n)
    params = {name: np.asarray(v) for name, v in op.record_params(k, {"images": x[0]}).items()}
    assert sorted(params) == ["brightness", "contrast", "hue", "saturation"]
    out = np.asarray(op.apply_batch({"images": x}, keys=k)["images"])
    assert out.dtype == np.float32 and out.min() >= 0.0 and out.max() <= 1.0
    for i in range(n):
        factors = [float(params[name][i]) for name in ("brightness", "contrast", "saturation", "hue")]
        np.testing.assert_allclose(out[i], jitter_ref(x[i], *factors), atol=2e-5)


def test_factor_ranges_follow_torchvision():
    n = 400
    x = np.zeros((1, 2, 2, 3), np.float32)
    op = ColorJitterOperator(
        ColorJitterConfig(brightness=0.5, contrast=1.5, saturation=(0.2, 0.4), hue=0.1), rngs=nnx.Rngs(0, augment=1)
    )
    params = op.record_params(jax.random.split(jax.random.key(1), n), {"images": x[0]})
    for name, (lo, hi) in {
        "brightness": (0.5, 1.5),
        "contrast": (0.0, 2.5),
        "saturation": (0.2, 0.4),
        "hue": (-0.1, 0.1),
    }.items():
        v = np.asarray(params[name])
        width = hi - lo
        assert v.min() >= lo and v.max() <= hi, name
        assert v.min() < lo + 0.05 * width and v.max() > hi - 0.05 * width, name  # the whole range is used
    off = ColorJitterOperator(ColorJitterConfig(brightness=0.2), rngs=nnx.Rngs(0, augment=1))
    assert list(off.record_params(jax.random.split(jax.random.key(1), 2), {"images": x[0]})) == ["brightness"]


@pytest.mark.parametrize(
    "hue, expected",
    [(1 / 3, [0.0, 0.8, 0.0]), (-1 / 3, [0.0, 0.0, 0.8]), (0.5, [0.0, 0.8, 0.8])],
)
def test_hue_turns_red_around_the_circle(hue, expected):
    red = np.zeros((1, 1, 1, 3), np.float32)
    red[..., 0] = 0.8
    np.testing.assert_allclose(np.asarray(ak.color_jitter(red, hue=hue)).ravel(), expected, atol=1e-6)


def test_zero_saturation_gives_grey_at_the_value():
    x = RNG.random((2, 4, 4, 3)).astype(np.float32)
    out = np.asarray(ak.color_jitter(x, saturation=0.0))
    np.testing.assert_allclose(out, np.broadcast_to(x.max(axis=-1, keepdims=True), x.shape), atol=1e-6)


def test_uint8_reads_as_its_range_gray_skips_colour_and_rgba_keeps_alpha():
    u8 = RNG.integers(0, 256, (3, 6, 6, 3), dtype=np.uint8)
    factors = {"brightness": 1.2, "contrast": 0.7, "saturation": 1.5, "hue": 0.1}
    np.testing.assert_allclose(
        np.asarray(ak.color_jitter(u8, **factors)),
        np.asarray(ak.color_jitter(u8 / np.float32(255), **factors)),
        atol=1e-6,
    )
    gray = RNG.random((2, 5, 5, 1)).astype(np.float32)
    out = np.asarray(ak.color_jitter(gray, **factors))
    bright = np.clip(gray * 1.2, 0, 1)
    mean = bright.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(out, np.clip((bright - mean) * 0.7 + mean, 0, 1), atol=1e-6)
    rgba = RNG.random((2, 5, 5, 4)).astype(np.float32)
    out = np.asarray(ak.color_jitter(rgba, **factors))
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    np.testing.assert_allclose(out[..., :3], np.asarray(ak.color_jitter(rgba[..., :3], **factors)), atol=1e-6)


def test_two_channels_are_a_clear_error():
    with pytest.raises(DataError, match=r"image.color_jitter: got 2 channels, expected 1 \(gray\), 3 \(RGB\) or 4"):
        ak.color_jitter(np.zeros((1, 2, 2, 2), np.float32), hue=0.1)
