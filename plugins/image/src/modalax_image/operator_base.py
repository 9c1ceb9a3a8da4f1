"""``ImageOperator``: the base of the image operators, and the shape helpers they share.

The image field of a batch has rank 4, ``(N, height, width, channels)`` (``element_ndim =
3``): one unbatched image is a ``DataError`` saying to add the batch axis (before, its rows
were read as images: a "horizontal flip" swapped RGB to BGR), and a batch of ``(N, H, W)``
grayscale images one saying to add the channel axis. ``transform`` implementations call the
``image.*`` kernels on a batch of one (``x[None]``), which the loader's ``vmap`` turns into
the real batch.

Stochastic operators draw from their ``nnx.Rngs`` stream only outside a trace: under
``jax.jit`` pass ``keys=`` (one per record) or ``rng=`` as arguments of the jitted function;
without them the operator raises a ``ConfigError`` saying so (flax's ``TraceContextError``
before).
"""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax.errors import TraceContextError

from modalax.plugin import (
    ConfigError,
    DataError,
    MissingFieldError,
    ModalityOperator,
    OperatorModule,
    split_host_fields,
)
from modalax_image.operator_configs import ImageOperatorConfig

__all__ = [
    "ImageOperator",
    "batch_size",
    "check_image_rank",
    "draw_batch_key",
    "field_hw",
    "field_hwc",
    "lookup",
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


def field_hw(data_shapes: Any, key: str, owner: str) -> tuple[int, int]:
    """Height and width of a batched image field ``(N, H, W, C)`` in ``data_shapes``."""
    shape = lookup(data_shapes, key, owner)
    if len(shape) != 4:
        raise DataError(
            f"{owner}: field {key!r} has per-element shape {tuple(shape[1:])}, expected (H, W, C) "
            "(the loader adds the batch axis)"
        )
    return int(shape[1]), int(shape[2])


def field_hwc(data_shapes: Any, key: str, owner: str) -> tuple[int, int, int]:
    """Height, width and channels of a batched image field ``(N, H, W, C)``."""
    h, w = field_hw(data_shapes, key, owner)
    return h, w, int(lookup(data_shapes, key, owner)[3])


def check_image_rank(owner: str, batch: Any, key: str) -> None:
    """``DataError`` unless ``batch[key]`` has rank 4 ``(N, H, W, C)``, saying which axis to add."""
    shape = tuple(jnp.shape(lookup(batch, key, owner)))
    if len(shape) == 4:
        return
    hint = ""
    if len(shape) == 3:
        hint = (
            "; for one image add the batch axis (x[None]), for a batch of (N, H, W) grayscale images "
            "the channel axis (x[..., None])"
        )
    raise DataError(
        f"{owner}: field {key!r} has shape {shape}, expected a batch of images (N, height, width, channels), "
        f"rank 4{hint}"
    )


def draw_batch_key(op: OperatorModule) -> jax.Array:
    """``op.draw_rng()``, or a ``ConfigError`` saying how to pass keys when called inside a trace."""
    try:
        return op.draw_rng()
    except TraceContextError as exc:
        raise ConfigError(
            f"{op.name}.apply_batch: called inside jax.jit (or another jax transform) without keys= or rng=; "
            f"a stochastic operator cannot advance its nnx.Rngs stream {op.stream_name!r} inside a trace. "
            "Pass the randomness in as an argument of the jitted function: "
            "keys=jax.random.split(key, batch_size) (one key per record) or rng=key"
        ) from exc


def batch_size(data_shapes: Any, key: str, owner: str) -> int:
    """The leading (batch) size of a field in ``data_shapes``."""
    return int(lookup(data_shapes, key, owner)[0])


class ImageOperator(ModalityOperator):
    """Base of the image operators: shape checks and the batch-of-one kernel calls."""

    config: ImageOperatorConfig
    element_ndim: ClassVar[int | None] = 3
    element_axes: ClassVar[str] = "(height, width, channels)"

    def _extract_field(self, data: Any, key: str) -> Any:
        return lookup(data, key, self.name)

    def batched(self, batch: Any, keys: jax.Array | None, stats: dict[str, Any] | None) -> Any:
        """``ModalityOperator.batched`` after the rank check (``check_image_rank``)."""
        check_image_rank(self.name, batch, self.config.field_key)
        return super().batched(batch, keys, stats)

    def apply(
        self,
        data: Any,
        state: Any,
        metadata: dict[str, Any] | None,
        random_params: Any = None,
        stats: dict[str, Any] | None = None,
    ) -> tuple[Any, Any, dict[str, Any] | None]:
        """Check the auxiliary fields against the image (present, same height and width), then apply."""
        c = self.config
        image_shape = tuple(jnp.shape(lookup(data, c.field_key, self.name)))
        for aux in c.auxiliary_fields or ():
            mask_shape = tuple(jnp.shape(lookup(data, aux, self.name)))
            if len(image_shape) == 3 and mask_shape[:2] != image_shape[:2]:
                raise DataError(
                    f"{self.name}: auxiliary field {aux!r} has per-element shape {mask_shape}, but field "
                    f"{c.field_key!r} has {image_shape}; expected the same height and width {image_shape[:2]}"
                )
        return super().apply(data, state, metadata, random_params, stats)

    def apply_batch(
        self,
        batch: dict[str, Any],
        stats: dict[str, Any] | None = None,
        *,
        rng: jax.Array | None = None,
        keys: jax.Array | None = None,
    ) -> dict[str, Any]:
        """``ModalityOperator.apply_batch``; an empty batch gives an empty batch of the output structure.

        Under ``jax.jit`` a stochastic operator needs ``keys`` or ``rng`` passed in (see the module).
        """
        if isinstance(batch, dict):
            arrays, host_fields = split_host_fields(batch)
            leaves = jax.tree.leaves(arrays)
            if leaves and np.shape(leaves[0])[:1] == (0,):
                check_image_rank(self.name, arrays, self.config.field_key)
                spec = jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a)[1:], a.dtype), arrays)
                out = self.output_spec(spec)
                empty = jax.tree.map(lambda s: jnp.zeros((0, *s.shape), s.dtype), out)
                return {**empty, **host_fields}
            if self.stochastic and keys is None and rng is None and leaves:
                rng = draw_batch_key(self)
        return super().apply_batch(batch, stats, rng=rng, keys=keys)

    def _element(self, x: jax.Array, key: str) -> jax.Array:
        if jnp.ndim(x) != 3:
            raise DataError(
                f"{self.name}: field {key!r} has per-element shape {tuple(jnp.shape(x))}, "
                "expected (H, W, C) (the loader adds the batch axis)"
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
