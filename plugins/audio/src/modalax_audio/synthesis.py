"""Synthetic test signals as pure, vectorised jax functions of explicit keys.

``sine`` has a random frequency in [200, 800) Hz; ``noise`` is white Gaussian noise;
``chirp`` sweeps its instantaneous frequency linearly from ``freq_start`` to ``freq_end``
over the clip.  Every record also reports ``freq_start``/``freq_end`` (equal for a sine,
0 for noise), so tests and users can check the signal against what was asked for.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["AUDIO_TYPES", "chirp", "peak_normalize", "synthesize"]

AUDIO_TYPES = ("sine", "noise", "chirp")
SINE_RANGE = (200.0, 800.0)
CHIRP_START_RANGE = (100.0, 500.0)
CHIRP_END_RANGE = (1000.0, 4000.0)
NOISE_STD = 0.2


def chirp(t: jax.Array, f0: jax.Array, f1: jax.Array, duration: float, phase: jax.Array) -> jax.Array:
    """``sin(phase + 2 pi (f0 t + (f1 - f0) t^2 / (2 T)))``: frequency ``f0 + (f1 - f0) t / T``."""
    cycles = f0 * t + (f1 - f0) * jnp.square(t) / (2.0 * duration)
    cycles = cycles - jnp.floor(cycles)  # keep the argument small so float32 keeps the phase exact
    return jnp.sin(phase + 2.0 * jnp.pi * cycles)


def peak_normalize(x: jax.Array, eps: float = 1e-12) -> jax.Array:
    """Scale each clip (last axis) to a peak of 1; silent clips stay silent."""
    peak = jnp.max(jnp.abs(x), axis=-1, keepdims=True)
    return jnp.where(peak > eps, x / jnp.maximum(peak, eps), x)


def synthesize(
    key: jax.Array, type_id: jax.Array, n_samples: int, sample_rate: int, normalize: bool = True
) -> dict[str, jax.Array]:
    """One clip of type ``AUDIO_TYPES[type_id]`` from ``key`` (vmap it for a batch).

    Amplitudes are uniform in [0.3, 0.9) before ``normalize``; noise has std 0.2, clipped
    to [-1, 1].  Returns ``audio`` (float32), ``freq_start`` and ``freq_end`` (Hz).
    """
    k_f, k_f1, k_ph, k_amp, k_noise = jax.random.split(key, 5)
    t = jnp.arange(n_samples, dtype=jnp.float32) / sample_rate
    duration = n_samples / sample_rate
    nyquist_cap = 0.45 * sample_rate
    amp = jax.random.uniform(k_amp, (), jnp.float32, 0.3, 0.9)
    phase = jax.random.uniform(k_ph, (), jnp.float32, 0.0, 2.0 * jnp.pi)
    f_sine = jnp.minimum(jax.random.uniform(k_f, (), jnp.float32, *SINE_RANGE), nyquist_cap)
    f_start = jnp.minimum(jax.random.uniform(k_f, (), jnp.float32, *CHIRP_START_RANGE), nyquist_cap)
    f_end = jnp.minimum(jax.random.uniform(k_f1, (), jnp.float32, *CHIRP_END_RANGE), nyquist_cap)
    sine = amp * chirp(t, f_sine, f_sine, duration, phase)
    sweep = amp * chirp(t, f_start, f_end, duration, phase)
    noise = jnp.clip(NOISE_STD * jax.random.normal(k_noise, (n_samples,), jnp.float32), -1.0, 1.0)
    audio = jnp.select([type_id == 0, type_id == 1], [sine, noise], sweep)
    if normalize:
        audio = peak_normalize(audio)
    zero = jnp.zeros((), jnp.float32)
    f0 = jnp.select([type_id == 0, type_id == 1], [f_sine, zero], f_start)
    f1 = jnp.select([type_id == 0, type_id == 1], [f_sine, zero], f_end)
    return {"audio": audio, "freq_start": f0, "freq_end": f1}
