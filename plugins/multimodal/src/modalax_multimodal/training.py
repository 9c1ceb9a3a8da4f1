"""A small, fast contrastive training loop: ``modalax.DataLoader`` + a few-line Adam.

Adam is written here on the nnx parameter state (no optimiser library), so training needs
nothing beyond jax and flax.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax.plugin import ConfigError
from modalax_multimodal.config import MultiModalConfig
from modalax_multimodal.evaluation import DEFAULT_KS, cross_modal_retrieval
from modalax_multimodal.models import MultiModalModel

__all__ = [
    "AdamState",
    "adam_init",
    "adam_update",
    "embed_dataset",
    "evaluate_retrieval",
    "model_fields",
    "train_contrastive",
]


class AdamState(NamedTuple):
    """Step count and first/second moment estimates, shaped like the parameters."""

    step: jax.Array
    mu: Any
    nu: Any


def adam_init(params: Any) -> AdamState:
    """Zero moments for ``params`` (any pytree)."""
    zeros = jax.tree.map(jnp.zeros_like, params)
    return AdamState(jnp.zeros((), jnp.int32), zeros, zeros)


def adam_update(
    params: Any, grads: Any, state: AdamState, lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> tuple[Any, AdamState]:
    """One bias-corrected Adam step; returns new parameters and state."""
    step = state.step + 1
    mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, grads)
    nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, grads)
    c1, c2 = 1 - b1 ** step.astype(jnp.float32), 1 - b2 ** step.astype(jnp.float32)
    new = jax.tree.map(lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + eps), params, mu, nu)
    return new, AdamState(step, mu, nu)


def model_fields(model: MultiModalModel, batch: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``batch`` that ``model`` reads (its modalities' batch keys)."""
    wanted = {k for _, keys in model.batch_keys for k in keys}
    return {k: v for k, v in batch.items() if k in wanted}


def train_contrastive(
    dataset: Any,
    steps: int = 300,
    batch_size: int = 64,
    *,
    seed: int = 0,
    learning_rate: float = 3e-3,
    embed_dim: int = 32,
    hidden_dim: int | None = None,
    temperature: float = 0.1,
    modalities: Sequence[str] | None = None,
    on_step: Callable[[int, jax.Array], None] | None = None,
) -> tuple[MultiModalModel, dict[str, list[float]]]:
    """Train a small ``MultiModalModel`` contrastively on ``dataset`` for ``steps`` batches.

    ``hidden_dim`` is the encoders' width (None: each modality pairing's default).  Batches
    come from ``modalax.DataLoader(dataset, batch_size, shuffle=True, seed=seed,
    drop_last=True, num_epochs=None)``.  Returns the model and ``{"loss": [per step]}``.
    ``on_step(step, loss)`` is called after every step (for a progress bar); ``loss`` is a jax
    scalar, and reading it waits for that step.
    """
    from modalax import DataLoader

    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise ConfigError(f"train_contrastive.steps: got {steps!r}, expected a positive int")
    base = getattr(dataset, "config", None)
    if not isinstance(base, MultiModalConfig):
        raise ConfigError(
            f"train_contrastive.dataset: got {type(dataset).__name__}, "
            "expected a MultiModalDataset (with a MultiModalConfig)"
        )
    mods = tuple(modalities) if modalities is not None else base.modalities
    if len(mods) < 2:
        raise ConfigError(f"train_contrastive.modalities: got {list(mods)}, expected at least two to align")
    heads = base.num_heads if embed_dim % base.num_heads == 0 else 1
    config = base.replace(modalities=mods, embed_dim=embed_dim, num_heads=heads)
    model = MultiModalModel(config, rngs=nnx.Rngs(seed), hidden_dim=hidden_dim, temperature=temperature)
    # flax types split's result as variadic; two filters give exactly three parts
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)  # type: ignore[misc]
    opt = adam_init(params)

    @jax.jit
    def step(params: Any, opt: AdamState, batch: dict[str, Any]) -> tuple[Any, AdamState, jax.Array]:
        def loss_of(p: Any) -> jax.Array:
            m = nnx.merge(graphdef, p, rest)
            return m.loss_fn(batch, m(batch))

        loss, grads = jax.value_and_grad(loss_of)(params)
        params, opt = adam_update(params, grads, opt, learning_rate)
        return params, opt, loss

    loader = DataLoader(dataset, batch_size, shuffle=True, seed=seed, drop_last=True, num_epochs=None, prefetch=0)
    losses = []
    for i, batch in enumerate(loader):
        if i >= steps:
            break
        params, opt, loss = step(params, opt, model_fields(model, batch))
        losses.append(loss)
        if on_step is not None:
            on_step(i, loss)
    nnx.update(model, params)
    return model, {"loss": [float(x) for x in jax.device_get(losses)]}


def embed_dataset(
    model: MultiModalModel, dataset: Any, num_samples: int = 512, chunk: int = 256
) -> dict[str, np.ndarray]:
    """Embeddings of records ``[0, num_samples)`` of ``dataset``, per modality of ``model``."""
    n = min(num_samples, len(dataset))
    forward = nnx.jit(lambda m, b: m.embed(b))
    parts: dict[str, list[np.ndarray]] = {m: [] for m in model.modalities}
    chunk = min(chunk, n)
    for lo in range(0, n, chunk):
        # equal chunk sizes (the last one padded): one compilation
        batch = dataset.get_records(np.arange(lo, lo + chunk, dtype=np.int32) % len(dataset))
        for m, e in forward(model, model_fields(model, batch)).items():
            parts[m].append(np.asarray(e)[: n - lo])
    return {m: np.concatenate(v) for m, v in parts.items()}


def evaluate_retrieval(
    model: MultiModalModel, dataset: Any, num_samples: int = 512, ks: Sequence[int] = DEFAULT_KS
) -> dict[str, dict[str, float]]:
    """Cross-modal recall@k of ``model`` on the first ``num_samples`` records of ``dataset`` (chance: k/N)."""
    return cross_modal_retrieval(embed_dataset(model, dataset, num_samples), ks)
