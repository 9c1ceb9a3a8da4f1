"""Fusion of several modalities into one representation: early, late and attention-based.

Every module takes one array per modality, with or without a leading batch axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from modalax.plugin import ConfigError, DataError
from modalax_multimodal.config import FusionStrategy

__all__ = ["EarlyFusion", "LateFusion", "MultiModalAttentionFusion", "build_fusion", "early_fusion", "late_fusion"]


def early_fusion(*features: Any, batched: bool = False) -> jax.Array:
    """Flatten each modality's raw features and concatenate them (float32).

    With ``batched=True`` the leading axis is kept: ``(B, ...)`` inputs give ``(B, F)``.
    """
    if not features:
        raise DataError("early_fusion: got no features, expected one array per modality")
    arrays = [jnp.asarray(f, jnp.float32) for f in features]
    if batched:
        sizes = {a.shape[0] for a in arrays}
        if len(sizes) != 1:
            raise DataError(f"early_fusion: batch sizes differ: {[a.shape for a in arrays]}")
        return jnp.concatenate([a.reshape(a.shape[0], -1) for a in arrays], axis=-1)
    return jnp.concatenate([a.reshape(-1) for a in arrays])


def _check_same(name: str, embeddings: Sequence[jax.Array]) -> None:
    shapes = {tuple(e.shape) for e in embeddings}
    if len(shapes) != 1:
        raise DataError(f"{name}: embeddings have shapes {[tuple(e.shape) for e in embeddings]}, expected one shape")


def late_fusion(
    embeddings: Sequence[Any],
    strategy: FusionStrategy | str = FusionStrategy.MEAN,
    weights: Sequence[float] | jax.Array | None = None,
) -> jax.Array:
    """Combine per-modality embeddings ``(..., D)``: ``concat`` (``(..., M*D)``), ``mean`` or ``weighted`` sum."""
    strategy = _late_strategy(strategy)
    embs = [jnp.asarray(e) for e in embeddings]
    if not embs:
        raise DataError("late_fusion: got no embeddings, expected one per modality")
    _check_same("late_fusion", embs)
    if strategy is FusionStrategy.CONCAT:
        return jnp.concatenate(embs, axis=-1)
    stacked = jnp.stack(embs, axis=-2)  # (..., M, D)
    if strategy is FusionStrategy.MEAN:
        return jnp.mean(stacked, axis=-2)
    if weights is None:
        raise ConfigError("late_fusion.weights: got None, expected one weight per modality for strategy 'weighted'")
    w = jnp.asarray(weights, stacked.dtype)
    if w.shape != (len(embs),):
        raise ConfigError(f"late_fusion.weights: got shape {w.shape}, expected ({len(embs)},)")
    return jnp.einsum("...md,m->...d", stacked, w)


def _late_strategy(strategy: Any) -> FusionStrategy:
    try:
        s = FusionStrategy(strategy) if not isinstance(strategy, FusionStrategy) else strategy
    except ValueError:
        s = None
    if s not in (FusionStrategy.CONCAT, FusionStrategy.MEAN, FusionStrategy.WEIGHTED):
        raise ConfigError(f"late fusion strategy: got {strategy!r}, expected 'concat', 'mean' or 'weighted'")
    return s


class EarlyFusion(nnx.Module):
    """Concatenate flattened raw features of each modality (batched) and project to ``output_dim``."""

    def __init__(self, input_dims: Sequence[int], output_dim: int, *, rngs: nnx.Rngs) -> None:
        if not input_dims or any(int(d) <= 0 for d in input_dims):
            raise ConfigError(f"EarlyFusion.input_dims: got {list(input_dims)}, expected positive flattened sizes")
        self.input_dims = tuple(int(d) for d in input_dims)
        self.proj = nnx.Linear(sum(self.input_dims), output_dim, rngs=rngs)

    def __call__(self, *features: jax.Array) -> jax.Array:
        fused = early_fusion(*features, batched=True)
        if fused.shape[-1] != sum(self.input_dims):
            raise DataError(f"EarlyFusion: flattened size {fused.shape[-1]}, expected {sum(self.input_dims)}")
        return self.proj(fused)


class LateFusion(nnx.Module):
    """Late fusion of ``num_modalities`` embeddings of size ``embed_dim``.

    ``weighted`` uses the given ``weights``, or learns them (softmax of trainable logits)
    when ``weights`` is None.
    """

    def __init__(
        self,
        num_modalities: int,
        embed_dim: int,
        strategy: FusionStrategy | str = FusionStrategy.MEAN,
        weights: Sequence[float] | None = None,
    ) -> None:
        self.strategy = _late_strategy(strategy)
        self.num_modalities = int(num_modalities)
        self.embed_dim = int(embed_dim)
        self.fixed_weights = None if weights is None else tuple(float(w) for w in weights)
        if self.fixed_weights is not None and len(self.fixed_weights) != self.num_modalities:
            raise ConfigError(f"LateFusion.weights: got {len(self.fixed_weights)}, expected {self.num_modalities}")
        learn = self.strategy is FusionStrategy.WEIGHTED and weights is None
        self.logits = nnx.Param(jnp.zeros((self.num_modalities,))) if learn else None

    @property
    def output_dim(self) -> int:
        """Size of the fused embedding."""
        return self.embed_dim * (self.num_modalities if self.strategy is FusionStrategy.CONCAT else 1)

    def modality_weights(self) -> jax.Array:
        """The weights of the weighted sum (sum to one when learnt)."""
        if self.fixed_weights is not None:
            return jnp.asarray(self.fixed_weights)
        if self.logits is not None:
            return jax.nn.softmax(self.logits[...])
        return jnp.full((self.num_modalities,), 1.0 / self.num_modalities)

    def __call__(self, *embeddings: jax.Array) -> jax.Array:
        if len(embeddings) != self.num_modalities:
            raise DataError(f"LateFusion: got {len(embeddings)} embeddings, expected {self.num_modalities}")
        weights = self.modality_weights() if self.strategy is FusionStrategy.WEIGHTED else None
        return late_fusion(embeddings, self.strategy, weights)


class MultiModalAttentionFusion(nnx.Module):
    """Multi-head self-attention over one token per modality, mean-pooled and projected.

    Each modality embedding ``(..., d_model)`` is a token; with ``num_modalities`` a learnt
    modality-type embedding is added so attention knows which token is which.  ``mask``
    (``(..., M)`` booleans) drops missing modalities from attention and pooling.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int = 4,
        *,
        num_modalities: int | None = None,
        dropout_rate: float = 0.0,
        rngs: nnx.Rngs,
    ) -> None:
        if d_model % num_heads:
            raise ConfigError(f"MultiModalAttentionFusion.num_heads: got {num_heads}, expected a divisor of {d_model}")
        self.d_model = d_model
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.query_proj = nnx.Linear(d_model, d_model, rngs=rngs)
        self.key_proj = nnx.Linear(d_model, d_model, rngs=rngs)
        self.value_proj = nnx.Linear(d_model, d_model, rngs=rngs)
        self.out_proj = nnx.Linear(d_model, d_model, rngs=rngs)
        init = nnx.initializers.normal(0.02)
        self.type_embed = nnx.Param(init(rngs.params(), (num_modalities, d_model))) if num_modalities else None
        self.dropout = nnx.Dropout(dropout_rate, rngs=rngs) if dropout_rate > 0 else None

    def _heads(self, x: jax.Array) -> jax.Array:
        return x.reshape(*x.shape[:-1], self.num_heads, self.head_dim)

    def attend(
        self, tokens: jax.Array, mask: jax.Array | None = None, *, deterministic: bool = True
    ) -> tuple[jax.Array, jax.Array]:
        """``tokens (..., M, d)`` -> (fused ``(..., d)``, attention weights ``(..., heads, M, M)``)."""
        if tokens.shape[-1] != self.d_model:
            raise DataError(f"MultiModalAttentionFusion: token size {tokens.shape[-1]}, expected {self.d_model}")
        if self.type_embed is not None:
            if tokens.shape[-2] != self.type_embed.shape[0]:
                raise DataError(
                    f"MultiModalAttentionFusion: got {tokens.shape[-2]} modalities, expected {self.type_embed.shape[0]}"
                )
            tokens = tokens + self.type_embed[...]
        q, k, v = (self._heads(p(tokens)) for p in (self.query_proj, self.key_proj, self.value_proj))
        scores = jnp.einsum("...qhd,...khd->...hqk", q, k) / jnp.sqrt(self.head_dim).astype(tokens.dtype)
        if mask is not None:
            scores = jnp.where(mask[..., None, None, :], scores, jnp.finfo(scores.dtype).min)
        weights = jax.nn.softmax(scores, axis=-1)
        if self.dropout is not None:
            weights = self.dropout(weights, deterministic=deterministic)
        attended = jnp.einsum("...hqk,...khd->...qhd", weights, v).reshape(tokens.shape)
        if mask is None:
            pooled = jnp.mean(attended, axis=-2)
        else:
            m = mask[..., None].astype(attended.dtype)
            pooled = jnp.sum(attended * m, axis=-2) / jnp.maximum(jnp.sum(m, axis=-2), 1.0)
        return self.out_proj(pooled), weights

    def __call__(self, *embeddings: jax.Array, mask: jax.Array | None = None, deterministic: bool = True) -> jax.Array:
        """Fuse one embedding per modality: ``fusion(image_emb, text_emb, audio_emb)``."""
        if not embeddings:
            raise DataError("MultiModalAttentionFusion: got no embeddings")
        _check_same("MultiModalAttentionFusion", embeddings)
        return self.attend(jnp.stack(embeddings, axis=-2), mask, deterministic=deterministic)[0]


