"""``GenerativeModel``: the nnx base of models and modalities."""

from __future__ import annotations

from typing import Any

import jax
from flax import nnx


class GenerativeModel(nnx.Module):
    """An nnx module that can ``generate`` samples and score a batch with ``loss_fn``."""

    def generate(self, n_samples: int = 1, *, rngs: nnx.Rngs | None = None, **kwargs: Any) -> Any:
        """Draw ``n_samples`` samples."""
        raise NotImplementedError(f"{type(self).__name__}.generate is not implemented")

    def loss_fn(self, batch: Any, model_outputs: Any, **kwargs: Any) -> jax.Array:
        """A scalar loss of ``model_outputs`` against ``batch``."""
        raise NotImplementedError(f"{type(self).__name__}.loss_fn is not implemented")
