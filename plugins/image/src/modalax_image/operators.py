"""Image operators on the core ``ModalityOperator``: one element in, one element out.

Each ``transform`` calls the ``image.*`` kernel on a batch of one (``x[None]``); under the
loader's ``vmap`` that batch axis becomes the real batch, so the numerics are the kernels'.
Geometric operators move ``auxiliary_fields`` (masks of shape ``(H, W)`` or ``(H, W, K)``)
with the same random parameters, using nearest-neighbour sampling so labels stay labels.

The base class, the rank rule (batches ``(N, height, width, channels)``) and the keys-under-jit
rule live in ``modalax_image.operator_base``.

Dtypes follow the kernels' rule: operators that compute new values return float32 on the
[0, 1] scale (uint8 and uint16 input is read as its full range first), operators that only
move pixels keep the dtype.  A missing field is a ``MissingFieldError`` naming it and the
fields present; a mask whose height/width differ from the image's is a ``DataError``; an
empty batch gives an empty batch of the output structure.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from modalax.plugin import (
    DataError,
)
from modalax_image import kernels
from modalax_image.memory import check_fits, nbytes
from modalax_image.operator_base import (
    ImageOperator,
    batch_size,
    check_image_rank,
    draw_batch_key,
    field_hw,
    field_hwc,
    lookup,
)
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

__all__ = [
    "BrightnessOperator",
    "ContrastOperator",
    "CropOperator",
    "FlipOperator",
    "GaussianNoiseOperator",
    "GrayscaleOperator",
    "ImageOperator",
    "NormalizeOperator",
    "ResizeOperator",
    "RotateOperator",
    # the base and its helpers, re-exported (they lived here)
    "batch_size",
    "check_image_rank",
    "draw_batch_key",
    "field_hwc",
    "lookup",
]


def _width(config: ResizeConfig | CropConfig) -> int:
    """The configured width (the configs fill ``width=None`` with the height)."""
    return int(config.width if config.width is not None else config.height)


def _bounds(bounds: tuple[float, float] | None, half_width: float | None) -> tuple[float, float]:
    """``bounds`` when given, else ``(-half_width, half_width)`` (the configs set one of the two)."""
    if bounds is not None:
        return bounds
    h = float(half_width or 0.0)
    return (-h, h)


class ResizeOperator(ImageOperator):
    """Resize to the configured size and ``mode`` (``image.resize``); masks follow with ``nearest``.

    A batch whose output cannot fit in the free memory is a ``ConfigError`` before anything is
    allocated (``modalax_image.memory``).
    """

    config: ResizeConfig

    def batched(self, batch: Any, keys: jax.Array | None, stats: dict[str, Any] | None) -> Any:
        check_image_rank(self.name, batch, self.config.field_key)
        c = self.config
        n, h, w, ch = jnp.shape(lookup(batch, c.field_key, self.name))
        item = 4 if c.method == "bilinear" else jnp.dtype(lookup(batch, c.field_key, self.name).dtype).itemsize
        need = nbytes((n, c.height, _width(c), ch), item) + nbytes((n, c.height, w, ch), item)
        check_fits(self.name, f"resizing {n} image(s) of {h}x{w}x{ch} to {c.height}x{_width(c)}", need)
        return super().batched(batch, keys, stats)

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        c = self.config
        image = self._element(x, c.field_key)
        return kernels.resize(image, c.height, _width(c), c.method, c.antialias, c.mode, c.fill)[0]

    def transform_auxiliary(
        self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None, key: str
    ) -> jax.Array:
        c = self.config
        return self._map_mask(x, key, lambda m: kernels.resize(m, c.height, _width(c), "nearest", mode=c.mode))


class NormalizeOperator(ImageOperator):
    """Map ``input_range`` onto ``output_range``, or standardise per channel (``mean``/``std``)
    (``image.normalize``)."""

    config: NormalizeConfig

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        c = self.config
        return kernels.normalize(self._element(x, c.field_key), c.input_range, c.output_range, c.mean, c.std)[0]


class GrayscaleOperator(ImageOperator):
    """ITU-R 601-2 luma (``image.to_grayscale``)."""

    config: GrayscaleConfig

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        return kernels.to_grayscale(self._element(x, self.config.field_key), self.config.keep_channels)[0]


class FlipOperator(ImageOperator):
    """Mirror with probability ``p`` (``image.flip``); masks are mirrored with their image."""

    config: FlipConfig

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> Any:
        n = batch_size(data_shapes, self.config.field_key, self.name)
        return jax.random.bernoulli(rng, self.config.probability, (n,))

    def _flip(self, batch: jax.Array, random_params: Any) -> jax.Array:
        flags = True if random_params is None else random_params[None]
        return kernels.flip(batch, flags, self.config.direction)

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        return self._flip(self._element(x, self.config.field_key), random_params)[0]

    def transform_auxiliary(
        self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None, key: str
    ) -> jax.Array:
        return self._map_mask(x, key, lambda m: self._flip(m, random_params))


class CropOperator(ImageOperator):
    """Random crop (centre crop when not stochastic) with ``image.crop``; masks are cropped alike."""

    config: CropConfig

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> Any:
        n = batch_size(data_shapes, self.config.field_key, self.name)
        h, w = field_hw(data_shapes, self.config.field_key, self.name)
        self._check_fits(h, w)
        k_top, k_left = jax.random.split(rng)
        top = jax.random.randint(k_top, (n,), 0, h - self.config.height + 1)
        left = jax.random.randint(k_left, (n,), 0, w - _width(self.config) + 1)
        return jnp.stack([top, left], axis=-1)

    def _check_fits(self, h: int, w: int) -> None:
        c = self.config
        if c.height > h or _width(c) > w:
            raise DataError(
                f"{self.name}: a {c.height}x{c.width} crop does not fit {h}x{w} images "
                f"(field {c.field_key!r}); expected images at least as large as the crop"
            )

    def _offsets(self, h: int, w: int, random_params: Any) -> jax.Array:
        self._check_fits(h, w)
        if random_params is None:
            return jnp.asarray([[(h - self.config.height) // 2, (w - _width(self.config)) // 2]], jnp.int32)
        return jnp.asarray(random_params, jnp.int32)[None]

    def _crop(self, batch: jax.Array, random_params: Any) -> jax.Array:
        c = self.config
        offsets = self._offsets(batch.shape[1], batch.shape[2], random_params)
        return kernels.crop(batch, offsets, c.height, _width(c))

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        return self._crop(self._element(x, self.config.field_key), random_params)[0]

    def transform_auxiliary(
        self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None, key: str
    ) -> jax.Array:
        return self._map_mask(x, key, lambda m: self._crop(m, random_params))


class BrightnessOperator(ImageOperator):
    """Add a per-image offset ``U(-max_delta, max_delta)`` or ``U(*delta_range)`` (``image.brightness``)."""

    config: BrightnessConfig

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> Any:
        n = batch_size(data_shapes, self.config.field_key, self.name)
        c = self.config
        lo, hi = _bounds(c.delta_range, c.max_delta)
        return jax.random.uniform(rng, (n,), jnp.float32, lo, hi)

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        delta = self.config.max_delta if random_params is None else random_params[None]
        return kernels.brightness(self._element(x, self.config.field_key), delta)[0]


class ContrastOperator(ImageOperator):
    """Per-image contrast factor ``U(lower, upper)`` (``image.contrast``)."""

    config: ContrastConfig

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> Any:
        n = batch_size(data_shapes, self.config.field_key, self.name)
        return jax.random.uniform(rng, (n,), jnp.float32, self.config.lower, self.config.upper)

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        factor = self.config.upper if random_params is None else random_params[None]
        return kernels.contrast(self._element(x, self.config.field_key), factor)[0]


class RotateOperator(ImageOperator):
    """Rotate by a fixed ``angle``, or by ``U(-max_angle, max_angle)`` or ``U(*angle_range)`` degrees
    (``image.rotate``); masks follow."""

    config: RotateConfig

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> Any:
        n = batch_size(data_shapes, self.config.field_key, self.name)
        c = self.config
        lo, hi = _bounds(c.angle_range, c.max_angle)
        return jax.random.uniform(rng, (n,), jnp.float32, lo, hi)

    def _angle(self, random_params: Any) -> Any:
        if random_params is not None:
            return random_params[None]
        c = self.config
        return c.angle if c.angle is not None else c.max_angle

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        c = self.config
        return kernels.rotate(self._element(x, c.field_key), self._angle(random_params), c.method, c.fill)[0]

    def transform_auxiliary(
        self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None, key: str
    ) -> jax.Array:
        angle = self._angle(random_params)
        return self._map_mask(x, key, lambda m: kernels.rotate(m, angle, "nearest", 0.0))


class GaussianNoiseOperator(ImageOperator):
    """Add ``mean + std * N(0, 1)`` noise from each record's key (``image.gaussian_noise``)."""

    config: GaussianNoiseConfig

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> Any:
        return jax.random.split(rng, batch_size(data_shapes, self.config.field_key, self.name))

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        c = self.config
        return kernels.gaussian_noise(self._element(x, c.field_key), random_params[None], c.std, c.mean)[0]
