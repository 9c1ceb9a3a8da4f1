"""The heavy part: modality, adapter, dataset, kernel and operator (imported on first use).

The modality's ``pairing`` classmethod (the pairing protocol, ``pairing.py``) is what lets
``modalax-multimodal`` pair time series with images, text, audio or any other modality.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

import modalax
from modalax.plugin import (
    BaseModelAdapter,
    ConfigError,
    ModalityOperator,
    ModalityOperatorConfig,
    pairwise_mean,
    resolve_rngs,
)
from modalax_timeseries.config import TimeSeriesConfig
from modalax_timeseries.pairing import TimeSeriesPairing


def zscore(x: jax.Array, eps: float = 1e-6) -> jax.Array:
    """Normalise each series of a ``(batch, length, channels)`` array to mean 0, std 1.

    Statistics are summed pairwise, so a series gets the same bits in any batch.
    """
    mean = pairwise_mean(x, 1, keepdims=True)
    std = jnp.sqrt(pairwise_mean(jnp.square(x - mean), 1, keepdims=True))
    return (x - mean) / (std + eps)


def zscore_example() -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Three series of different scales: the conformance kit's batch-independence check of ``zscore``."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, (3, 32, 2)).astype(np.float32) * np.array([1.0, 10.0, 0.1], np.float32)[:, None, None]
    return (x,), {}


class TimeSeriesAdapter(BaseModelAdapter):
    """Builds ``model_cls(model_config, output_shape=(length, channels), rngs=...)`` (the adapter contract)."""

    config_class = TimeSeriesConfig
    config: TimeSeriesConfig

    def create(self, config: Any = None, *, rngs: nnx.Rngs, **kwargs: Any) -> Any:
        """Build the model for series of the configured shape; ``config=None`` is not passed on."""
        args = () if config is None else (config,)
        shape = (self.config.length, self.config.channels)
        return self.model_cls(*args, output_shape=shape, rngs=rngs, **kwargs)


class TimeSeriesModality(modalax.GenerativeModel):
    """The modality object: shapes and adapters."""

    name = "timeseries"

    @classmethod
    def pairing(cls, **options: Any) -> TimeSeriesPairing:
        """Time series in multimodal data: ``TimeSeriesPairing(length=, channels=, noise=)``."""
        return TimeSeriesPairing(**options)

    def __init__(self, config: TimeSeriesConfig | None = None, *, rngs: nnx.Rngs) -> None:
        self.config = config or TimeSeriesConfig()

    @property
    def output_shape(self) -> tuple[int, int]:
        """(length, channels)."""
        return (self.config.length, self.config.channels)

    def get_extensions(self, config: Any, *, rngs: nnx.Rngs) -> dict[str, Any]:
        """No extensions."""
        return {}

    def get_adapter(self, model_cls: type) -> TimeSeriesAdapter:
        """An adapter that builds ``model_cls`` for series of this modality's shape."""
        return TimeSeriesAdapter(model_cls, self.config)


class SyntheticSeriesDataset(modalax.SyntheticDataset):
    """Record i: a sum of two sinusoids with random frequency and phase, plus noise."""

    config: TimeSeriesConfig

    def __init__(
        self,
        config: TimeSeriesConfig | None = None,
        split: str = "train",
        *,
        dataset_size: int = 1000,
        seed: int | None = None,
        rngs: nnx.Rngs | int | None = None,
    ) -> None:
        owner = "SyntheticSeriesDataset"
        if config is not None and not isinstance(config, TimeSeriesConfig):
            raise ConfigError(f"{owner}.config: got {type(config).__name__}, expected a TimeSeriesConfig or None")
        rngs = resolve_rngs(f"{owner}.rngs", rngs, seed)
        super().__init__(config or TimeSeriesConfig(), dataset_size, split, rngs=rngs)

    def generate_records(self, keys: jax.Array, indices: jax.Array) -> dict[str, jax.Array]:
        cfg = self.config
        t = jnp.arange(cfg.length) / cfg.length

        def one(key: jax.Array) -> jax.Array:
            kf, kp, kn = jax.random.split(key, 3)
            freq = jax.random.uniform(kf, (2, cfg.channels), minval=1.0, maxval=8.0)
            phase = jax.random.uniform(kp, (2, cfg.channels), maxval=2 * jnp.pi)
            clean = jnp.sin(2 * jnp.pi * freq[:, None, :] * t[None, :, None] + phase[:, None, :]).sum(0)
            return clean + 0.1 * jax.random.normal(kn, (cfg.length, cfg.channels))

        return {"series": jax.vmap(one)(keys)}


@dataclass(frozen=True, eq=False)
class JitterConfig(ModalityOperatorConfig):
    """Gaussian jitter of standard deviation ``sigma``, drawn per record from the ``augment`` stream."""

    stochastic: bool = True
    stream_name: str | None = "augment"
    field_key: str = field(default="series", kw_only=True)
    sigma: float = 0.05


class Jitter(ModalityOperator):
    """Add N(0, sigma^2) noise to every time step, drawn per record."""

    config: JitterConfig
    element_ndim = 2
    element_axes = "(length, channels)"

    def transform(self, x: jax.Array, random_params: Any, stats: Any) -> jax.Array:
        return x + self.config.sigma * jax.random.normal(random_params, x.shape)

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> jax.Array:
        return jax.random.split(rng, data_shapes[self.config.field_key][0])
