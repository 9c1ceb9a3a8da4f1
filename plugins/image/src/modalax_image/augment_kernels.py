"""Augmentation kernels: cutout, pixel dropout, salt-and-pepper, Poisson noise, colour jitter.

Pure, jittable, batched over a leading axis ``(N, H, W, C)`` like ``modalax_image.kernels``
and under the same dtype rule: cutout, pixel dropout and salt-and-pepper only *replace*
pixels, so they keep the dtype (a ``fill`` is given on the [0, 1] scale and converted:
``0.5`` is 128 in uint8); Poisson noise and colour jitter compute new values and return
float32 on the [0, 1] scale.  The randomness is an explicit argument (boxes, drop masks,
codes, keys, factors), so every kernel is a deterministic function of its inputs.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from modalax.plugin import ConfigError, DataError, pairwise_mean
from modalax_image.config_checks import MAX_PEAK
from modalax_image.kernels import LUMA, _per_image, check_images, fill_value, to_unit

__all__ = [
    "MAX_PEAK",
    "MAX_RATE",
    "SALT",
    "PEPPER",
    "box_mask",
    "check_peak",
    "color_jitter",
    "cutout",
    "fill_value",
    "hsv_to_rgb",
    "pixel_dropout",
    "poisson_noise",
    "rgb_to_hsv",
    "salt_and_pepper",
]

SALT, PEPPER = 1, 2  # codes of salt_and_pepper (0 keeps the pixel)


def _selection(kernel: str, name: str, sel: Any, x: jax.Array) -> jax.Array:
    """A per-pixel ``(N, H, W)`` or per-value ``(N, H, W, C)`` selection, broadcast to ``x``."""
    s = jnp.asarray(sel)
    if s.shape == x.shape[:3]:
        s = s[..., None]
    if s.shape != x.shape[:3] + (1,) and s.shape != x.shape:
        raise DataError(
            f"image.{kernel}.{name}: got shape {tuple(s.shape)}, expected {tuple(x.shape[:3])} (per pixel) "
            f"or {tuple(x.shape)} (per value)"
        )
    return s


def box_mask(height: int, width: int, boxes: Any) -> jax.Array:
    """``(N, H, W)`` bool: True inside any of each image's boxes (``(N, P, 4)``: top, left, height, width)."""
    b = jnp.asarray(boxes, jnp.int32)
    if b.ndim != 3 or b.shape[-1] != 4:
        raise DataError(
            f"image.cutout.boxes: got shape {tuple(b.shape)}, expected (N, P, 4) (top, left, height, width)"
        )
    top, left, h, w = (b[..., i, None] for i in range(4))
    rows = jnp.arange(height, dtype=jnp.int32)
    cols = jnp.arange(width, dtype=jnp.int32)
    in_rows = ((rows >= top) & (rows < top + h)).astype(jnp.float32)  # (N, P, H)
    in_cols = ((cols >= left) & (cols < left + w)).astype(jnp.float32)  # (N, P, W)
    # A (H, P) @ (P, W) product counts the boxes covering each pixel without an (N, P, H, W) array.
    return jnp.einsum("nph,npw->nhw", in_rows, in_cols) > 0


def cutout(images: Any, boxes: Any, fill: float = 0.0) -> jax.Array:
    """Set every pixel inside the ``boxes`` (``(N, P, 4)``: top, left, height, width) to ``fill``.

    Boxes are clipped at the image border; ``P = 0`` leaves the images unchanged.  Keeps the dtype.
    """
    x = check_images("cutout", images)
    mask = box_mask(x.shape[1], x.shape[2], boxes)
    if mask.shape[0] != x.shape[0]:
        raise DataError(f"image.cutout.boxes: got {mask.shape[0]} rows of boxes, expected one per image ({x.shape[0]})")
    return jnp.where(mask[..., None], fill_value("cutout", x.dtype, fill), x)


