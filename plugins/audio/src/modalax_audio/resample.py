"""Band-limited resampling: the polyphase Kaiser-windowed sinc of ``scipy.signal.resample_poly``.

Upsampling by ``up``, low-pass filtering and keeping every ``down``-th sample is computed
without the zero-stuffed signal: output ``m = j * up + s`` is a dot product of the input
window starting at ``j * down`` with filter row ``s``.  So all ``up`` phases together are
one strided convolution (stride ``down``, ``up`` output channels) over the batch, followed
by interleaving the channels.  The filter rows are constants built on the host in float64.
"""

from __future__ import annotations

import math
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from modalax.errors import ConfigError, DataError
from modalax_audio.filters import resample_filter

__all__ = ["resample", "resample_poly", "resampled_length"]


def _check_rate(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ConfigError(f"resample.{name}: got {value!r}, expected a positive int")
    return int(value)


def resampled_length(n_samples: int, up: int, down: int) -> int:
    """Output length of resampling ``n_samples`` by ``up / down``: ``ceil(n * up / down)``."""
    g = math.gcd(up, down)
    up, down = up // g, down // g
    return -(-n_samples * up // down)


@lru_cache(maxsize=32)
def _polyphase_bank(up: int, down: int) -> tuple[np.ndarray, int]:
    """Filter rows ``(up, K)`` and the input offset of the first tap.

    Row ``s`` holds ``h(s * down - w * up)`` for input offsets ``w = w_min .. w_min + K - 1``
    relative to ``j * down`` (``h`` centred at 0, zero outside its support).
    """
    h, half = resample_filter(up, down)
    w_min = -(half // up)  # ceil(-half / up): earliest input any phase touches
    w_max = ((up - 1) * down + half) // up
    offsets = np.arange(w_min, w_max + 1)
    t = np.arange(up)[:, None] * down - offsets[None, :] * up + half
    valid = (t >= 0) & (t < len(h))
    bank = np.where(valid, h[np.clip(t, 0, len(h) - 1)], 0.0)
    bank.setflags(write=False)
    return bank, int(w_min)


def resample_poly(x: jax.Array, up: int, down: int) -> jax.Array:
    """Resample the last axis by ``up / down``, as ``scipy.signal.resample_poly(x, up, down, axis=-1)``.

    Zero padding beyond the ends (scipy's ``padtype='constant'``); output length
    ``ceil(n * up / down)``.  Batched over all leading axes.
    """
    up, down = _check_rate("up", up), _check_rate("down", down)
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    if x.ndim < 1 or x.shape[-1] == 0:
        raise DataError(f"resample: got audio of shape {tuple(x.shape)}, expected (..., n_samples) with n_samples > 0")
    g = math.gcd(up, down)
    up, down = up // g, down // g
    if up == down == 1:
        return x
    n_in = x.shape[-1]
    n_out = resampled_length(n_in, up, down)
    bank, w_min = _polyphase_bank(up, down)
    taps = bank.shape[1]
    groups = -(-n_out // up)  # output blocks of ``up`` samples, one per stride step
    pad_lo = -w_min
    pad_hi = max(0, (groups - 1) * down + w_min + taps - n_in)
    lead = x.shape[:-1]
    flat = x.reshape(-1, 1, n_in)
    out = jax.lax.conv_general_dilated(
        flat,
        jnp.asarray(bank[:, None, :], x.dtype),
        window_strides=(down,),
        padding=[(pad_lo, pad_hi)],
        dimension_numbers=("NCH", "OIH", "NCH"),
        precision=jax.lax.Precision.HIGHEST,
    )
    # (batch, phase, block) -> (batch, block, phase) -> samples in time order
    y = jnp.swapaxes(out[..., :groups], -1, -2).reshape(flat.shape[0], groups * up)[:, :n_out]
    return y.reshape(*lead, n_out)


def resample(x: jax.Array, orig_sr: int, target_sr: int) -> jax.Array:
    """Resample the last axis from ``orig_sr`` to ``target_sr`` Hz (band-limited, polyphase)."""
    orig_sr, target_sr = _check_rate("orig_sr", orig_sr), _check_rate("target_sr", target_sr)
    return resample_poly(x, target_sr, orig_sr)
