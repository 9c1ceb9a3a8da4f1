"""The modality's default augmentation: random horizontal flip, brightness and contrast.

Used by ``ImageModality.process`` (training only, when ``augmentation=True``) as a pure
function of a key, and offered as loader operators by ``ImageModality.get_extensions``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from modalax_image import kernels
from modalax_image.operator_configs import BrightnessConfig, ContrastConfig, FlipConfig
from modalax_image.operators import BrightnessOperator, ContrastOperator, FlipOperator, ImageOperator

__all__ = ["BRIGHTNESS_FRACTION", "CONTRAST_RANGE", "FLIP_PROBABILITY", "augment_batch", "augmentation_operators"]

FLIP_PROBABILITY = 0.5
BRIGHTNESS_FRACTION = 0.1  # of the width of the value range
CONTRAST_RANGE = (0.9, 1.1)


def augment_batch(images: jax.Array, key: jax.Array, value_range: tuple[float, float]) -> jax.Array:
    """Flip, brightness and contrast with per-image parameters from ``key``; clipped to range."""
    n = images.shape[0]
    lo, hi = value_range
    k_flip, k_bright, k_contrast = jax.random.split(key, 3)
    delta = BRIGHTNESS_FRACTION * (hi - lo)
    x = kernels.flip(images, jax.random.bernoulli(k_flip, FLIP_PROBABILITY, (n,)))
    x = kernels.brightness(x, jax.random.uniform(k_bright, (n,), jnp.float32, -delta, delta))
    x = kernels.contrast(x, jax.random.uniform(k_contrast, (n,), jnp.float32, *CONTRAST_RANGE))
    return jnp.clip(x, lo, hi)


def augmentation_operators(
    value_range: tuple[float, float], *, rngs: nnx.Rngs, field_key: str = "images", stream_name: str = "augment"
) -> list[ImageOperator]:
    """The same augmentation as loader operators (the last one clips to ``value_range``)."""
    lo, hi = value_range
    common: dict[str, Any] = {"field_key": field_key, "stream_name": stream_name}
    return [
        FlipOperator(FlipConfig(probability=FLIP_PROBABILITY, **common), rngs=rngs),
        BrightnessOperator(BrightnessConfig(max_delta=BRIGHTNESS_FRACTION * (hi - lo), **common), rngs=rngs),
        ContrastOperator(
            ContrastConfig(lower=CONTRAST_RANGE[0], upper=CONTRAST_RANGE[1], clip_range=(lo, hi), **common), rngs=rngs
        ),
    ]
