"""``SyntheticImageDataset``: patterns generated on demand from (seed, split, index)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from modalax.plugin import ConfigError, record_keys, unknown_name_message
from modalax_image.config import ImageModalityConfig, plain_int
from modalax_image.datasets import patterns
from modalax_image.datasets.base import GeneratedImageDataset, check_dataset_size

__all__ = ["SyntheticImageDataset"]


class SyntheticImageDataset(GeneratedImageDataset):
    """Synthetic images under ``images``: float32 ``(H, W, C)`` in [0, 1].

    Patterns:

    * ``random``: i.i.d. uniform pixels;
    * ``gradient``: a linear ramp along a random angle between two random colours;
    * ``checkerboard``: two random colours in square tiles of a random size;
    * ``circles``: ``num_circles`` filled discs with independent random centres, radii and
      colours on black.

    Record ``i`` is a pure function of (seed, split, i), vectorised and jitted over batches
    of indices; nothing is stored, so ``dataset_size`` may be huge and splits never share
    a sample.  Every channel count the config allows (1, 3, 4) is generated alike.
    """

    def __init__(
        self,
        config: ImageModalityConfig | None = None,
        dataset_size: int = 1000,
        pattern_type: str = "random",
        split: str = "train",
        *,
        seed: int | None = None,
        rngs: nnx.Rngs | int | None = None,
        num_circles: int = 3,
    ) -> None:
        owner = type(self).__name__
        num_circles = plain_int(num_circles)
        if pattern_type not in patterns.PATTERNS:
            raise ConfigError(
                f"{owner}.pattern_type: " + unknown_name_message("pattern", pattern_type, patterns.PATTERNS)
            )
        if isinstance(num_circles, bool) or not isinstance(num_circles, int) or not 1 <= num_circles <= 64:
            raise ConfigError(f"{owner}.num_circles: got {num_circles!r}, expected an int in [1, 64]")
        dataset_size = check_dataset_size(owner, dataset_size)
        self.pattern_type = pattern_type
        self.num_circles = num_circles
        super().__init__(config, dataset_size, split, seed=seed, rngs=rngs)

    _JITTED = (*GeneratedImageDataset._JITTED, "_params")

    def _compile(self) -> None:
        super()._compile()
        self._params = jax.jit(self._pattern_params)

    def _one_params(self, key: jax.Array) -> patterns.Params:
        return patterns.params(self.pattern_type, key, self.config.image_shape, self.num_circles)

    def generate_records(self, keys: jax.Array, indices: jax.Array) -> dict[str, jax.Array]:
        shape = self.config.image_shape

        def one(key: jax.Array) -> jax.Array:
            return patterns.render(self.pattern_type, self._one_params(key), shape)

        return {"images": jax.vmap(one)(keys)}

    def _pattern_params(self, indices: jax.Array) -> patterns.Params:
        return jax.vmap(self._one_params)(record_keys(self._key, indices))

    def pattern_parameters(self, indices: Any) -> patterns.Params:
        """The random parameters of records ``indices`` (angles, tile sizes, centres, ...)."""
        return self._params(jnp.asarray(indices, jnp.int32))
