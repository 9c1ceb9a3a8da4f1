"""Image operators on the core ``ModalityOperator``: one element in, one element out.

Each ``transform`` calls the ``image.*`` kernel on a batch of one (``x[None]``); under the
loader's ``vmap`` that batch axis becomes the real batch, so the numerics are the kernels'.
Geometric operators move ``auxiliary_fields`` (masks of shape ``(H, W)`` or ``(H, W, K)``)
with the same random parameters, using nearest-neighbour sampling so labels stay labels.

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
import numpy as np

from modalax.plugin import DataError, MissingFieldError, ModalityOperator, get_path, set_path, split_host_fields
from modalax_image import kernels
from modalax_image.operator_configs import (
    BrightnessConfig,
    ContrastConfig,
    CropConfig,
    FlipConfig,
    GaussianNoiseConfig,
    GrayscaleConfig,
    ImageOperatorConfig,
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
]


def lookup(data: Any, key: str, owner: str) -> Any:
    """``data[key]`` for a dotted ``key``; ``MissingFieldError`` naming it and the fields present."""
    node = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            have = sorted(node) if isinstance(node, dict) else type(node).__name__
            where = f" (no {part!r})" if part != key else ""
            raise MissingFieldError(f"{owner}: the data has no field {key!r}{where}; fields present: {have}")
        node = node[part]
    return node


def _batch_size(data_shapes: Any, key: str, owner: str) -> int:
    return int(lookup(data_shapes, key, owner)[0])


def _field_hw(data_shapes: Any, key: str, owner: str) -> tuple[int, int]:
    shape = lookup(data_shapes, key, owner)
    if len(shape) not in (3, 4):
        raise DataError(
            f"{owner}: field {key!r} has per-element shape {tuple(shape[1:])}, expected (H, W, C) or (H, W) "
            "(the loader adds the batch axis)"
        )
    return int(shape[1]), int(shape[2])


def _width(config: ResizeConfig | CropConfig) -> int:
    """The configured width (the configs fill ``width=None`` with the height)."""
    return int(config.width if config.width is not None else config.height)


def _bounds(bounds: tuple[float, float] | None, half_width: float | None) -> tuple[float, float]:
    """``bounds`` when given, else ``(-half_width, half_width)`` (the configs set one of the two)."""
    if bounds is not None:
        return bounds
    h = float(half_width or 0.0)
    return (-h, h)


def field_hwc(data_shapes: Any, key: str, owner: str) -> tuple[int, int, int]:
    """Height, width and channels of a batched image field; ``(N, H, W)`` has one channel."""
    h, w = _field_hw(data_shapes, key, owner)
    shape = lookup(data_shapes, key, owner)
    return h, w, int(shape[3]) if len(shape) == 4 else 1


def batch_size(data_shapes: Any, key: str, owner: str) -> int:
    """The leading (batch) size of a field in ``data_shapes``."""
    return _batch_size(data_shapes, key, owner)


class ImageOperator(ModalityOperator):
    """Base of the image operators: shape checks and the batch-of-one kernel calls."""

    config: ImageOperatorConfig

    def _extract_field(self, data: Any, key: str) -> Any:
        return lookup(data, key, self.name)

    def apply(
        self,
        data: Any,
        state: Any,
        metadata: dict[str, Any] | None,
        random_params: Any = None,
        stats: dict[str, Any] | None = None,
    ) -> tuple[Any, Any, dict[str, Any] | None]:
        """Check the auxiliary fields against the image (present, same height and width), then apply.

        A 2-D ``(H, W)`` field is one grayscale channel: it is transformed as ``(H, W, 1)`` and
        returned as ``(H, W)`` (when the result still has one channel).
        """
        c = self.config
        image = lookup(data, c.field_key, self.name)
        image_shape = tuple(jnp.shape(image))
        for aux in c.auxiliary_fields or ():
            mask_shape = tuple(jnp.shape(lookup(data, aux, self.name)))
            if len(image_shape) in (2, 3) and mask_shape[:2] != image_shape[:2]:
                raise DataError(
                    f"{self.name}: auxiliary field {aux!r} has per-element shape {mask_shape}, but field "
                    f"{c.field_key!r} has {image_shape}; expected the same height and width {image_shape[:2]}"
                )
        if len(image_shape) != 2:
            return super().apply(data, state, metadata, random_params, stats)
        out, state, metadata = super().apply(
            set_path(data, c.field_key, image[..., None]), state, metadata, random_params, stats
        )
        target = c.target_key or c.field_key
        result = get_path(out, target)
        if jnp.ndim(result) == 3 and jnp.shape(result)[-1] == 1:
            out = set_path(out, target, result[..., 0])
        if c.target_key is not None and c.target_key != c.field_key:
            out = set_path(out, c.field_key, image)  # the source field stays as it was given
        return out, state, metadata

    def apply_batch(
        self,
        batch: dict[str, Any],
        stats: dict[str, Any] | None = None,
        *,
        rng: jax.Array | None = None,
        keys: jax.Array | None = None,
    ) -> dict[str, Any]:
        """``ModalityOperator.apply_batch``; an empty batch gives an empty batch of the output structure."""
        if isinstance(batch, dict):
            arrays, host_fields = split_host_fields(batch)
            leaves = jax.tree.leaves(arrays)
            if leaves and np.shape(leaves[0])[:1] == (0,):
                spec = jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a)[1:], a.dtype), arrays)
                out = self.output_spec(spec)
                empty = jax.tree.map(lambda s: jnp.zeros((0, *s.shape), s.dtype), out)
                return {**empty, **host_fields}
        return super().apply_batch(batch, stats, rng=rng, keys=keys)

    def _element(self, x: jax.Array, key: str) -> jax.Array:
        if jnp.ndim(x) != 3:
            raise DataError(
                f"{self.name}: field {key!r} has per-element shape {tuple(jnp.shape(x))}, "
                "expected (H, W, C) or (H, W) (the loader adds the batch axis)"
            )
        return x[None]

    def _mask(self, m: jax.Array, key: str) -> tuple[jax.Array, bool]:
        if jnp.ndim(m) == 2:
            return m[None, :, :, None], True
        if jnp.ndim(m) == 3:
            return m[None], False
        raise DataError(
            f"{self.name}: auxiliary field {key!r} has shape {tuple(jnp.shape(m))}, expected (H, W) or (H, W, K)"
        )

    def _map_mask(self, m: jax.Array, key: str, fn: Any) -> jax.Array:
        batch, squeeze = self._mask(m, key)
        out = fn(batch)[0]
        return out[..., 0] if squeeze else out


class ResizeOperator(ImageOperator):
    """Resize to the configured size (``image.resize``); masks follow with ``nearest``."""

    config: ResizeConfig

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        c = self.config
        return kernels.resize(self._element(x, c.field_key), c.height, _width(c), c.method, c.antialias)[0]

    def transform_auxiliary(
        self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None, key: str
    ) -> jax.Array:
        c = self.config
        return self._map_mask(x, key, lambda m: kernels.resize(m, c.height, _width(c), "nearest"))


class NormalizeOperator(ImageOperator):
    """Map ``input_range`` onto ``output_range`` (``image.normalize``)."""

    config: NormalizeConfig

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        c = self.config
        return kernels.normalize(self._element(x, c.field_key), c.input_range, c.output_range)[0]


class GrayscaleOperator(ImageOperator):
    """ITU-R 601-2 luma (``image.to_grayscale``)."""

    config: GrayscaleConfig

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        return kernels.to_grayscale(self._element(x, self.config.field_key), self.config.keep_channels)[0]


class FlipOperator(ImageOperator):
    """Mirror with probability ``p`` (``image.flip``); masks are mirrored with their image."""

    config: FlipConfig

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> Any:
        n = _batch_size(data_shapes, self.config.field_key, self.name)
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
        n = _batch_size(data_shapes, self.config.field_key, self.name)
        h, w = _field_hw(data_shapes, self.config.field_key, self.name)
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
        n = _batch_size(data_shapes, self.config.field_key, self.name)
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
        n = _batch_size(data_shapes, self.config.field_key, self.name)
        return jax.random.uniform(rng, (n,), jnp.float32, self.config.lower, self.config.upper)

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        factor = self.config.upper if random_params is None else random_params[None]
        return kernels.contrast(self._element(x, self.config.field_key), factor)[0]


class RotateOperator(ImageOperator):
    """Rotate by ``U(-max_angle, max_angle)`` or ``U(*angle_range)`` degrees (``image.rotate``); masks follow."""

    config: RotateConfig

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> Any:
        n = _batch_size(data_shapes, self.config.field_key, self.name)
        c = self.config
        lo, hi = _bounds(c.angle_range, c.max_angle)
        return jax.random.uniform(rng, (n,), jnp.float32, lo, hi)

    def _angle(self, random_params: Any) -> Any:
        return self.config.max_angle if random_params is None else random_params[None]

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
        return jax.random.split(rng, _batch_size(data_shapes, self.config.field_key, self.name))

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        c = self.config
        return kernels.gaussian_noise(self._element(x, c.field_key), random_params[None], c.std, c.mean)[0]
