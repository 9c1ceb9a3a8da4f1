"""Inverse STFT (window-sum normalised overlap-add) and Griffin-Lim phase reconstruction, as librosa."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from modalax.plugin import ConfigError, DataError
from modalax_audio.filters import window_np
from modalax_audio.spectral import _float, _resolve, stft

__all__ = ["griffin_lim", "istft"]


def _overlap_add(frames: jax.Array, hop: int) -> jax.Array:
    """Sum frames ``(..., T, n)`` placed ``hop`` apart: ``(..., n + hop * (T - 1))``."""
    count, n = frames.shape[-2], frames.shape[-1]
    if n % hop == 0:
        r = n // hop
        parts = frames.reshape(*frames.shape[:-1], r, hop)
        lead = [(0, 0)] * (frames.ndim - 2)
        shifted = (jnp.pad(parts[..., i, :], [*lead, (i, r - 1 - i), (0, 0)]) for i in range(r))
        total = sum(shifted, start=jnp.zeros((), frames.dtype))
        return total.reshape(*frames.shape[:-2], (count + r - 1) * hop)
    idx = (np.arange(count)[:, None] * hop + np.arange(n)[None, :]).reshape(-1)
    out = jnp.zeros((*frames.shape[:-2], n + hop * (count - 1)), frames.dtype)
    return out.at[..., idx].add(frames.reshape(*frames.shape[:-2], -1))


def _window_sumsquare(window: str, count: int, win: int, n_fft: int, hop: int) -> np.ndarray:
    w2 = window_np(window, win, n_fft) ** 2
    total = np.zeros(n_fft + hop * (count - 1))
    for t in range(count):
        total[t * hop : t * hop + n_fft] += w2
    return total


def istft(
    spec: jax.Array,
    hop_length: int | None = None,
    win_length: int | None = None,
    n_fft: int | None = None,
    window: str = "hann",
    center: bool = True,
    length: int | None = None,
) -> jax.Array:
    """Inverse STFT by weighted overlap-add, as ``librosa.istft``.

    Each frame is windowed again and the sum is divided by the summed squared window
    (where it is not ~0), so ``istft(stft(x)) == x`` for any window meeting the NOLA
    condition.  ``length`` pads or trims the output to that many samples.
    """
    if spec.ndim < 2:
        raise DataError(f"istft: got shape {tuple(spec.shape)}, expected (..., freq, time)")
    n_fft = n_fft if n_fft is not None else 2 * (spec.shape[-2] - 1)
    n_fft, hop, win = _resolve(n_fft, hop_length, win_length)
    if spec.shape[-2] != n_fft // 2 + 1:
        raise DataError(f"istft: got {spec.shape[-2]} frequency bins, expected n_fft // 2 + 1 = {n_fft // 2 + 1}")
    count = spec.shape[-1]
    frames = jnp.fft.irfft(jnp.swapaxes(spec, -1, -2), n=n_fft, axis=-1)
    frames = frames * window_np(window, win, n_fft).astype(frames.dtype)
    y = _overlap_add(frames, hop)
    wss = _window_sumsquare(window, count, win, n_fft, hop)
    tiny = np.finfo(np.float32).tiny
    y = y * np.where(wss > tiny, 1.0 / np.where(wss > tiny, wss, 1.0), 1.0).astype(y.dtype)
    start = n_fft // 2 if center else 0
    size = length if length is not None else y.shape[-1] - 2 * start
    y = y[..., start : start + size]
    if y.shape[-1] < size:
        y = jnp.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, size - y.shape[-1])])
    return y


def _fit_frames(spec: jax.Array, count: int) -> jax.Array:
    # With a custom ``length`` the rebuilt STFT may have fewer or more frames than the target.
    have = spec.shape[-1]
    if have >= count:
        return spec[..., :count]
    return jnp.pad(spec, [(0, 0)] * (spec.ndim - 1) + [(0, count - have)])


def _uniform_phases(key: jax.Array, shape: tuple[int, ...], dtype: Any) -> jax.Array:
    """Uniform [0, 1) draws of ``shape`` from one key, or per record from keys of shape ``shape[:-2]``."""
    key = jnp.asarray(key)
    typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    lead = key.shape if typed else key.shape[:-1]
    if lead == ():
        return jax.random.uniform(key, shape, dtype)
    if lead != tuple(shape[:-2]):
        raise ConfigError(
            f"griffin_lim.key: got keys of shape {lead}, expected one key or one per record {tuple(shape[:-2])}"
        )
    flat = key.reshape(-1, *key.shape[len(lead) :])
    draws = jax.vmap(lambda k: jax.random.uniform(k, shape[-2:], dtype))(flat)
    return draws.reshape(shape)


def griffin_lim(
    mag: jax.Array,
    key: jax.Array | None = None,
    n_iter: int = 32,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: str = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    length: int | None = None,
    momentum: float = 0.99,
) -> jax.Array:
    """Waveforms ``(..., n_samples)`` whose STFT magnitude approximates ``mag`` ``(..., freq, time)``.

    Fast Griffin-Lim (Perraudin et al. 2013) as ``librosa.griffinlim``: alternate
    ``istft``/``stft`` projections with ``momentum``.  Phases start at 0 (``key=None``,
    librosa's ``init=None``) or uniformly random from ``key``: one key draws the phases of the
    whole array; a key per record (shape ``mag.shape[:-2]``, as the loader's per-record keys)
    draws each record's from its own key, so a record's waveform does not depend on its batch.
    """
    if mag.ndim < 2:
        raise DataError(f"griffin_lim: got shape {tuple(mag.shape)}, expected (..., freq, time)")
    if not momentum >= 0.0:
        raise ConfigError(f"griffin_lim.momentum: got {momentum!r}, expected a number >= 0")
    mag = _float(mag)
    n_fft = 2 * (mag.shape[-2] - 1)
    n_fft, hop, win = _resolve(n_fft, hop_length, win_length)
    ctype = jnp.complex64 if mag.dtype == jnp.float32 else jnp.complex128
    if key is None:
        angles = jnp.ones(mag.shape, ctype)
    else:
        angles = jnp.exp(1j * 2.0 * jnp.pi * _uniform_phases(key, mag.shape, mag.dtype)).astype(ctype)
    eps = np.finfo(np.float32).tiny
    inverse = functools.partial(
        istft, hop_length=hop, win_length=win, n_fft=n_fft, window=window, center=center, length=length
    )

    def body(_: int, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        angles, tprev = carry
        rebuilt = stft(inverse(angles * mag), n_fft, hop, win, window, center, pad_mode)
        rebuilt = _fit_frames(rebuilt, mag.shape[-1])
        new = rebuilt - (momentum / (1.0 + momentum)) * tprev
        return new / (jnp.abs(new) + eps), rebuilt

    angles, _ = jax.lax.fori_loop(0, n_iter, body, (angles, jnp.zeros(mag.shape, ctype)))
    return inverse(angles * mag)
