"""``MultiModalModality``: the ``multimodal`` modality (``Modality`` protocol, seed 01)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax.errors import ConfigError
from modalax.model import GenerativeModel
from modalax_multimodal.adapters import adapter_for
from modalax_multimodal.config import MultiModalConfig
from modalax_multimodal.datasets import MultiModalDataset
from modalax_multimodal.encoders import build_encoders, modality_inputs
from modalax_multimodal.features import modality_features
from modalax_multimodal.fusion import build_fusion

__all__ = ["MultiModalModality"]


class MultiModalModality(GenerativeModel):
    """Aligned image/text/audio data: generation, fixed features, fusion extensions and adapters."""

    name = "multimodal"

    def __init__(self, config: MultiModalConfig | None = None, *, rngs: nnx.Rngs) -> None:
        if config is not None and not isinstance(config, MultiModalConfig):
            raise ConfigError(f"MultiModalModality.config: got {type(config).__name__}, expected MultiModalConfig")
        self.config = config or MultiModalConfig()
        self.rngs = rngs

    @property
    def modalities(self) -> tuple[str, ...]:
        """The modalities of each sample."""
        return self.config.modalities

    def generate(self, n_samples: int = 1, *, rngs: nnx.Rngs | None = None, **kwargs: Any) -> dict[str, jax.Array]:
        """``n_samples`` fresh aligned samples (a batch dict), drawn from ``rngs`` (or the modality's own)."""
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples <= 0:
            raise ConfigError(f"generate.n_samples: got {n_samples!r}, expected a positive int")
        source = rngs if rngs is not None else self.rngs
        seed = int(jax.random.randint(source(), (), 0, 2**31 - 1))
        dataset = MultiModalDataset(num_samples=n_samples, rngs=seed, config=self.config)
        return dataset.get_records(np.arange(n_samples, dtype=np.int32))

    def process(self, data: Any, **kwargs: Any) -> dict[str, jax.Array]:
        """Fixed, untrained features of each modality in a batch (see ``features.py``)."""
        inputs = modality_inputs(data)
        return {m: modality_features(inputs, m, vocab_size=self.config.text_vocab_size) for m in inputs}

    def loss_fn(self, batch: Any, model_outputs: Any, **kwargs: Any) -> jax.Array:
        """Squared distance between the batch's latent and predicted latents, averaged."""
        return jnp.mean((jnp.asarray(model_outputs) - batch["latent"]) ** 2)

    def get_extensions(self, config: Any, *, rngs: nnx.Rngs) -> dict[str, Any]:
        """``{"encoders": {...}, "fusion": module}`` sized by ``config`` (a ``MultiModalConfig``, or this one)."""
        cfg = config if isinstance(config, MultiModalConfig) else self.config
        return {
            "encoders": build_encoders(cfg, rngs=rngs),
            "fusion": build_fusion(cfg.fusion, len(cfg.modalities), cfg.embed_dim, num_heads=cfg.num_heads, rngs=rngs),
        }

    def get_adapter(self, model_cls: type) -> Any:
        """The adapter that builds ``model_cls`` (``MultiModalModel`` or a cross-modal generator)."""
        return adapter_for(model_cls)
