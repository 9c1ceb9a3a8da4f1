"""``MultiModalModel``: per-modality encoders, a fusion module and a contrastive objective."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from modalax.plugin import GenerativeModel
from modalax_multimodal.config import MultiModalConfig
from modalax_multimodal.cross_fusion import HierarchicalFusion
from modalax_multimodal.encoders import build_encoders
from modalax_multimodal.fusion import build_fusion
from modalax_multimodal.losses import contrastive_loss, l2_normalize
from modalax_multimodal.pairings import modality_inputs

__all__ = ["MultiModalModel"]


class MultiModalModel(GenerativeModel):
    """Encode each modality to a shared space, align them contrastively, fuse them.

    Encoders come from each modality's pairing (``pairing.encoder``); ``hidden_dim`` sets their
    width (None: each pairing's default).  ``model(batch)`` returns ``{"embeddings": {modality:
    (B, D) unit vectors}, "fused": (B, D')}``; ``loss_fn(batch, outputs)`` is the symmetric
    InfoNCE loss averaged over modality pairs.
    """

    def __init__(
        self,
        config: MultiModalConfig,
        *,
        rngs: nnx.Rngs,
        modalities: Sequence[str] | None = None,
        hidden_dim: int | None = None,
        temperature: float = 0.1,
        encoders: Mapping[str, nnx.Module] | None = None,
    ) -> None:
        self.config = config
        built = (
            dict(encoders)
            if encoders is not None
            else build_encoders(config, rngs=rngs, hidden_dim=hidden_dim, modalities=modalities)
        )
        self.modalities = tuple(built)
        # batch keys of each modality (its pairing's field first), a static tuple of tuples
        self.batch_keys = tuple((m, config.pairing(m).batch_keys) for m in self.modalities)
        self.encoders = nnx.Dict(built)
        self.fusion = build_fusion(
            config.fusion,
            len(self.modalities),
            config.embed_dim,
            num_heads=config.num_heads,
            modalities=self.modalities,
            group_dim=config.group_dim,
            fused_dim=config.fused_dim,
            rngs=rngs,
        )
        self.temperature = float(temperature)

    def inputs(self, batch: Mapping[str, Any]) -> dict[str, jax.Array]:
        """``{modality: array}`` of this model's modalities, found under their batch keys."""
        found = modality_inputs(batch, dict(self.batch_keys), required=self.modalities)
        return {m: jnp.asarray(x) for m, x in found.items()}

    def embed(self, batch: Mapping[str, Any]) -> dict[str, jax.Array]:
        """Unit-norm embeddings ``{modality: (B, D)}`` of the modalities of this model."""
        inputs = self.inputs(batch)
        return {m: l2_normalize(self.encoders[m](inputs[m])) for m in self.modalities}

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        embeddings = self.embed(batch)
        if isinstance(self.fusion, HierarchicalFusion):  # takes them by name, in its tree
            return {"embeddings": embeddings, "fused": self.fusion(embeddings)}
        return {"embeddings": embeddings, "fused": self.fusion(*embeddings.values())}

    def loss_fn(self, batch: Any, model_outputs: Any, **kwargs: Any) -> jax.Array:
        """Symmetric InfoNCE averaged over every pair of modalities."""
        if len(self.modalities) < 2:
            return jnp.zeros(())
        return contrastive_loss(model_outputs["embeddings"], temperature=kwargs.get("temperature", self.temperature))
