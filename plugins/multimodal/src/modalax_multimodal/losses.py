"""Contrastive alignment losses: symmetric InfoNCE between paired embeddings."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from modalax.errors import ConfigError, DataError

__all__ = ["contrastive_loss", "l2_normalize", "symmetric_info_nce"]


def l2_normalize(x: jax.Array, axis: int = -1, eps: float = 1e-8) -> jax.Array:
    """``x / ||x||`` along ``axis``."""
    return x / jnp.sqrt(jnp.sum(x * x, axis=axis, keepdims=True) + eps)


def _check_temperature(owner: str, temperature: Any) -> None:
    """A concrete temperature must be a finite number > 0 (traced ones are the caller's to keep positive)."""
    if isinstance(temperature, jax.core.Tracer):
        return
    try:
        value = np.asarray(temperature, np.float64)
    except (TypeError, ValueError):
        value = None
    if value is None or value.shape != () or isinstance(temperature, bool):
        raise ConfigError(f"{owner}.temperature: got {temperature!r}, expected one finite number > 0")
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(f"{owner}.temperature: got {float(value)!r}, expected a finite number > 0")


def symmetric_info_nce(a: jax.Array, b: jax.Array, temperature: jax.Array | float = 0.07) -> jax.Array:
    """Symmetric InfoNCE (CLIP) loss of paired rows of ``a`` and ``b`` (``(B, D)`` each).

    Row ``i`` of ``a`` should match row ``i`` of ``b`` against every other row, and
    vice versa; the two cross-entropies are averaged.  Embeddings are L2-normalised first,
    so the logits are cosine similarities divided by ``temperature``.  Chance level is
    ``log(B)``.
    """
    _check_temperature("symmetric_info_nce", temperature)
    logits = l2_normalize(a) @ l2_normalize(b).T / temperature
    diag = jnp.arange(a.shape[0])
    a_to_b = -jnp.mean(jax.nn.log_softmax(logits, axis=1)[diag, diag])
    b_to_a = -jnp.mean(jax.nn.log_softmax(logits, axis=0)[diag, diag])
    return 0.5 * (a_to_b + b_to_a)


def contrastive_loss(*embeddings: Any, temperature: jax.Array | float = 0.07) -> jax.Array:
    """Mean symmetric InfoNCE over every pair of modalities.

    Accepts ``contrastive_loss(image_emb, text_emb, audio_emb)`` or one dict of embeddings.
    """
    _check_temperature("contrastive_loss", temperature)
    if len(embeddings) == 1 and isinstance(embeddings[0], Mapping):
        embeddings = tuple(embeddings[0].values())
    if len(embeddings) < 2:
        raise DataError(f"contrastive_loss: got {len(embeddings)} embedding(s), expected at least two to align")
    shapes = {tuple(jnp.shape(e)) for e in embeddings}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise DataError(f"contrastive_loss: got shapes {sorted(shapes)}, expected equal (batch, dim) shapes")
    if next(iter(shapes))[0] == 0:
        raise DataError("contrastive_loss: got empty batches (0 rows), expected at least one pair of rows")
    pairs = list(itertools.combinations(embeddings, 2))
    return sum(symmetric_info_nce(x, y, temperature) for x, y in pairs) / len(pairs)
