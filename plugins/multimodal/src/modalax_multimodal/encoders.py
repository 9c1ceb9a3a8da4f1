"""Small modality encoders that read the batches of this plugin and of the modality plugins.

``modality_inputs`` finds each modality in a batch whichever plugin produced it (``image`` or
``images``, ``text`` or ``text_tokens``, ``audio``).  The encoders are deliberately small
(pooled pixels, bag of embeddings, log spectrum plus a learned filterbank, each followed by an
MLP), so that contrastive training runs in seconds on a CPU.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from modalax.plugin import ConfigError, DataError
from modalax_multimodal.config import DATA_KEYS, MODALITY_NAMES, MultiModalConfig

__all__ = ["AudioEncoder", "ImageEncoder", "MLP", "TextEncoder", "build_encoders", "modality_inputs"]


def modality_inputs(batch: Mapping[str, Any], modalities: Sequence[str] | None = None) -> dict[str, jax.Array]:
    """``{modality: array}`` for the modalities present in ``batch`` (or exactly ``modalities``)."""
    out: dict[str, jax.Array] = {}
    for name in modalities if modalities is not None else MODALITY_NAMES:
        key = next((k for k in DATA_KEYS.get(name, ()) if k in batch), None)
        if key is None:
            if modalities is not None:
                raise DataError(
                    f"batch has no {name!r} data: keys {sorted(batch)}, expected one of {list(DATA_KEYS.get(name, ()))}"
                )
            continue
        out[name] = jnp.asarray(batch[key])
    return out


class MLP(nnx.Module):
    """``Linear -> gelu -> Linear``."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, *, rngs: nnx.Rngs) -> None:
        self.fc1 = nnx.Linear(in_dim, hidden_dim, rngs=rngs)
        self.fc2 = nnx.Linear(hidden_dim, out_dim, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.fc2(jax.nn.gelu(self.fc1(x)))


class ImageEncoder(nnx.Module):
    """Images ``(B, H, W[, C])`` -> ``(B, embed_dim)``: average-pool to ``pool x pool``, then an MLP."""

    def __init__(
        self, image_shape: Sequence[int], embed_dim: int, hidden_dim: int = 128, pool: int = 8, *, rngs: nnx.Rngs
    ) -> None:
        if len(image_shape) not in (2, 3):
            raise ConfigError(f"ImageEncoder.image_shape: got {tuple(image_shape)}, expected (H, W) or (H, W, C)")
        h, w, c = (*tuple(image_shape), 1)[:3]
        self.image_shape = (int(h), int(w), int(c))
        self.grid = (min(pool, h), min(pool, w))
        self.mlp = MLP(self.grid[0] * self.grid[1] * c, hidden_dim, embed_dim, rngs=rngs)

    def __call__(self, images: jax.Array) -> jax.Array:
        x = jnp.asarray(images, jnp.float32)
        if x.shape in (self.image_shape, self.image_shape[:2]) and (x.ndim == 3 or self.image_shape[2] == 1):
            return self(x[None])[0]  # one unbatched image
        if x.ndim == 3 and self.image_shape[2] == 1:
            x = x[..., None]
        if x.shape[1:] != self.image_shape:
            raise DataError(f"ImageEncoder: got images of shape {x.shape[1:]}, expected {self.image_shape}")
        pooled = jax.image.resize(x, (x.shape[0], *self.grid, x.shape[3]), method="linear", antialias=True)
        return self.mlp(pooled.reshape(x.shape[0], -1) * 2.0 - 1.0)


class TextEncoder(nnx.Module):
    """Tokens ``(B, L)`` -> ``(B, embed_dim)``: mean of token embeddings (padding excluded), then an MLP.

    With ``max_length`` a learnt position embedding is added to each token first.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_dim: int = 128,
        *,
        max_length: int | None = None,
        pad_token_id: int = 0,
        rngs: nnx.Rngs,
    ) -> None:
        self.vocab_size = vocab_size
        self.pad_token_id = pad_token_id
        self.embed = nnx.Embed(vocab_size, hidden_dim, rngs=rngs)
        self.positions = nnx.Embed(max_length, hidden_dim, rngs=rngs) if max_length else None
        self.mlp = MLP(hidden_dim, hidden_dim, embed_dim, rngs=rngs)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        t = jnp.asarray(tokens)
        if t.ndim == 1:
            return self(t[None])[0]
        if not jnp.issubdtype(t.dtype, jnp.integer):
            raise DataError(f"TextEncoder: got tokens of dtype {t.dtype}, expected integers")
        x = self.embed(t)
        if self.positions is not None:
            x = x + self.positions(jnp.arange(t.shape[1]))
        keep = (t != self.pad_token_id)[..., None].astype(x.dtype)
        pooled = jnp.sum(x * keep, axis=1) / jnp.maximum(jnp.sum(keep, axis=1), 1.0)
        return self.mlp(pooled)


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
        self.mlp = MLP(frame_length // 2 + 1 + filters, hidden_dim, embed_dim, rngs=rngs)

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


def build_encoders(
    config: MultiModalConfig, *, rngs: nnx.Rngs, hidden_dim: int = 128, modalities: Sequence[str] | None = None
) -> dict[str, nnx.Module]:
    """One encoder per modality of ``config`` (or of ``modalities``), each to ``config.embed_dim``."""
    encoders: dict[str, nnx.Module] = {}
    for name in modalities if modalities is not None else config.modalities:
        if name == "image":
            encoders[name] = ImageEncoder(config.image_shape, config.embed_dim, hidden_dim, rngs=rngs)
        elif name == "text":
            encoders[name] = TextEncoder(config.text_vocab_size, config.embed_dim, hidden_dim, rngs=rngs)
        elif name == "audio":
            frame = min(256, config.audio_num_samples)
            encoders[name] = AudioEncoder(config.embed_dim, hidden_dim, frame, rngs=rngs)
        else:
            raise ConfigError(f"build_encoders: got modality {name!r}, expected one of {MODALITY_NAMES}")
    return encoders
