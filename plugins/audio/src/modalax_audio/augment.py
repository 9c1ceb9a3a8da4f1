"""Pure augmentation math shared by the operators (one clip or a batch: leading axes broadcast).

Per-example parameters (``gain_db``, ``shift``, ``snr_db``, ``start``) have the shape of the
leading axes; the signal axis is the last one.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from modalax.plugin import pairwise_mean

__all__ = ["add_noise_snr", "apply_gain_db", "crop", "mask_along_axis", "time_shift"]


def apply_gain_db(x: jax.Array, gain_db: jax.Array | float) -> jax.Array:
    """``x * 10 ** (gain_db / 20)``."""
    gain = jnp.power(10.0, jnp.asarray(gain_db, x.dtype) / 20.0)
    return x * jnp.expand_dims(gain, -1) if jnp.ndim(gain) else x * gain


def time_shift(x: jax.Array, shift: jax.Array | int, mode: str = "roll") -> jax.Array:
    """Delay one clip by ``shift`` samples (negative advances); ``mode`` ``roll`` wraps, ``zero`` fills 0."""
    n = x.shape[-1]
    shift = jnp.asarray(shift, jnp.int32)
    y = jnp.roll(x, shift, axis=-1)
    if mode == "roll":
        return y
    idx = jnp.arange(n)
    keep = jnp.where(shift >= 0, idx >= shift, idx < n + shift)
    return jnp.where(keep, y, jnp.zeros((), x.dtype))


def add_noise_snr(x: jax.Array, noise: jax.Array, snr_db: jax.Array | float) -> jax.Array:
    """``x + a * noise`` with ``a`` chosen so that ``mean(x^2) / mean((a noise)^2) = 10^(snr_db/10)``.

    Powers are per example (over the last axis, summed pairwise so that a clip gets the same
    bits in any batch); a silent clip gets no noise.
    """
    p_signal = pairwise_mean(jnp.square(x), -1, keepdims=True)
    p_noise = pairwise_mean(jnp.square(noise), -1, keepdims=True)
    snr = jnp.asarray(snr_db, x.dtype)
    target = p_signal / jnp.power(10.0, (jnp.expand_dims(snr, -1) if jnp.ndim(snr) else snr) / 10.0)
    scale = jnp.sqrt(target / jnp.maximum(p_noise, jnp.finfo(x.dtype).tiny))
    return x + jnp.where(p_noise > 0, scale, 0.0) * noise


def mask_along_axis(
    x: jax.Array, start: jax.Array | int, width: jax.Array | int, axis: int = -1, value: float = 0.0
) -> jax.Array:
    """Set positions ``[start, start + width)`` along ``axis`` of one element to ``value`` (SpecAugment)."""
    axis = axis % x.ndim
    pos = jnp.arange(x.shape[axis]).reshape([-1 if a == axis else 1 for a in range(x.ndim)])
    inside = (pos >= start) & (pos < start + width)
    return jnp.where(inside, jnp.asarray(value, x.dtype), x)


def crop(x: jax.Array, start: jax.Array | int, length: int) -> jax.Array:
    """``length`` samples of one clip from ``start`` (last axis; ``start`` is clamped to fit)."""
    return jax.lax.dynamic_slice_in_dim(x, jnp.asarray(start, jnp.int32), length, axis=x.ndim - 1)