def pixel_dropout(images: Any, drop: Any, fill: float = 0.0) -> jax.Array:
    """Set the pixels where ``drop`` is True to ``fill``; keeps the dtype.

    ``drop`` is ``(N, H, W)`` (whole pixels, every channel) or ``(N, H, W, C)`` (single values).
    """
    x = check_images("pixel_dropout", images)
    sel = _selection("pixel_dropout", "drop", drop, x).astype(jnp.bool_)
    return jnp.where(sel, fill_value("pixel_dropout", x.dtype, fill), x)


def salt_and_pepper(images: Any, codes: Any) -> jax.Array:
    """Set pixels coded ``SALT`` (1) to the top of the range and ``PEPPER`` (2) to 0; keeps the dtype.

    ``codes`` is ``(N, H, W)`` (whole pixels) or ``(N, H, W, C)`` (single values); 0 keeps the pixel.
    The top of the range is 255 for uint8, 65535 for uint16, 1.0 for floats and True for bool.
    """
    x = check_images("salt_and_pepper", images)
    sel = _selection("salt_and_pepper", "codes", codes, x)
    salt = fill_value("salt_and_pepper", x.dtype, 1.0)
    pepper = fill_value("salt_and_pepper", x.dtype, 0.0)
    return jnp.where(sel == SALT, salt, jnp.where(sel == PEPPER, pepper, x))


#: Rates above this (values above ``MAX_RATE / peak``, +inf) and NaN are passed through unchanged.
MAX_RATE = 2.0**30


def check_peak(owner: str, peak: Any) -> None:
    """``ConfigError`` unless a concrete ``peak`` (scalar or per image) lies in (0, ``MAX_PEAK``]."""
    if isinstance(peak, jax.core.Tracer):
        return  # traced: checked by the operator's config, or the caller's
    values = np.asarray(peak, np.float64)
    if values.size and not (np.all(np.isfinite(values)) and np.all(values > 0) and np.all(values <= MAX_PEAK)):
        raise ConfigError(
            f"{owner}.peak: got {peak!r}, expected photons at value 1 in (0, {MAX_PEAK:g}]; larger rates "
            "cannot be drawn as int32 counts (they would overflow and come back wrong)"
        )


def poisson_noise(images: Any, keys: jax.Array, peak: float) -> jax.Array:
    """Shot noise: ``Poisson(x * peak) / peak`` per value, drawn per image from its key.

    ``peak`` (in (0, ``MAX_PEAK``]) is the photon count of a pixel of value 1: the result has
    mean ``x`` and variance ``x / peak`` (negative values count as 0).  float32 on the [0, 1]
    scale; not clipped.  NaN, +inf and values whose rate exceeds ``MAX_RATE`` (``2**30``) are
    returned unchanged: no count could be drawn for them.
    """
    x = to_unit("poisson_noise", check_images("poisson_noise", images))
    if keys.shape != (x.shape[0],):
        raise DataError(f"image.poisson_noise.keys: got shape {tuple(keys.shape)}, expected ({x.shape[0]},)")
    check_peak("image.poisson_noise", peak)
    p = _per_image("poisson_noise", "peak", peak, x.shape[0])
    lam = jnp.maximum(x, 0.0) * p
    drawable = lam <= MAX_RATE  # False for NaN and +inf
    counts = jax.vmap(lambda k, rate: jax.random.poisson(k, rate, rate.shape))(keys, jnp.where(drawable, lam, 0.0))
    return jnp.where(drawable, counts.astype(jnp.float32) / p, x)


