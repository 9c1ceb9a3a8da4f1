"""Pure, jittable kernels that render aligned modalities from per-sample latent inputs.

Every kernel is vectorised over a leading batch axis.  The fixed rendering maps (the
"world") are arrays built once by ``make_render_params`` and passed in as arguments, so the
kernels bake no data into their executables and the numpy reference (``reference.py``) can
reproduce them exactly.

* ``aligned_inputs``: ``u_m = sqrt(a) z + sqrt(1 - a) n_m`` (variance preserving).
* ``render_image``: a random smooth colour field, linear in ``u_m``, squashed by a sigmoid.
* ``render_audio``: a sum of sinusoids at fixed partials whose signed amplitudes are linear in
  ``u_m``, with a short fade in/out, clipped to [-1, 1] (a 5-sigma event: the waveform's
  standard deviation is ``AUDIO_STD``).
* ``render_text``: position ``p`` reads the projection ``w_p . u_m``, quantises it into
  ``TEXT_LEVELS`` equiprobable levels and looks the token up in a per-position table.
"""

from __future__ import annotations

import functools
import math
import statistics
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from modalax.plugin import ConfigError
from modalax_multimodal.config import RESERVED_TOKENS, TEXT_LEVELS, MultiModalConfig

__all__ = [
    "AUDIO_FADE_S",
    "IMAGE_FIELD_STD",
    "RenderParams",
    "aligned_inputs",
    "audio_partials",
    "audio_period",
    "make_render_params",
    "render_audio",
    "render_image",
    "render_text",
]

#: Standard deviation of the pre-sigmoid colour field at every pixel.
IMAGE_FIELD_STD = 1.5
#: Standard deviation of the waveform before clipping to [-1, 1] (clipping is then rare).
AUDIO_STD = 0.2
#: Shortest period of the waveform, in seconds: partials lie on a grid of at most 1 / this.
AUDIO_MIN_PERIOD_S = 0.1
#: Raised-cosine fade at both ends of a clip, in seconds (no clicks when listening).
AUDIO_FADE_S = 0.01
#: Side of the coarse colour grid that is upsampled to the image size.
IMAGE_GRID = 8


class RenderParams(NamedTuple):
    """Fixed maps from a modality input ``u`` (``latent_dim``) to each modality."""

    image_low: jax.Array  # (d, gh, gw, C) coarse colour fields
    image_rows: jax.Array  # (H, gh) linear interpolation of rows
    image_cols: jax.Array  # (W, gw) linear interpolation of columns
    image_scale: jax.Array  # (H, W, C) 1 / per-pixel std of the upsampled field
    audio_mix: jax.Array  # (d, 2K) signed amplitudes of the sin and cos of each partial (output scale included)
    audio_freqs: jax.Array  # (K,) partial frequencies in Hz (whole cycles per period)
    audio_envelope: jax.Array  # (T,) fade in and out
    text_directions: jax.Array  # (L, d) unit projection per position
    text_edges: jax.Array  # (TEXT_LEVELS - 1,) standard-normal quantiles
    text_table: jax.Array  # (L, TEXT_LEVELS) int32 token of each (position, level)

    def image_basis(self) -> jax.Array:
        """``(d, H, W, C)``: the full-resolution field of each latent direction, normalised."""
        f64 = [np.asarray(x, np.float64) for x in (self.image_rows, self.image_low, self.image_cols, self.image_scale)]
        up = np.einsum("hi,dijc,wj->dhwc", f64[0], f64[1], f64[2]) * f64[3]
        return jnp.asarray(up, jnp.float32)

    def audio_basis(self, sample_rate: int) -> jax.Array:
        """``(d, P)``: one period of the waveform of each latent direction (before fade and clipping).

        Every partial makes whole cycles per period ``P`` (``audio_period``), so a clip is this
        period tiled, and the phase is computed exactly in integers (float32 phases of a 1 s
        clip would drift by ~1e-3 rad).
        """
        period = audio_period(self.audio_envelope.shape[0], sample_rate)
        cycles = np.round(np.asarray(self.audio_freqs, np.float64) * period / sample_rate).astype(np.int64)
        phase = 2.0 * np.pi * ((cycles[:, None] * np.arange(period)[None, :]) % period) / period
        waves = np.stack([np.sin(phase), np.cos(phase)], axis=1).reshape(-1, period)  # (2K, P)
        return jnp.asarray(np.asarray(self.audio_mix, np.float64) @ waves, jnp.float32)


