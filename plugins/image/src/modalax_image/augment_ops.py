"""Augmentation operators: cutout, pixel dropout, salt-and-pepper, Poisson noise, colour jitter.

Each draws its parameters in ``generate_random_params`` from the per-record key the loader
gives (boxes, drop masks, noise codes, keys or factors), and ``transform`` is a deterministic
function of those parameters calling the ``modalax_image.augment_kernels`` kernel on a batch
of one, so under the loader's ``vmap`` everything is one jitted, vectorised computation.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from modalax.plugin import DataError
from modalax_image import augment_kernels as ak
from modalax_image.augment_configs import (
    ColorJitterConfig,
    CutoutConfig,
    PixelDropoutConfig,
    PoissonNoiseConfig,
    SaltAndPepperConfig,
)
from modalax_image.operator_base import ImageOperator, batch_size, field_hwc

__all__ = [
    "ColorJitterOperator",
    "CutoutOperator",
    "PixelDropoutOperator",
    "PoissonNoiseOperator",
    "SaltAndPepperOperator",
]


class CutoutOperator(ImageOperator):
    """Fill random rectangles with ``fill`` (``image.cutout``); masks get ``mask_fill`` there.

    Random parameters: ``(num_patches, 4)`` int32 boxes per record (top, left, height, width).
    """

    config: CutoutConfig

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> Any:
        c = self.config
        n = batch_size(data_shapes, c.field_key, self.name)
        h, w, _ = field_hwc(data_shapes, c.field_key, self.name)
        mh, mw = c.max_size
        if mh > h or mw > w:
            raise DataError(
                f"{self.name}: patches of up to {mh}x{mw} do not fit {h}x{w} images (field {c.field_key!r}); "
                "expected patches no larger than the images"
            )
        shape = (n, c.num_patches)
        k_h, k_w, k_top, k_left = jax.random.split(rng, 4)
        if c.size_range is not None:
            lo, hi = c.size_range
            heights = jax.random.randint(k_h, shape, lo, hi + 1)
            widths = jax.random.randint(k_w, shape, lo, hi + 1)
        else:
            heights = jnp.full(shape, c.patch_size[0], jnp.int32)  # type: ignore[index]
            widths = jnp.full(shape, c.patch_size[1], jnp.int32)  # type: ignore[index]
        # Top-left corners uniform over the positions where the whole patch fits.
        top = jnp.floor(jax.random.uniform(k_top, shape) * (h - heights + 1)).astype(jnp.int32)
        left = jnp.floor(jax.random.uniform(k_left, shape) * (w - widths + 1)).astype(jnp.int32)
        top, left = jnp.minimum(top, h - heights), jnp.minimum(left, w - widths)
        return jnp.stack([top, left, heights, widths], axis=-1).astype(jnp.int32)

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        return ak.cutout(self._element(x, self.config.field_key), random_params[None], self.config.fill)[0]

    def transform_auxiliary(
        self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None, key: str
    ) -> jax.Array:
        fill = self.config.mask_fill
        if fill is None:
            return x

        def cut(m: jax.Array) -> jax.Array:
            inside = ak.box_mask(m.shape[1], m.shape[2], random_params[None])[..., None]
            return jnp.where(inside, jnp.asarray(fill).astype(m.dtype), m)

        return self._map_mask(x, key, cut)


class PixelDropoutOperator(ImageOperator):
    """Set pixels to ``fill`` with ``probability`` (``image.pixel_dropout``); masks are unchanged.

    Random parameters: a bool drop mask per record, ``(H, W)`` or, ``per_channel``, ``(H, W, C)``.
    """

    config: PixelDropoutConfig

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> Any:
        c = self.config
        n = batch_size(data_shapes, c.field_key, self.name)
        h, w, ch = field_hwc(data_shapes, c.field_key, self.name)
        return jax.random.bernoulli(rng, c.probability, (n, h, w, ch) if c.per_channel else (n, h, w))

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        c = self.config
        return ak.pixel_dropout(self._element(x, c.field_key), random_params[None], c.fill)[0]


class SaltAndPepperOperator(ImageOperator):
    """Salt (top of the range) and pepper (0) on a fraction ``amount`` of the pixels; keeps the dtype.

    Random parameters: uint8 codes per record (0 keep, 1 salt, 2 pepper), ``(H, W)`` or ``(H, W, C)``.
    """

    config: SaltAndPepperConfig

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> Any:
        c = self.config
        n = batch_size(data_shapes, c.field_key, self.name)
        h, w, ch = field_hwc(data_shapes, c.field_key, self.name)
        u = jax.random.uniform(rng, (n, h, w, ch) if c.per_channel else (n, h, w))
        salt = c.amount * c.salt_vs_pepper
        return jnp.where(u < salt, ak.SALT, jnp.where(u < c.amount, ak.PEPPER, 0)).astype(jnp.uint8)

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        return ak.salt_and_pepper(self._element(x, self.config.field_key), random_params[None])[0]


class PoissonNoiseOperator(ImageOperator):
    """Shot noise ``Poisson(x * peak) / peak`` from each record's key (``image.poisson_noise``)."""

    config: PoissonNoiseConfig

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> Any:
        return jax.random.split(rng, batch_size(data_shapes, self.config.field_key, self.name))

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        c = self.config
        return ak.poisson_noise(self._element(x, c.field_key), random_params[None], c.peak)[0]


class ColorJitterOperator(ImageOperator):
    """torchvision-style colour jitter (``image.color_jitter``): float32 in [0, 1].

    Random parameters: a dict with one factor per record for each component turned on
    (``brightness``, ``contrast``, ``saturation``: multipliers; ``hue``: a shift in turns).
    """

    config: ColorJitterConfig

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> Any:
        n = batch_size(data_shapes, self.config.field_key, self.name)
        ranges = self.config.ranges()
        keys = dict(zip(ranges, jax.random.split(rng, len(ranges)), strict=True))
        return {
            name: jax.random.uniform(keys[name], (n,), jnp.float32, lo, hi)
            for name, bounds in ranges.items()
            if bounds is not None
            for lo, hi in [bounds]
        }

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        factors = {name: value[None] for name, value in (random_params or {}).items()}
        return ak.color_jitter(self._element(x, self.config.field_key), **factors)[0]
