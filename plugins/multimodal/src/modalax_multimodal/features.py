"""Simple, fixed (untrained) features of each modality, used to measure alignment.

They know nothing of how the synthetic data is rendered: pooled pixels for images, a
bag of words for text, a fixed random projection for audio.  A linear probe on them says how
much of a latent a modality carries.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from modalax.plugin import DataError
from modalax_multimodal.config import DATA_KEYS

__all__ = ["AUDIO_PROJECTIONS", "IMAGE_POOL", "audio_features", "image_features", "modality_features", "text_features"]

#: Images are average-pooled to at most this many rows and columns.
IMAGE_POOL = 8
#: Audio is projected onto this many fixed random directions.
AUDIO_PROJECTIONS = 128


@jax.jit
def image_features(images: jax.Array) -> jax.Array:
    """``(B, H, W, C)`` -> ``(B, gh*gw*C)``: pixels average-pooled to an ``IMAGE_POOL`` grid."""
    b, h, w, c = images.shape
    gh, gw = min(IMAGE_POOL, h), min(IMAGE_POOL, w)
    pooled = jax.image.resize(images.astype(jnp.float32), (b, gh, gw, c), method="linear", antialias=True)
    return pooled.reshape(b, -1)


@functools.partial(jax.jit, static_argnames="vocab_size")
def text_features(tokens: jax.Array, vocab_size: int) -> jax.Array:
    """``(B, L)`` ints -> ``(B, vocab_size)`` token counts (bag of words)."""
    b = tokens.shape[0]
    rows = jnp.broadcast_to(jnp.arange(b)[:, None], tokens.shape)
    return jnp.zeros((b, vocab_size), jnp.float32).at[rows, tokens].add(1.0)


@functools.partial(jax.jit, static_argnames="num_projections")
def audio_features(audio: jax.Array, num_projections: int = AUDIO_PROJECTIONS) -> jax.Array:
    """``(B, T)`` -> ``(B, num_projections)``: a fixed Gaussian random projection of the waveform."""
    audio = audio.reshape(audio.shape[0], -1).astype(jnp.float32)
    t = audio.shape[1]
    proj = jax.random.normal(jax.random.key(t), (t, num_projections)) / jnp.sqrt(t)
    return jnp.matmul(audio, proj, precision=jax.lax.Precision.HIGHEST)


def modality_features(batch: dict[str, jax.Array], modality: str, *, vocab_size: int | None = None) -> jax.Array:
    """Fixed features of ``modality`` from a batch with this plugin's or the modality plugins' keys."""
    key = next((k for k in DATA_KEYS.get(modality, ()) if k in batch), None)
    if key is None:
        raise DataError(
            f"modality_features: batch has no {modality!r} data (keys {sorted(batch)}); "
            f"expected one of {list(DATA_KEYS.get(modality, ()))}"
        )
    x = jnp.asarray(batch[key])
    if modality == "image":
        return image_features(x if x.ndim == 4 else x[..., None])
    if modality == "text":
        vocab = vocab_size if vocab_size is not None else int(jnp.max(x)) + 1
        return text_features(x, vocab)
    return audio_features(x)