def audio_period(num_samples: int, sample_rate: int) -> int:
    """The shortest divisor of ``num_samples`` lasting at least ``AUDIO_MIN_PERIOD_S`` (else the clip)."""
    shortest = math.ceil(AUDIO_MIN_PERIOD_S * sample_rate)
    return min((p for p in range(1, num_samples + 1) if num_samples % p == 0 and p >= shortest), default=num_samples)


def audio_partials(config: MultiModalConfig) -> np.ndarray:
    """Frequencies (Hz) of the partials: log-spaced, whole cycles per period, distinct."""
    k = max(4, math.ceil(config.latent_dim / 2))
    n, rate = config.audio_num_samples, config.audio_sample_rate
    period = audio_period(n, rate)
    hi = min(3520.0, 0.45 * rate)
    lo = min(220.0, hi / 4)
    cycles = np.round(np.geomspace(lo, hi, k) * period / rate)
    if len(np.unique(cycles)) != k or cycles.min() < 1:
        raise ConfigError(
            f"MultiModalConfig.audio_duration: got {config.audio_duration} s at {rate} Hz, "
            f"too short to hold {k} distinct partials between {lo:.0f} and {hi:.0f} Hz; expected a longer clip"
        )
    return cycles * rate / period


def _interp_matrix(size_in: int, size_out: int) -> np.ndarray:
    """``(size_out, size_in)`` linear interpolation with half-pixel centres, edges clamped."""
    pos = np.clip((np.arange(size_out) + 0.5) * size_in / size_out - 0.5, 0.0, size_in - 1.0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, size_in - 1)
    frac = pos - lo
    out = np.zeros((size_out, size_in))
    np.add.at(out, (np.arange(size_out), lo), 1.0 - frac)
    np.add.at(out, (np.arange(size_out), hi), frac)
    return out


