"""Small operators used by the core tests (the real ones live in the plugins)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from modalax import ModalityOperator, ModalityOperatorConfig


@dataclass(frozen=True, eq=False)
class ShiftConfig(ModalityOperatorConfig):
    delta: float = 0.25


class Shift(ModalityOperator):
    """x + delta, or x + U(-delta, delta) per record when stochastic."""

    def transform(self, x: jax.Array, random_params: Any, stats: Any) -> jax.Array:
        return x + (random_params if self.stochastic else self.config.delta)

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> jax.Array:
        n = data_shapes[self.config.field_key][0]
        return jax.random.uniform(rng, (n,), minval=-self.config.delta, maxval=self.config.delta)


class Flip(ModalityOperator):
    """Horizontal flip of an (H, W) field with probability 1/2; masks follow."""

    def transform(self, x: jax.Array, random_params: Any, stats: Any) -> jax.Array:
        return jnp.where(random_params, x[:, ::-1], x)

    def transform_auxiliary(self, x: jax.Array, random_params: Any, stats: Any, key: str) -> jax.Array:
        return self.transform(x, random_params, stats)

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> jax.Array:
        return jax.random.bernoulli(rng, 0.5, (data_shapes[self.config.field_key][0],))


class Standardize(ModalityOperator):
    """(x - mean) / std with statistics given, precomputed or computed from the batch."""

    def transform(self, x: jax.Array, random_params: Any, stats: Any) -> jax.Array:
        return (x - stats["mean"]) / stats["std"]


class Crop(ModalityOperator):
    """Keep the first two columns: a shape-changing operator."""

    def transform(self, x: jax.Array, random_params: Any, stats: Any) -> jax.Array:
        return x[..., :2]


class LearnedScale(ModalityOperator):
    """x * w with a learnable parameter."""

    def __init__(self, config: ModalityOperatorConfig, *, rngs: nnx.Rngs | None = None, name: str | None = None):
        super().__init__(config, rngs=rngs, name=name)
        self.w = nnx.Param(jnp.full((3,), 2.0))

    def transform(self, x: jax.Array, random_params: Any, stats: Any) -> jax.Array:
        return x * self.w[...]
