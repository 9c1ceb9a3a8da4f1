"""Alignment losses between paired embeddings: symmetric InfoNCE and a masked consistency loss."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from modalax.plugin import ConfigError, DataError

__all__ = ["CONSISTENCY_METRICS", "consistency_loss", "contrastive_loss", "l2_normalize", "symmetric_info_nce"]

CONSISTENCY_METRICS = ("cosine", "mse")


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
    terms = [symmetric_info_nce(x, y, temperature) for x, y in pairs]
    return sum(terms[1:], start=terms[0]) / len(pairs)


def _embedding_list(owner: str, embeddings: tuple[Any, ...]) -> list[jax.Array]:
    if len(embeddings) == 1 and isinstance(embeddings[0], Mapping):
        embeddings = tuple(embeddings[0].values())
    if len(embeddings) < 2:
        raise DataError(f"{owner}: got {len(embeddings)} embedding(s), expected at least two to compare")
    embs = [jnp.asarray(e, jnp.float32) for e in embeddings]
    shapes = {tuple(e.shape) for e in embs}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise DataError(f"{owner}: got shapes {sorted(shapes)}, expected equal (batch, dim) shapes")
    return embs


def consistency_loss(*embeddings: Any, mask: Any = None, metric: str = "cosine") -> jax.Array:
    """Mean distance between the paired embeddings of every pair of modalities (0 when they agree).

    ``metric="cosine"``: ``1 - cos(a_i, b_i)``; ``"mse"``: ``mean((a_i - b_i)^2)`` over the
    embedding.  Unlike InfoNCE it pulls each pair together without pushing other rows apart,
    the regulariser for a shared latent space.  ``mask`` ``(B, M)`` (presence, in argument
    order, e.g. ``ModalityDropout``'s ``modality_mask``) leaves out pairs where either side is
    absent; the mean is over the remaining (row, pair) entries, and 0 when none remain.
    Accepts ``consistency_loss(image_emb, text_emb, ...)`` or one dict of embeddings.
    """
    owner = "consistency_loss"
    if metric not in CONSISTENCY_METRICS:
        raise ConfigError(f"{owner}.metric: got {metric!r}, expected one of {list(CONSISTENCY_METRICS)}")
    embs = _embedding_list(owner, embeddings)
    batch = embs[0].shape[0]
    if mask is None:
        present = jnp.ones((batch, len(embs)), bool)
    else:
        present = jnp.asarray(mask).astype(bool)
        if present.shape != (batch, len(embs)):
            raise DataError(
                f"{owner}: mask has shape {tuple(present.shape)}, expected ({batch}, {len(embs)}): "
                "one presence flag per row and embedding"
            )
    total = jnp.zeros((), jnp.float32)
    count = jnp.zeros((), jnp.float32)
    for i, j in itertools.combinations(range(len(embs)), 2):
        a, b = embs[i], embs[j]
        if metric == "cosine":
            d = 1.0 - jnp.sum(l2_normalize(a) * l2_normalize(b), axis=-1)
        else:
            d = jnp.mean(jnp.square(a - b), axis=-1)
        w = (present[:, i] & present[:, j]).astype(jnp.float32)
        total = total + jnp.sum(d * w)
        count = count + jnp.sum(w)
    return total / jnp.maximum(count, 1.0)
