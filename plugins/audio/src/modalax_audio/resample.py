"""Band-limited resampling: the polyphase Kaiser-windowed sinc of ``scipy.signal.resample_poly``.

Upsampling by ``up``, low-pass filtering and keeping every ``down``-th sample is computed
without the zero-stuffed signal: output ``m = j * up + s`` is a dot product of the input
window starting at ``j * down`` with filter row ``s``.  So all ``up`` phases together are
one strided convolution (stride ``down``, ``up`` output channels) over the batch, followed
by interleaving the channels.  The filter rows are constants built on the host in float64.

The bank has about ``up x down`` taps once the rates are divided by their gcd, so rates that
share no large factor (44,101 Hz to 16 kHz: 16000 x 44101) would need gigabytes: above
``MAX_FILTER_SIZE`` taps the kernel refuses with a ``ConfigError``.  Resample such audio on
the host with ``modalax_audio.resample_host`` (soxr), as ``AudioFolderDataset`` does for files.
"""

from __future__ import annotations

import math
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from modalax.plugin import ConfigError, DataError
from modalax_audio.filters import resample_filter

__all__ = ["MAX_FILTER_SIZE", "filter_size", "resample", "resample_poly", "resampled_length"]

#: Most taps (phases x taps per phase) the polyphase bank may have: 2**22, 16 MiB in float32.
MAX_FILTER_SIZE = 1 << 22


def _check_rate(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ConfigError(f"resample.{name}: got {value!r}, expected a positive int")
    return int(value)


def resampled_length(n_samples: int, up: int, down: int) -> int:
    """Output length of resampling ``n_samples`` by ``up / down``: ``ceil(n * up / down)``."""
    g = math.gcd(up, down)
    up, down = up // g, down // g
    return -(-n_samples * up // down)


def _bank_geometry(up: int, down: int) -> tuple[int, int]:
    """``(w_min, taps per phase)`` of the bank for reduced ``up``/``down``."""
    half = 10 * max(up, down)  # half length of ``resample_filter(up, down)``
    w_min = -(half // up)  # ceil(-half / up): earliest input any phase touches
    w_max = ((up - 1) * down + half) // up
    return w_min, w_max - w_min + 1


def filter_size(up: int, down: int) -> int:
    """Taps of the polyphase bank that resampling by ``up / down`` builds (``up`` phases x taps)."""
    g = math.gcd(up, down)
    up, down = up // g, down // g
    return 0 if up == down else up * _bank_geometry(up, down)[1]


def _check_size(up: int, down: int, owner: str) -> None:
    size = filter_size(up, down)
    if size > MAX_FILTER_SIZE:
        g = math.gcd(up, down)
        raise ConfigError(
            f"{owner}: up={up // g}, down={down // g} (after dividing by their gcd {g}) needs a polyphase filter "
            f"of {size:,} taps, more than MAX_FILTER_SIZE={MAX_FILTER_SIZE:,}; expected rates sharing a larger "
            "factor (e.g. 44100 or 48000 to 16000), or resample on the host with modalax_audio.resample_host (soxr)"
        )


@lru_cache(maxsize=32)
def _polyphase_bank(up: int, down: int) -> tuple[np.ndarray, int]:
    """Filter rows ``(up, K)`` and the input offset of the first tap.

    Row ``s`` holds ``h(s * down - w * up)`` for input offsets ``w = w_min .. w_min + K - 1``
    relative to ``j * down`` (``h`` centred at 0, zero outside its support).
    """
    h, half = resample_filter(up, down)
    w_min, taps = _bank_geometry(up, down)
    offsets = np.arange(w_min, w_min + taps)
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
    _check_size(up, down, "resample_poly")
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
    _check_size(target_sr, orig_sr, f"resample(orig_sr={orig_sr}, target_sr={target_sr})")
    return resample_poly(x, target_sr, orig_sr)