@functools.lru_cache(maxsize=16)
def _cached_params(
    render_seed: int,
    latent_dim: int,
    image_shape: tuple[int, int, int],
    length: int,
    vocab_size: int,
    audio_key: tuple[int, float],
) -> RenderParams:
    # The maps are constants of the "world", not per-sample randomness: numpy's legacy
    # RandomState has a frozen stream, and building them compiles nothing.
    config = MultiModalConfig(
        image_shape=image_shape,
        text_vocab_size=vocab_size,
        text_sequence_length=length,
        audio_sample_rate=audio_key[0],
        audio_duration=audio_key[1],
        latent_dim=latent_dim,
        render_seed=render_seed,
    )
    rng = np.random.RandomState(render_seed % 2**32)
    d = latent_dim
    h, w, c = image_shape
    gh, gw = min(IMAGE_GRID, h), min(IMAGE_GRID, w)
    low = rng.standard_normal((d, gh, gw, c))
    rows, cols = _interp_matrix(gh, h), _interp_matrix(gw, w)
    up = np.einsum("hi,dijc,wj->dhwc", rows, low, cols)
    scale = IMAGE_FIELD_STD / np.sqrt(np.sum(up**2, axis=0))

    freqs = audio_partials(config)
    k = len(freqs)
    # a sum of K sin/cos pairs with unit-variance amplitudes has variance K: scale it to AUDIO_STD
    mix = rng.standard_normal((d, 2 * k)) / math.sqrt(d) * (AUDIO_STD / math.sqrt(k))
    n = config.audio_num_samples
    fade = max(1, min(n // 4, round(AUDIO_FADE_S * config.audio_sample_rate)))
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
    envelope = np.ones(n)
    envelope[:fade], envelope[n - fade :] = ramp, ramp[::-1]

    directions = rng.standard_normal((length, d))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    edges = np.array([statistics.NormalDist().inv_cdf(j / TEXT_LEVELS) for j in range(1, TEXT_LEVELS)])
    usable = vocab_size - RESERVED_TOKENS
    perm = rng.permutation(usable)
    slots = (np.arange(length)[:, None] * TEXT_LEVELS + np.arange(TEXT_LEVELS)[None, :]) % usable
    f32 = functools.partial(jnp.asarray, dtype=jnp.float32)
    return RenderParams(
        image_low=f32(low),
        image_rows=f32(rows),
        image_cols=f32(cols),
        image_scale=f32(scale),
        audio_mix=f32(mix),
        audio_freqs=f32(freqs),
        audio_envelope=f32(envelope),
        text_directions=f32(directions),
        text_edges=f32(edges),
        text_table=jnp.asarray(RESERVED_TOKENS + perm[slots], jnp.int32),
    )


def make_render_params(config: MultiModalConfig) -> RenderParams:
    """The rendering maps of ``config.render_seed`` (independent of the dataset seed and split).

    Built once per distinct shape and seed in a process (cached; the arrays are immutable).
    """
    return _cached_params(
        config.render_seed,
        config.latent_dim,
        tuple(config.image_shape),
        config.text_sequence_length,
        config.text_vocab_size,
        (config.audio_sample_rate, float(config.audio_duration)),
    )


def aligned_inputs(latent: jax.Array, nuisance: jax.Array, strength: ArrayLike) -> jax.Array:
    """``sqrt(a) * latent + sqrt(1 - a) * nuisance``: unit variance, correlation ``sqrt(a)`` with ``latent``."""
    a = jnp.asarray(strength, latent.dtype)
    return jnp.sqrt(a) * latent + jnp.sqrt(1.0 - a) * nuisance


def render_image(u: jax.Array, basis: jax.Array) -> jax.Array:
    """Images ``(B, H, W, C)`` in (0, 1): ``sigmoid(u @ basis)`` with ``basis`` from ``RenderParams.image_basis``."""
    d = basis.shape[0]
    field = jnp.matmul(u, basis.reshape(d, -1), precision=jax.lax.Precision.HIGHEST)
    return jax.nn.sigmoid(field).reshape(u.shape[0], *basis.shape[1:])


def render_audio(u: jax.Array, basis: jax.Array, envelope: jax.Array) -> jax.Array:
    """Waveforms ``(B, T)`` in [-1, 1]: one period ``u @ basis`` tiled to ``T``, faded, clipped.

    ``basis`` is ``RenderParams.audio_basis`` (``(d, P)``, ``P`` divides ``T``) and ``envelope``
    the ``(T,)`` fade.  Clipping, not ``tanh``: the waveform stays exactly linear in ``u``
    (clipping is a 5-sigma event) and the kernel stays one pass over its output.
    """
    period = jnp.matmul(u, basis, precision=jax.lax.Precision.HIGHEST)  # (B, P)
    repeats = envelope.shape[0] // basis.shape[1]
    wave = jnp.tile(period, (1, repeats)) * envelope
    return jnp.clip(wave, -1.0, 1.0)


def render_text(u: jax.Array, directions: jax.Array, edges: jax.Array, table: jax.Array) -> jax.Array:
    """Tokens ``(B, L)`` int32: position ``p`` quantises ``directions[p] . u`` and reads ``table[p, level]``."""
    proj = jnp.matmul(u, directions.T, precision=jax.lax.Precision.HIGHEST)  # (B, L)
    levels = jnp.sum(proj[..., None] > edges, axis=-1)
    return table[jnp.arange(table.shape[0])[None, :], levels].astype(jnp.int32)
