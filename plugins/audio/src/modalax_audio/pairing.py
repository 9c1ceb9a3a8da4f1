"""The audio side of a multimodal pairing (``AudioModality.pairing(**options)``).

Rendering from a shared input ``u`` (``latent_dim``): a sum of ``K = max(4, ceil(d / 2))``
sinusoids at fixed, log-spaced partials whose signed sine and cosine amplitudes are ``u`` times
a random matrix with orthonormal rows (so every direction of ``u`` is equally audible), with a
short raised-cosine fade, clipped to [-1, 1] (a 5-sigma event: the waveform's
standard deviation is ``AUDIO_STD``).  Every partial makes whole cycles per period ``P`` (the
shortest divisor of the clip lasting at least ``AUDIO_MIN_PERIOD_S``), so a clip is one period
tiled: the kernel is one ``(B, d) @ (d, P)`` product, and the phase is computed exactly in
integers on the host (float32 phases of a 1 s clip would drift by ~1e-3 rad).  The mixing
matrix, partials and envelope are the "world", drawn once on the host from the key's bits.

Fixed features: a fixed Gaussian random projection of the waveform.  Encoder: a log spectrum
and a learned filterbank over frames, then an MLP.  Quality: the log-spectral distance of
``modalax_audio.evaluation``.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax.plugin import ConfigError, DataError, ModalityPairing, check_positive, host_rng

__all__ = [
    "AUDIO_FADE_S",
    "AUDIO_MIN_PERIOD_S",
    "AUDIO_PROJECTIONS",
    "AUDIO_STD",
    "AudioEncoder",
    "AudioPairing",
    "AudioWorld",
    "audio_features",
    "audio_period",
    "render_audio",
    "render_audio_reference",
]

#: Standard deviation of the waveform before clipping to [-1, 1] (clipping is then rare).
AUDIO_STD = 0.2
#: Shortest period of the waveform, in seconds: partials lie on a grid of at most 1 / this.
AUDIO_MIN_PERIOD_S = 0.1
#: Raised-cosine fade at both ends of a clip, in seconds (no clicks when listening).
AUDIO_FADE_S = 0.01
#: Audio is projected onto this many fixed random directions (features).
AUDIO_PROJECTIONS = 128

_OWNER = "AudioPairing"


class AudioWorld(NamedTuple):
    """Fixed maps from ``u`` (``d``) to ``T`` samples."""

    basis: jax.Array  # (d, P) one period of the waveform of each latent direction
    envelope: jax.Array  # (T,) fade in and out
    mix: jax.Array  # (d, 2K) signed amplitudes of the sin and cos of each partial (output scale included)
    freqs: jax.Array  # (K,) partial frequencies in Hz (whole cycles per period)


def audio_period(num_samples: int, sample_rate: int) -> int:
    """The shortest divisor of ``num_samples`` lasting at least ``AUDIO_MIN_PERIOD_S`` (else the clip)."""
    shortest = math.ceil(AUDIO_MIN_PERIOD_S * sample_rate)
    return min((p for p in range(1, num_samples + 1) if num_samples % p == 0 and p >= shortest), default=num_samples)


def render_audio(u: jax.Array, basis: jax.Array, envelope: jax.Array) -> jax.Array:
    """Waveforms ``(B, T)`` in [-1, 1]: one period ``u @ basis`` tiled to ``T``, faded, clipped.

    Clipping, not ``tanh``: the waveform stays exactly linear in ``u`` (clipping is a 5-sigma
    event) and the kernel stays one pass over its output.
    """
    period = jnp.matmul(u, basis, precision=jax.lax.Precision.HIGHEST)  # (B, P)
    repeats = envelope.shape[0] // basis.shape[1]
    return jnp.clip(jnp.tile(period, (1, repeats)) * envelope, -1.0, 1.0)


def render_audio_reference(world: AudioWorld, u: np.ndarray, sample_rate: int) -> np.ndarray:
    """One clip from ``u`` ``(d,)``, adding one sinusoid at a time in float64 numpy (the reference)."""
    env = np.asarray(world.envelope, np.float64)
    t = np.arange(env.shape[0]) / sample_rate
    coeffs = np.asarray(u, np.float64) @ np.asarray(world.mix, np.float64)  # (2K,)
    wave = np.zeros_like(t)
    for k, freq in enumerate(np.asarray(world.freqs, np.float64)):
        c_sin, c_cos = coeffs[2 * k], coeffs[2 * k + 1]
        wave += np.hypot(c_sin, c_cos) * np.sin(2 * np.pi * freq * t + np.arctan2(c_cos, c_sin))
    return np.clip(wave * env, -1.0, 1.0)


@functools.partial(jax.jit, static_argnames="num_projections")
def audio_features(audio: jax.Array, num_projections: int = AUDIO_PROJECTIONS) -> jax.Array:
    """``(B, T)`` -> ``(B, num_projections)``: a fixed Gaussian random projection of the waveform."""
    audio = audio.reshape(audio.shape[0], -1).astype(jnp.float32)
    t = audio.shape[1]
    proj = jax.random.normal(jax.random.key(t), (t, num_projections)) / jnp.sqrt(t)
    return jnp.matmul(audio, proj, precision=jax.lax.Precision.HIGHEST)


class _MLP(nnx.Module):
    """``Linear -> gelu -> Linear``."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, *, rngs: nnx.Rngs) -> None:
        self.fc1 = nnx.Linear(in_dim, hidden_dim, rngs=rngs)
        self.fc2 = nnx.Linear(hidden_dim, out_dim, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.fc2(jax.nn.gelu(self.fc1(x)))


class AudioEncoder(nnx.Module):
    """Waveforms ``(B, T)`` -> ``(B, embed_dim)``: two views of frames, averaged over time, then an MLP.

    The mean log-magnitude spectrum is shift-invariant but blind to phase and sign (``-x`` and
    ``x`` look the same), so it alone cannot tell apart clips that differ only in the phases of
    their partials.  A learned filterbank (``Linear`` over each frame, then ``gelu``, whose
    asymmetry keeps odd-order statistics) averaged over frames sees phase and sign, as the
    convolutional front ends of learned audio models do.
    """

    def __init__(
        self,
        embed_dim: int,
        hidden_dim: int = 128,
        frame_length: int = 256,
        num_filters: int | None = None,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        self.frame_length = frame_length
        self.window = nnx.data(jnp.hanning(frame_length).astype(jnp.float32))
        filters = num_filters if num_filters is not None else hidden_dim
        self.filterbank = nnx.Linear(frame_length, filters, rngs=rngs)
        self.mlp = _MLP(frame_length // 2 + 1 + filters, hidden_dim, embed_dim, rngs=rngs)

    def __call__(self, audio: jax.Array) -> jax.Array:
        x = jnp.asarray(audio, jnp.float32)
        if x.ndim == 3 and x.shape[-1] == 1:
            x = x[..., 0]
        if x.ndim == 1:
            return self(x[None])[0]
        frames = x.shape[1] // self.frame_length
        if frames < 1:
            raise DataError(
                f"AudioEncoder: got {x.shape[1]} samples, expected at least frame_length={self.frame_length}"
            )
        x = x[:, : frames * self.frame_length].reshape(x.shape[0], frames, self.frame_length)
        spec = jnp.log1p(jnp.abs(jnp.fft.rfft(x * self.window, axis=-1)))
        rms = jnp.sqrt(jnp.mean(jnp.square(x), axis=(1, 2), keepdims=True)) + 1e-6
        learned = jax.nn.gelu(self.filterbank(x / rms))
        return self.mlp(jnp.concatenate([jnp.mean(spec, axis=1), jnp.mean(learned, axis=1)], axis=-1))


class AudioPairing(ModalityPairing):
    """Mono clips ``(T,)`` float32 in [-1, 1], ``T = round(sample_rate * duration)``, rendered from a latent.

    Options: ``sample_rate`` (Hz, default 16000), ``duration`` (seconds, default 1.0), and the
    STFT of the log-spectral-distance quality metric, ``n_fft`` (1024) and ``hop_length`` (256).
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        duration: float = 1.0,
        n_fft: int = 1024,
        hop_length: int = 256,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.sample_rate = int(check_positive(_OWNER, "sample_rate", sample_rate))
        self.duration = float(check_positive(_OWNER, "duration", duration, integer=False))
        self.n_fft = int(check_positive(_OWNER, "n_fft", n_fft))
        self.hop_length = int(check_positive(_OWNER, "hop_length", hop_length))
        self.num_samples = round(self.sample_rate * self.duration)
        if self.num_samples < 16:
            raise ConfigError(
                f"{_OWNER}.duration: got {self.duration} s at {self.sample_rate} Hz "
                f"({self.num_samples} samples), expected at least 16 samples"
            )

    def options(self) -> dict[str, Any]:
        keys = ("sample_rate", "duration", "n_fft", "hop_length")
        return {k: getattr(self, k) for k in keys}

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (self.num_samples,)

    def partials(self, latent_dim: int) -> np.ndarray:
        """Frequencies (Hz) of the ``max(4, ceil(latent_dim / 2))`` partials: log-spaced, whole cycles per period."""
        k = max(4, math.ceil(latent_dim / 2))
        n, rate = self.num_samples, self.sample_rate
        period = audio_period(n, rate)
        hi = min(3520.0, 0.45 * rate)
        lo = min(220.0, hi / 4)
        cycles = np.round(np.geomspace(lo, hi, k) * period / rate)
        if len(np.unique(cycles)) != k or cycles.min() < 1:
            raise ConfigError(
                f"{_OWNER}.duration: got {self.duration} s at {rate} Hz, too short to hold {k} distinct "
                f"partials between {lo:.0f} and {hi:.0f} Hz (latent_dim={latent_dim}); expected a longer clip"
            )
        return cycles * rate / period

    def make_world(self, key: jax.Array, latent_dim: int) -> AudioWorld:
        """Partials, a mixing matrix with orthonormal rows scaled to ``AUDIO_STD``, the fade, a period per direction."""
        d = int(check_positive(_OWNER, "latent_dim", latent_dim))
        freqs = self.partials(d)
        k = len(freqs)
        rng = host_rng(key)
        # orthonormal rows (2K >= d): every latent direction is equally audible, whatever the draw (a
        # Gaussian matrix can all but hide some); the clip's variance is trace(mix^T mix) / 2 = AUDIO_STD^2
        q, r = np.linalg.qr(rng.standard_normal((2 * k, d)))
        mix = (q * np.sign(np.diag(r))).T * (AUDIO_STD * math.sqrt(2.0 / d))
        n, rate = self.num_samples, self.sample_rate
        fade = max(1, min(n // 4, round(AUDIO_FADE_S * rate)))
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
        envelope = np.ones(n)
        envelope[:fade], envelope[n - fade :] = ramp, ramp[::-1]
        period = audio_period(n, rate)
        cycles = np.round(freqs * period / rate).astype(np.int64)
        phase = 2.0 * np.pi * ((cycles[:, None] * np.arange(period)[None, :]) % period) / period
        waves = np.stack([np.sin(phase), np.cos(phase)], axis=1).reshape(-1, period)  # (2K, P)
        f32 = [jnp.asarray(x, jnp.float32) for x in (mix @ waves, envelope, mix, freqs)]
        return AudioWorld(*f32)

    def render(self, world: AudioWorld, u: jax.Array, keys: jax.Array) -> jax.Array:
        """One period ``u @ basis`` tiled, faded and clipped: deterministic in ``u``."""
        return render_audio(u, world.basis, world.envelope)

    def render_reference(self, world: AudioWorld, u: np.ndarray) -> np.ndarray:
        """One sample in float64 numpy (see ``render_audio_reference``)."""
        return render_audio_reference(world, u, self.sample_rate)

    def features(self, x: jax.Array) -> jax.Array:
        """A fixed random projection ``(B, AUDIO_PROJECTIONS)`` of clips ``(B, T)`` of any length."""
        x = jnp.asarray(x)
        if x.ndim not in (2, 3):
            raise DataError(f"{_OWNER}.features: got shape {tuple(x.shape)}, expected (B, T) waveforms")
        return audio_features(x)

    def encoder(self, embed_dim: int, *, rngs: nnx.Rngs, hidden_dim: int | None = None) -> nnx.Module:
        """``AudioEncoder`` with frames of ``min(256, T)`` samples (``hidden_dim``: filters and MLP width)."""
        width = 128 if hidden_dim is None else hidden_dim
        return AudioEncoder(embed_dim, width, min(256, self.num_samples), rngs=rngs)

    def quality(self, generated: jax.Array, reference: jax.Array, **inputs: Any) -> dict[str, float]:
        """``{"log_spectral_distance": dB}`` (mean over clips; 0 is perfect)."""
        from modalax_audio.evaluation import log_spectral_distance

        g, r = jnp.asarray(generated, jnp.float32), jnp.asarray(reference, jnp.float32)
        if g.shape != r.shape or g.ndim != 2 or g.shape[0] == 0:
            raise DataError(
                f"{_OWNER}.quality: audio shapes {tuple(g.shape)} and {tuple(r.shape)}, "
                "expected equal (N, samples) with N > 0"
            )
        lsd = log_spectral_distance(g, r, n_fft=self.n_fft, hop_length=self.hop_length)
        return {"log_spectral_distance": float(jnp.mean(lsd))}
