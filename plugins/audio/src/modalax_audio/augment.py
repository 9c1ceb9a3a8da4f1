"""Pure augmentation math shared by the operators (one clip or a batch: leading axes broadcast).

Per-example parameters (``gain_db``, ``shift``, ``snr_db``, ``start``) have the shape of the
leading axes; the signal axis is the last one.  Gain and noise compute in at least float32
(``compute_dtype``: half precision and integer PCM are promoted, float64 stays), so a gain
or noise level within the operators' limits never overflows an intermediate; their result
has that dtype.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from modalax.plugin import pairwise_mean

__all__ = ["add_noise_snr", "apply_gain_db", "compute_dtype", "crop", "mask_along_axis", "rms", "time_shift"]


def compute_dtype(dtype: jnp.dtype) -> jnp.dtype:
    """The dtype gain and noise compute in: ``dtype`` promoted to at least float32."""
    return jnp.promote_types(dtype, jnp.float32)


def _per_example(value: jax.Array) -> jax.Array:
    return jnp.expand_dims(value, -1) if jnp.ndim(value) else value


def apply_gain_db(x: jax.Array, gain_db: jax.Array | float) -> jax.Array:
    """``x * 10 ** (gain_db / 20)`` in ``compute_dtype(x.dtype)``."""
    dtype = compute_dtype(x.dtype)
    gain = jnp.power(jnp.asarray(10.0, dtype), jnp.asarray(gain_db, dtype) / 20.0)
    return x.astype(dtype) * _per_example(gain)


def rms(x: jax.Array) -> jax.Array:
    """Root mean square over the last axis (kept), free of overflow: ``peak * rms(x / peak)``.

    Squaring first would overflow float32 for samples above 1.8e19; dividing by the peak (exact,
    and the same in any batch) keeps every square at most 1.  The mean is a pairwise sum, so a
    clip gets the same bits in any batch size.
    """
    peak = jnp.max(jnp.abs(x), axis=-1, keepdims=True)
    unit = x / jnp.where(peak > 0, peak, jnp.ones((), x.dtype))
    return peak * jnp.sqrt(pairwise_mean(jnp.square(unit), -1, keepdims=True))


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

    Computed in ``compute_dtype(x.dtype)`` from root mean squares (``rms``), never from squared
    powers, so nothing overflows for finite input; a silent clip gets no noise.
    """
    dtype = compute_dtype(x.dtype)
    x, noise = x.astype(dtype), noise.astype(dtype)
    rms_noise = rms(noise)
    level = jnp.power(jnp.asarray(10.0, dtype), -_per_example(jnp.asarray(snr_db, dtype)) / 20.0)
    scale = rms(x) / jnp.maximum(rms_noise, jnp.finfo(dtype).tiny) * level
    return x + jnp.where(rms_noise > 0, scale, jnp.zeros((), dtype)) * noise


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