def build_fusion(
    strategy: FusionStrategy | str,
    num_modalities: int,
    embed_dim: int,
    *,
    num_heads: int = 4,
    modalities: Sequence[str] | None = None,
    group_dim: int | None = None,
    fused_dim: int | None = None,
    rngs: nnx.Rngs,
) -> nnx.Module:
    """The fusion module of ``strategy`` for ``num_modalities`` embeddings of size ``embed_dim``.

    ``hierarchical`` fuses along ``default_tree(modalities)`` with inner nodes ``group_dim``
    wide and a ``fused_dim``-wide root (both default ``embed_dim``); it needs at least two
    modalities.
    """
    s = strategy if isinstance(strategy, FusionStrategy) else FusionStrategy(strategy)
    if s is FusionStrategy.HIERARCHICAL:
        from modalax_multimodal.cross_fusion import HierarchicalFusion

        names = tuple(modalities) if modalities is not None else tuple(f"m{i}" for i in range(num_modalities))
        return HierarchicalFusion(names, embed_dim, group_dim=group_dim, output_dim=fused_dim, rngs=rngs)
    if s is FusionStrategy.ATTENTION:
        return MultiModalAttentionFusion(embed_dim, num_heads, num_modalities=num_modalities, rngs=rngs)
    if s is FusionStrategy.EARLY:
        return EarlyFusion([embed_dim] * num_modalities, embed_dim, rngs=rngs)
    return LateFusion(num_modalities, embed_dim, s)
