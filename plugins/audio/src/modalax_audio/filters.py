"""Fixed filters computed once on the host in float64: windows, mel banks, DCT, resampling FIR.

Everything here depends only on static parameters, so it is cached and becomes a constant
of the jitted kernels; no jax is imported.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np

from modalax.plugin import ConfigError

__all__ = [
    "MEL_SCALES",
    "WINDOWS",
    "dct_matrix",
    "hz_to_mel",
    "mel_filterbank_np",
    "mel_frequencies",
    "mel_to_hz",
    "resample_filter",
    "window_np",
]

WINDOWS = ("hann", "hamming", "rect")
MEL_SCALES = ("slaney", "htk")

# Slaney's auditory toolbox scale: linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(freqs: np.ndarray | float, scale: str = "slaney") -> np.ndarray:
    """Hz to mel on the Slaney (librosa default) or HTK scale."""
    f = np.asarray(freqs, np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + f / 700.0)
    linear = f / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log, linear)


def mel_to_hz(mels: np.ndarray | float, scale: str = "slaney") -> np.ndarray:
    """Inverse of ``hz_to_mel``."""
    m = np.asarray(mels, np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    linear = _F_SP * m
    log = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(m, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(m >= _MIN_LOG_MEL, log, linear)


def mel_frequencies(n: int, f_min: float, f_max: float, scale: str = "slaney") -> np.ndarray:
    """``n`` frequencies (Hz) evenly spaced on the mel scale from ``f_min`` to ``f_max``."""
    mels = np.linspace(hz_to_mel(f_min, scale), hz_to_mel(f_max, scale), n)
    return mel_to_hz(mels, scale)


def _check_mel_args(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float | None, scale: str, norm: str | None
) -> float:
    for name, value in (("sample_rate", sample_rate), ("n_fft", n_fft), ("n_mels", n_mels)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
            raise ConfigError(f"mel_filterbank.{name}: got {value!r}, expected a positive int")
    nyquist = sample_rate / 2.0
    top = nyquist if f_max is None else float(f_max)
    if not 0.0 <= float(f_min) < top <= nyquist:
        raise ConfigError(
            f"mel_filterbank: got f_min={f_min!r}, f_max={f_max!r}; expected 0 <= f_min < f_max <= "
            f"sample_rate/2 = {nyquist}"
        )
    if scale not in MEL_SCALES:
        raise ConfigError(f"mel_filterbank.mel_scale: got {scale!r}, expected one of {MEL_SCALES}")
    if norm not in ("slaney", None):
        raise ConfigError(f"mel_filterbank.norm: got {norm!r}, expected 'slaney' or None")
    if n_mels > n_fft // 2 + 1:
        raise ConfigError(
            f"mel_filterbank.n_mels: got n_mels={n_mels} with n_fft={n_fft}; expected at most n_fft // 2 + 1 = "
            f"{n_fft // 2 + 1} (the FFT bins the filters share), or a larger n_fft"
        )
    return top


@lru_cache(maxsize=64)
def mel_filterbank_np(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    mel_scale: str = "slaney",
    norm: str | None = "slaney",
) -> np.ndarray:
    """Triangular mel filters ``(n_mels, n_fft // 2 + 1)`` in float64, as ``librosa.filters.mel``.

    With ``norm="slaney"`` each triangle is divided by its width in Hz (constant energy per
    channel); ``norm=None`` leaves peaks at 1.  The result is read-only (it is cached).
    """
    top = _check_mel_args(sample_rate, n_fft, n_mels, f_min, f_max, mel_scale, norm)
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    mel_f = mel_frequencies(n_mels + 2, float(f_min), top, mel_scale)
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    # librosa's check: a filter narrower than the FFT bin spacing is all zeros, so its channel is
    # silent whatever the input.  librosa warns; so do we (an error above n_fft // 2 + 1 mels).
    empty = np.nonzero(~((mel_f[:-2] == 0) | (weights.max(axis=1) > 0)))[0]
    if empty.size:
        warnings.warn(
            f"mel_filterbank: n_mels={n_mels} with n_fft={n_fft} at sample_rate={sample_rate} leaves "
            f"{empty.size} mel filter(s) empty (first: {int(empty[0])}); those channels are always zero. "
            "Use fewer mels or a larger n_fft.",
            UserWarning,
            stacklevel=2,
        )
    if norm == "slaney":
        weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    weights.setflags(write=False)
    return weights


@lru_cache(maxsize=32)
def window_np(name: str, length: int, n_fft: int | None = None) -> np.ndarray:
    """A periodic (DFT-even) window of ``length``, zero-padded to ``n_fft`` around the centre.

    Periodic windows are what ``scipy.signal.get_window(..., fftbins=True)`` and librosa use.
    """
    if name not in WINDOWS:
        raise ConfigError(f"window: got {name!r}, expected one of {WINDOWS}")
    n = np.arange(length, dtype=np.float64)
    if name == "hann":
        w = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / length)
    elif name == "hamming":
        w = 0.54 - 0.46 * np.cos(2.0 * np.pi * n / length)
    else:
        w = np.ones(length)
    size = length if n_fft is None else n_fft
    if size < length:
        raise ConfigError(f"window: win_length={length} is longer than n_fft={size}; expected <= n_fft")
    left = (size - length) // 2
    out = np.zeros(size)
    out[left : left + length] = w
    out.setflags(write=False)
    return out


@lru_cache(maxsize=16)
def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II rows ``(n_out, n_in)``: ``scipy.fft.dct(x, type=2, norm='ortho')[:n_out]``."""
    k = np.arange(n_out, dtype=np.float64)[:, None]
    n = np.arange(n_in, dtype=np.float64)[None, :]
    basis = np.cos(np.pi * k * (2.0 * n + 1.0) / (2.0 * n_in)) * math.sqrt(2.0 / n_in)
    basis[0] /= math.sqrt(2.0)
    basis.setflags(write=False)
    return basis


@lru_cache(maxsize=32)
def resample_filter(up: int, down: int, beta: float = 5.0) -> tuple[np.ndarray, int]:
    """The anti-aliasing FIR of ``scipy.signal.resample_poly`` and its half length.

    A Kaiser-windowed sinc (``beta`` 5, cutoff ``1 / max(up, down)`` of Nyquist, ``20 *
    max(up, down) + 1`` taps) with unit DC gain, times ``up`` to restore the amplitude lost
    to zero stuffing.  Returns ``(h, half_len)``; ``h[half_len]`` is the centre tap.
    """
    max_rate = max(up, down)
    half_len = 10 * max_rate
    taps = 2 * half_len + 1
    m = np.arange(taps, dtype=np.float64) - half_len
    cutoff = 1.0 / max_rate
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(taps, beta)
    h = h / h.sum() * up
    h.setflags(write=False)
    return h, half_len
