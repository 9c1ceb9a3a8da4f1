"""The image.* kernels against Pillow and numpy references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

import modalax
from modalax import ConfigError, DataError
from modalax_image import kernels, resample

RNG = np.random.default_rng(1234)


def pil_resize(x: np.ndarray, height: int, width: int, method: Image.Resampling) -> np.ndarray:
    """Per-image, per-channel Pillow "F"-mode resize of (N, H, W, C) floats."""
    return np.stack(
        [
            np.stack(
                [
                    np.asarray(Image.fromarray(img[..., c], mode="F").resize((width, height), method))
                    for c in range(img.shape[-1])
                ],
                axis=-1,
            )
            for img in x
        ]
    )


def test_registered_kernels_are_jitted_once_and_match_the_functions():
    names = modalax.list_kernels("image.")
    assert names == sorted(
        f"image.{n}"
        for n in (
            "brightness",
            "digit_segments",
            "color_jitter",
            "contrast",
            "crop",
            "cutmix",
            "cutout",
            "flip",
            "gaussian_noise",
            "mix_labels",
            "mixup",
            "normalize",
            "pixel_dropout",
            "poisson_noise",
            "render_glyph",
            "resize",
            "rotate",
            "salt_and_pepper",
            "to_grayscale",
        )
    )
    x = RNG.random((2, 5, 6, 3), dtype=np.float32)
    resize = modalax.get_kernel("image.resize")
    assert resize is modalax.get_kernel("image.resize")
    np.testing.assert_allclose(
        np.asarray(resize(x, height=10, width=12)), np.asarray(kernels.resize(x, 10, 12)), atol=1e-6
    )


@pytest.mark.parametrize(("h", "w", "oh", "ow"), [(7, 9, 16, 20), (16, 16, 32, 48), (5, 5, 15, 10), (1, 4, 3, 8)])
def test_bilinear_upscale_matches_pillow_float_resize(h, w, oh, ow):
    x = RNG.random((2, h, w, 3), dtype=np.float32)
    ref = pil_resize(x, oh, ow, Image.Resampling.BILINEAR)
    out = np.asarray(modalax.get_kernel("image.resize")(x, height=oh, width=ow))
    np.testing.assert_allclose(out, ref, atol=2e-6)


@pytest.mark.parametrize(("h", "w", "oh", "ow"), [(32, 32, 13, 11), (20, 30, 7, 9), (40, 12, 10, 5)])
def test_antialiased_bilinear_downscale_matches_pillow(h, w, oh, ow):
    # Pillow always widens the filter when downscaling; antialias=True (default) does the same.
    x = RNG.random((1, h, w, 2), dtype=np.float32)
    ref = pil_resize(x, oh, ow, Image.Resampling.BILINEAR)
    np.testing.assert_allclose(np.asarray(kernels.resize(x, oh, ow)), ref, atol=2e-6)
    plain = np.asarray(kernels.resize(x, oh, ow, antialias=False))
    assert np.abs(plain - ref).max() > 1e-2  # without antialiasing it is ordinary 2-tap bilinear


def test_bilinear_taps_are_pillows_weights_for_a_2x_upscale():
    idx, w = resample.bilinear_taps(4, 8, True)
    # output centres at 0.25, 0.75, ... in input pixels: edges clamp, interior is 3/4 + 1/4.
    dense = np.zeros((8, 4))
    np.add.at(dense, (np.repeat(np.arange(8), idx.shape[1]), idx.reshape(-1)), w.reshape(-1))
    expected = np.array(
        [
            [1, 0, 0, 0],
            [0.75, 0.25, 0, 0],
            [0.25, 0.75, 0, 0],
            [0, 0.75, 0.25, 0],
            [0, 0.25, 0.75, 0],
            [0, 0, 0.75, 0.25],
            [0, 0, 0.25, 0.75],
            [0, 0, 0, 1],
        ]
    )
    np.testing.assert_allclose(dense, expected, atol=1e-7)


@pytest.mark.parametrize(("h", "w", "oh", "ow"), [(8, 8, 16, 32), (16, 32, 8, 4), (5, 7, 10, 14)])
def test_nearest_matches_pillow_on_exact_ratios(h, w, oh, ow):
    x = RNG.random((1, h, w, 1), dtype=np.float32)
    ref = pil_resize(x, oh, ow, Image.Resampling.NEAREST)
    np.testing.assert_array_equal(np.asarray(kernels.resize(x, oh, ow, method="nearest")), ref)


def test_nearest_keeps_integer_dtype_and_uses_exact_centres():
    x = np.arange(10, dtype=np.int32).reshape(1, 1, 10, 1)
    out = kernels.resize(x, 1, 7, method="nearest")
    assert out.dtype == jnp.int32
    expected = [((2 * o + 1) * 10) // 14 for o in range(7)]
    np.testing.assert_array_equal(np.asarray(out)[0, 0, :, 0], expected)


def test_dense_path_for_large_downscale_matches_pillow():
    x = RNG.random((1, 200, 9, 1), dtype=np.float32)
    ref = pil_resize(x, 5, 9, Image.Resampling.BILINEAR)
    np.testing.assert_allclose(np.asarray(kernels.resize(x, 5, 9)), ref, atol=2e-6)


def test_normalize_maps_ranges():
    x = np.array([0, 51, 255], np.uint8).reshape(1, 1, 3, 1)
    np.testing.assert_allclose(np.asarray(kernels.normalize(x))[0, 0, :, 0], [0.0, 0.2, 1.0], atol=1e-7)
    y = np.asarray(kernels.normalize(x, (0.0, 255.0), (-1.0, 1.0)))[0, 0, :, 0]
    np.testing.assert_allclose(y, [-1.0, -0.6, 1.0], atol=1e-6)


def test_flip_only_flagged_images():
    x = RNG.random((3, 4, 5, 2), dtype=np.float32)
    out = np.asarray(kernels.flip(x, np.array([True, False, True])))
    np.testing.assert_array_equal(out[0], x[0, :, ::-1])
    np.testing.assert_array_equal(out[1], x[1])
    np.testing.assert_array_equal(out[2], x[2, :, ::-1])
    np.testing.assert_array_equal(np.asarray(kernels.flip(x, True, "vertical")), x[:, ::-1])


def test_crop_matches_slicing():
    x = RNG.random((2, 6, 7, 3), dtype=np.float32)
    out = np.asarray(kernels.crop(x, np.array([[1, 2], [0, 4]]), 4, 3))
    np.testing.assert_array_equal(out[0], x[0, 1:5, 2:5])
    np.testing.assert_array_equal(out[1], x[1, 0:4, 4:7])


def test_brightness_and_contrast_match_numpy():
    x = RNG.random((2, 4, 4, 3), dtype=np.float32)
    delta = np.array([0.1, -0.2], np.float32)
    np.testing.assert_allclose(np.asarray(kernels.brightness(x, delta)), x + delta[:, None, None, None], atol=1e-7)
    factor = np.array([0.5, 1.5], np.float32)
    mean = x.mean(axis=(1, 2), keepdims=True)
    expected = (x - mean) * factor[:, None, None, None] + mean
    np.testing.assert_allclose(np.asarray(kernels.contrast(x, factor)), expected, atol=1e-6)


@pytest.mark.parametrize("angle", [0.0, 10.0, -33.3, 90.0, 275.0])
def test_rotate_matches_pillow_away_from_the_border(angle):
    x = RNG.random((1, 24, 31, 1), dtype=np.float32)
    ref = np.asarray(Image.fromarray(x[0, :, :, 0], mode="F").rotate(angle, resample=Image.Resampling.BILINEAR))
    out = np.asarray(kernels.rotate(x, angle))[0, :, :, 0]
    ys, xs = (np.asarray(a)[0] for a in resample.rotation_coords(jnp.array([angle]), 24, 31))
    # Pillow decides "outside" in float64; compare where the sample point is clearly inside or outside.
    clear = (np.minimum(np.abs(xs), np.abs(xs - 31)) > 1e-3) & (np.minimum(np.abs(ys), np.abs(ys - 24)) > 1e-3)
    assert clear.mean() > 0.8
    np.testing.assert_allclose(out[clear], ref[clear], atol=1e-5)


def test_rotate_by_180_reverses_the_image_and_nearest_keeps_labels():
    x = np.arange(12, dtype=np.int32).reshape(1, 3, 4, 1)
    out = np.asarray(kernels.rotate(x, 180.0, method="nearest"))
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out[0, :, :, 0], x[0, ::-1, ::-1, 0])


def test_gaussian_noise_is_deterministic_per_key_and_has_the_std():
    x = np.zeros((2, 64, 64, 1), np.float32)
    keys = jax.random.split(jax.random.key(0), 2)
    a = np.asarray(kernels.gaussian_noise(x, keys, 0.5))
    b = np.asarray(kernels.gaussian_noise(x, keys, 0.5))
    np.testing.assert_array_equal(a, b)
    assert abs(a.std() - 0.5) < 0.02 and abs(a.mean()) < 0.02
    assert not np.allclose(a[0], a[1])


def test_to_grayscale_matches_pillow_convert_f():
    rgb = RNG.integers(0, 256, (2, 5, 6, 3), dtype=np.uint8)
    ref = np.stack([np.asarray(Image.fromarray(img, "RGB").convert("F")) for img in rgb])
    out = np.asarray(kernels.to_grayscale(rgb))  # uint8 is read as [0, 255]: luma on the [0, 1] scale
    assert out.shape == (2, 5, 6, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[..., 0], ref / 255.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(kernels.to_grayscale(rgb.astype(np.float32) / 255)), out, atol=1e-6)
    rgba = np.concatenate([rgb, np.zeros_like(rgb[..., :1])], axis=-1)
    np.testing.assert_allclose(
        np.asarray(kernels.to_grayscale(rgba, keep_channels=True)), np.repeat(out, 4, axis=-1), atol=1e-5
    )


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: kernels.resize(np.zeros((4, 4, 3)), 2, 2),
            DataError,
            r"image.resize: got images of shape \(4, 4, 3\) "
            r"\(rank 3\), expected a batch of shape \(N, H, W, C\)",
        ),
        (lambda: kernels.resize(np.zeros((1, 4, 4, 3)), 2, 2, method="cubic"), ConfigError, r"method: got 'cubic'"),
        (lambda: kernels.resize(np.zeros((1, 4, 4, 3)), 0, 2), ConfigError, r"height: got 0"),
        (lambda: kernels.flip(np.zeros((1, 4, 4, 3)), True, "up"), ConfigError, r"direction: got 'up'"),
        (lambda: kernels.crop(np.zeros((1, 4, 4, 3)), np.zeros((1, 2)), 5, 2), ConfigError, r"5x2 window"),
        (lambda: kernels.brightness(np.zeros((2, 4, 4, 3)), np.zeros(3)), DataError, r"delta: got shape \(3,\)"),
        (lambda: kernels.to_grayscale(np.zeros((1, 4, 4, 2))), DataError, r"got 2 channels"),
    ],
)
def test_kernel_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
