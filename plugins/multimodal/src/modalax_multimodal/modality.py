"""``MultiModalModality``: the ``multimodal`` modality (the ``Modality`` protocol)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax.plugin import ConfigError, DataError, GenerativeModel, ModalityPairing
from modalax_multimodal.adapters import adapter_for
from modalax_multimodal.checks import check_finite
from modalax_multimodal.config import MultiModalConfig
from modalax_multimodal.datasets import MultiModalDataset
from modalax_multimodal.encoders import build_encoders
from modalax_multimodal.fusion import build_fusion
from modalax_multimodal.pairings import modality_inputs

__all__ = ["MultiModalModality"]


def _is_single(modality: str, pairing: ModalityPairing, x: jax.Array) -> bool:
    rank = len(pairing.sample_shape)
    if x.ndim not in (rank, rank + 1):
        one = tuple(pairing.sample_shape)
        raise DataError(
            f"MultiModalModality.process[{modality!r}]: got shape {tuple(x.shape)}, expected one sample "
            f"{one} or a batch (N, {', '.join(map(str, one))})"
        )
    return x.ndim == rank


class MultiModalModality(GenerativeModel):
    """Aligned data of any pairable modalities: generation, fixed features, fusion extensions and adapters."""

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
        """Fixed, untrained features of each modality (each pairing's ``features``).

        ``data`` is a batch (``image (N, H, W, C)``, ``text (N, L)``, ``audio (N, T)``, under
        any of each pairing's batch keys) or one unbatched sample (``image (H, W, C)``, ...),
        which is processed as a batch of one and returned without the batch axis, as the image
        and audio modalities do.  Mixed ranks, unequal batch sizes, empty batches, NaN/inf and
        data a pairing rejects (token ids outside the vocabulary) are a ``DataError`` naming the
        field.
        """
        if not isinstance(data, Mapping):
            raise DataError(f"MultiModalModality.process: got {type(data).__name__}, expected a dict of modalities")
        pairings = self.config.pairings()
        keys = {m: p.batch_keys for m, p in pairings.items()}
        inputs = {m: jnp.asarray(x) for m, x in modality_inputs(data, keys).items()}
        if not inputs:
            raise DataError(f"MultiModalModality.process: no modality in keys {sorted(data)}; expected any of {keys}")
        single = {m: _is_single(m, pairings[m], x) for m, x in inputs.items()}
        if len(set(single.values())) > 1:
            ranks = {m: tuple(x.shape) for m, x in inputs.items()}
            raise DataError(
                f"MultiModalModality.process: got shapes {ranks}, a mix of one sample and a batch; "
                "expected all batched (leading sample axis) or all one unbatched sample"
            )
        one = next(iter(single.values()))
        batch = {m: x[None] for m, x in inputs.items()} if one else inputs
        sizes = {m: int(x.shape[0]) for m, x in batch.items()}
        if len(set(sizes.values())) > 1:
            raise DataError(f"MultiModalModality.process: batch sizes differ: {sizes}; expected one size for all")
        if 0 in sizes.values():
            raise DataError(f"MultiModalModality.process: got empty batches {sizes}; expected at least one sample")
        out = {}
        for m, x in batch.items():
            owner = f"MultiModalModality.process[{m!r}]"
            check_finite(owner, x)
            try:
                out[m] = pairings[m].features(x)
            except DataError as exc:
                raise DataError(f"{owner}: {exc}") from exc
        return {m: v[0] for m, v in out.items()} if one else out

    def loss_fn(self, batch: Any, model_outputs: Any, **kwargs: Any) -> jax.Array:
        """Squared distance between the batch's latent and predicted latents, averaged."""
        return jnp.mean((jnp.asarray(model_outputs) - batch["latent"]) ** 2)

    def get_extensions(self, config: Any, *, rngs: nnx.Rngs) -> dict[str, Any]:
        """``{"encoders": {...}, "fusion": module}`` sized by ``config`` (a ``MultiModalConfig``, or this one)."""
        cfg = config if isinstance(config, MultiModalConfig) else self.config
        fusion = build_fusion(
            cfg.fusion,
            len(cfg.modalities),
            cfg.embed_dim,
            num_heads=cfg.num_heads,
            modalities=cfg.modalities,
            group_dim=cfg.group_dim,
            fused_dim=cfg.fused_dim,
            rngs=rngs,
        )
        return {"encoders": build_encoders(cfg, rngs=rngs), "fusion": fusion}

    def get_adapter(self, model_cls: type) -> Any:
        """The adapter that builds ``model_cls`` (``MultiModalModel`` or a cross-modal generator)."""
        return adapter_for(model_cls)
