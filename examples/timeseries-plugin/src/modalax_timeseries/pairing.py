"""The pairing protocol for time series: what lets ``modalax-multimodal`` pair ``timeseries`` with any modality.

``TimeSeriesModality.pairing(length=, channels=, noise=)`` returns a ``TimeSeriesPairing``:

* ``make_world``: one smooth random waveform per latent direction and channel (a sum of a few
  sinusoids of 1-6 cycles per series), normalised so a unit-variance input gives unit variance
  at every time step.  Drawn with ``jax.random`` from the key multimodal passes.
* ``render``: ``u @ world`` plus white noise of standard deviation ``noise`` from each sample's
  key: series vary smoothly (linearly) with the shared input, so aligned modalities share it.
* ``features``: the series average-pooled to at most 32 time bins (fixed, no parameters).
* ``encoder``: the same pooling to 32 bins, then a two-layer MLP.
* ``quality``: mean squared error and mean per-series correlation against references.

Only ``modalax.plugin`` and jax/flax are used: this is how any third-party modality pairs.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from modalax.plugin import ConfigError, DataError, ModalityPairing, check_positive

__all__ = ["TimeSeriesEncoder", "TimeSeriesPairing", "pool_time"]

_OWNER = "TimeSeriesPairing"
_WAVES = 4  # sinusoids per world waveform


def pool_time(x: jax.Array, bins: int) -> jax.Array:
    """``(B, L, C)`` -> ``(B, min(bins, L), C)``: mean over equal spans of time (the tail beyond them dropped)."""
    b, length, c = x.shape
    n = min(bins, length)
    span = length // n
    return x[:, : n * span].reshape(b, n, span, c).mean(axis=2)


class TimeSeriesEncoder(nnx.Module):
    """Series ``(B, L, C)`` -> ``(B, embed_dim)``: pooled to 32 time bins, flattened, ``Linear -> gelu -> Linear``."""

    def __init__(self, shape: tuple[int, int], embed_dim: int, hidden_dim: int = 64, *, rngs: nnx.Rngs) -> None:
        self.shape = shape
        self.bins = min(32, shape[0])
        self.fc1 = nnx.Linear(self.bins * shape[1], hidden_dim, rngs=rngs)
        self.fc2 = nnx.Linear(hidden_dim, embed_dim, rngs=rngs)

    def __call__(self, series: jax.Array) -> jax.Array:
        x = jnp.asarray(series, jnp.float32)
        if x.shape[1:] != self.shape:
            raise DataError(f"TimeSeriesEncoder: got series of shape {x.shape[1:]}, expected {self.shape}")
        pooled = pool_time(x, self.bins).reshape(x.shape[0], -1)
        return self.fc2(jax.nn.gelu(self.fc1(pooled)))


class TimeSeriesPairing(ModalityPairing):
    """Series ``(length, channels)`` float32 rendered from a shared latent.

    Options: ``length`` (time steps, default 128), ``channels`` (default 1) and ``noise``
    (standard deviation of the white noise added to each series, default 0.05).
    """

    aliases = ("series",)  # the key of this plugin's own datasets

    def __init__(self, length: int = 128, channels: int = 1, noise: float = 0.05, **options: Any) -> None:
        super().__init__(**options)  # unknown options are a ConfigError naming them
        self.length = int(check_positive(_OWNER, "length", length))
        self.channels = int(check_positive(_OWNER, "channels", channels))
        self.noise = float(check_positive(_OWNER, "noise", noise, integer=False, allow_zero=True))
        if self.length < 4:
            raise ConfigError(f"{_OWNER}.length: got {self.length}, expected at least 4 time steps")

    def options(self) -> dict[str, Any]:
        return {"length": self.length, "channels": self.channels, "noise": self.noise}

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (self.length, self.channels)

    def make_world(self, key: jax.Array, latent_dim: int) -> jax.Array:
        """``(latent_dim, length, channels)`` smooth waveforms, unit variance per time step over directions."""
        d = int(check_positive(_OWNER, "latent_dim", latent_dim))
        k_freq, k_phase, k_amp = jax.random.split(key, 3)
        shape = (d, _WAVES, 1, self.channels)
        freqs = jax.random.uniform(k_freq, shape, minval=1.0, maxval=6.0)
        phases = jax.random.uniform(k_phase, shape, maxval=2 * jnp.pi)
        amps = jax.random.normal(k_amp, shape)
        t = (jnp.arange(self.length) / self.length)[None, None, :, None]
        waves = jnp.sum(amps * jnp.sin(2 * jnp.pi * freqs * t + phases), axis=1)  # (d, L, C)
        return waves / jnp.sqrt(jnp.sum(waves**2, axis=0, keepdims=True))

    def render(self, world: jax.Array, u: jax.Array, keys: jax.Array) -> jax.Array:
        """``u @ world`` ``(B, L, C)`` plus white noise drawn from each sample's key."""
        clean = jnp.einsum("bd,dlc->blc", u, world, precision=jax.lax.Precision.HIGHEST)
        noise = jax.vmap(lambda k: jax.random.normal(k, self.sample_shape))(keys)
        return clean + self.noise * noise

    def features(self, x: jax.Array) -> jax.Array:
        """The series average-pooled to at most 32 time bins, flattened: ``(B, bins * channels)``."""
        x = jnp.asarray(x, jnp.float32)
        if x.ndim != 3:
            raise DataError(f"{_OWNER}.features: got shape {tuple(x.shape)}, expected (B, length, channels)")
        return pool_time(x, 32).reshape(x.shape[0], -1)

    def encoder(self, embed_dim: int, *, rngs: nnx.Rngs, hidden_dim: int | None = None) -> nnx.Module:
        """A ``TimeSeriesEncoder`` for this shape."""
        width = 64 if hidden_dim is None else hidden_dim
        return TimeSeriesEncoder((self.length, self.channels), embed_dim, width, rngs=rngs)

    def quality(self, generated: jax.Array, reference: jax.Array, **inputs: Any) -> dict[str, float]:
        """``{"mse": ..., "correlation": mean Pearson correlation of each series with its reference}``."""
        g, r = jnp.asarray(generated, jnp.float32), jnp.asarray(reference, jnp.float32)
        if g.shape != r.shape or g.ndim != 3:
            raise DataError(f"{_OWNER}.quality: got shapes {g.shape} and {r.shape}, expected equal (N, L, C)")
        gc = (g - g.mean(axis=1, keepdims=True)).reshape(len(g), -1)
        rc = (r - r.mean(axis=1, keepdims=True)).reshape(len(r), -1)
        corr = jnp.sum(gc * rc, -1) / jnp.sqrt(jnp.sum(gc * gc, -1) * jnp.sum(rc * rc, -1) + 1e-12)
        return {"mse": float(jnp.mean((g - r) ** 2)), "correlation": float(jnp.mean(corr))}
