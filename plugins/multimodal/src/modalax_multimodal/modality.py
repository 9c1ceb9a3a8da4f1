"""``MultiModalModality``: the ``multimodal`` modality (``Modality`` protocol, seed 01)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax.plugin import ConfigError, DataError, GenerativeModel
from modalax_multimodal.adapters import adapter_for
from modalax_multimodal.checks import check_finite, is_traced
from modalax_multimodal.config import DATA_KEYS, MultiModalConfig
from modalax_multimodal.datasets import MultiModalDataset
from modalax_multimodal.encoders import build_encoders, modality_inputs
from modalax_multimodal.features import modality_features
from modalax_multimodal.fusion import build_fusion

__all__ = ["MultiModalModality"]

#: Rank of one unbatched sample of each modality.
_SAMPLE_RANK = {"image": 3, "text": 1, "audio": 1}


def _is_single(modality: str, x: jax.Array) -> bool:
    rank = _SAMPLE_RANK[modality]
    if x.ndim not in (rank, rank + 1):
        wanted = {"image": "(H, W, C) or (N, H, W, C)", "text": "(L,) or (N, L)", "audio": "(T,) or (N, T)"}
        raise DataError(
            f"MultiModalModality.process[{modality!r}]: got shape {tuple(x.shape)}, expected {wanted[modality]}"
        )
    return x.ndim == rank


def _check_tokens(tokens: jax.Array, vocab_size: int) -> None:
    if not jnp.issubdtype(tokens.dtype, jnp.integer):
        raise DataError(f"MultiModalModality.process['text']: got dtype {tokens.dtype}, expected integer token ids")
    if is_traced(tokens) or tokens.size == 0:
        return
    ids = np.asarray(tokens)
    bad = np.flatnonzero(((ids < 0) | (ids >= vocab_size)).any(axis=-1))
    if bad.size:
        row = ids[bad[0]]
        value = int(row[(row < 0) | (row >= vocab_size)][0])
        raise DataError(
            f"MultiModalModality.process['text']: sample {int(bad[0])} holds token id {value}; "
            f"expected ids in [0, text_vocab_size={vocab_size})"
        )


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
        """Fixed, untrained features of each modality (see ``features.py``).

        ``data`` is a batch (``image (N, H, W, C)``, ``text (N, L)``, ``audio (N, T)``) or one
        unbatched sample (``image (H, W, C)``, ``text (L,)``, ``audio (T,)``), which is processed
        as a batch of one and returned without the batch axis, as the image and audio modalities
        do.  Mixed ranks, unequal batch sizes, empty batches, NaN/inf and token ids outside
        ``[0, text_vocab_size)`` are a ``DataError`` naming the field.
        """
        if not isinstance(data, Mapping):
            raise DataError(f"MultiModalModality.process: got {type(data).__name__}, expected a dict of modalities")
        inputs = modality_inputs(data)
        if not inputs:
            raise DataError(
                f"MultiModalModality.process: no modality in keys {sorted(data)}; expected any of {dict(DATA_KEYS)}"
            )
        single = {m: _is_single(m, x) for m, x in inputs.items()}
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
        for m, x in batch.items():
            check_finite(f"MultiModalModality.process[{m!r}]", x)
        if "text" in batch:
            _check_tokens(batch["text"], self.config.text_vocab_size)
        out = {m: modality_features(batch, m, vocab_size=self.config.text_vocab_size) for m in batch}
        return {m: v[0] for m, v in out.items()} if one else out

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