def rgb_to_hsv(rgb: jax.Array) -> jax.Array:
    """RGB in [0, 1] (last axis 3) to HSV in [0, 1], hue as a fraction of the circle (as ``colorsys``)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = jnp.max(rgb, axis=-1)
    c = v - jnp.min(rgb, axis=-1)
    safe_c = jnp.where(c > 0, c, 1.0)
    s = jnp.where(v > 0, c / jnp.where(v > 0, v, 1.0), 0.0)
    red = (g - b) / safe_c  # in [-1, 1]: one step back into [0, 6) instead of jnp.mod (fmod: a libm call per value)
    h = jnp.where(
        v == r, jnp.where(red < 0, red + 6.0, red), jnp.where(v == g, (b - r) / safe_c + 2.0, (r - g) / safe_c + 4.0)
    )
    h = jnp.where(c > 0, h / 6.0, 0.0)
    return jnp.stack([h, s, v], axis=-1)


def _wrap(a: jax.Array, period: float) -> jax.Array:
    """``a`` modulo ``period > 0`` into [0, period) (a rounding up to ``period`` itself reads as 0)."""
    r = a - period * jnp.floor(a / period)
    return jnp.where(r >= period, r - period, r)


def hsv_to_rgb(hsv: jax.Array) -> jax.Array:
    """HSV in [0, 1] (hue taken modulo 1) back to RGB in [0, 1] (as ``colorsys.hsv_to_rgb``)."""
    h, s, v = hsv[..., 0:1], hsv[..., 1:2], hsv[..., 2:3]
    # Branch-free form of the six-sector formula: channel n peaks at hue sector n. The wraps use
    # floor, not jnp.mod: XLA:CPU lowers a float mod to a libm fmod call per value (2x slower).
    k = _wrap(jnp.asarray([5.0, 3.0, 1.0], hsv.dtype) + _wrap(h, 1.0) * 6.0, 6.0)
    return v - v * s * jnp.clip(jnp.minimum(k, 4.0 - k), 0.0, 1.0)


def _is_const(value: Any, const: float) -> bool:
    return isinstance(value, int | float) and value == const


def color_jitter(
    images: Any, brightness: Any = 1.0, contrast: Any = 1.0, saturation: Any = 1.0, hue: Any = 0.0
) -> jax.Array:
    """Adjust brightness, contrast, saturation and hue in this order (each a scalar or one per image).

    Brightness multiplies the values; contrast scales the deviation from the image's mean luma
    (ITU-R 601-2, torchvision's convention); saturation multiplies HSV saturation and hue shifts
    HSV hue by that fraction of the circle (``tf.image`` conventions), each step clipped to
    [0, 1].  One-channel images take brightness and contrast only; RGBA keeps its alpha.
    Returns float32 on the [0, 1] scale.
    """
    x = to_unit("color_jitter", check_images("color_jitter", images))
    n, c = x.shape[0], x.shape[-1]
    if c not in (1, 3, 4):
        raise DataError(f"image.color_jitter: got {c} channels, expected 1 (gray), 3 (RGB) or 4 (RGBA)")
    rgb, alpha = (x[..., :3], x[..., 3:]) if c == 4 else (x, x[..., :0])
    rgb = jnp.clip(rgb * _per_image("color_jitter", "brightness", brightness, n), 0.0, 1.0)
    luma = rgb if c == 1 else rgb[..., 0:1] * LUMA[0] + rgb[..., 1:2] * LUMA[1] + rgb[..., 2:3] * LUMA[2]
    mean = pairwise_mean(luma, (1, 2, 3), keepdims=True)  # batch-invariant bits
    rgb = jnp.clip((rgb - mean) * _per_image("color_jitter", "contrast", contrast, n) + mean, 0.0, 1.0)
    if c != 1 and not (_is_const(saturation, 1.0) and _is_const(hue, 0.0)):
        hsv = rgb_to_hsv(rgb)
        shift = _per_image("color_jitter", "hue", hue, n)[..., 0]
        scale = _per_image("color_jitter", "saturation", saturation, n)[..., 0]
        h = hsv[..., 0] + shift  # hsv_to_rgb takes the hue modulo 1
        s = jnp.clip(hsv[..., 1] * scale, 0.0, 1.0)
        rgb = jnp.clip(hsv_to_rgb(jnp.stack([h, s, hsv[..., 2]], axis=-1)), 0.0, 1.0)
    return jnp.concatenate([rgb, alpha], axis=-1)
