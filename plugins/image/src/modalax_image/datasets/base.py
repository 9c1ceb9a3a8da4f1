"""``ImageDataset``: the base of image datasets (batches under ``images``, plus ``labels``)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from modalax.plugin import BaseDataset, ConfigError, SyntheticDataset, record_keys, resolve_rngs
from modalax_image.config import ImageModalityConfig, plain_int

__all__ = ["GeneratedImageDataset", "ImageDataset", "resolve_config"]

MAX_DATASET_SIZE = 2**31 - 1  # record indices are int32


def resolve_config(owner: str, config: Any, default: ImageModalityConfig) -> ImageModalityConfig:
    """``config`` itself, ``default`` for None, a dict through ``from_dict``; else ``ConfigError``."""
    if config is None:
        return default
    if isinstance(config, dict):
        return ImageModalityConfig.from_dict(config)
    if not isinstance(config, ImageModalityConfig):
        raise ConfigError(f"{owner}.config: got {type(config).__name__}, expected an ImageModalityConfig or None")
    return config


class ImageDataset(BaseDataset):
    """Base of image datasets.

    Records are ``{"images": float32 (H, W, C) in [0, 1]}`` plus ``"labels"`` (int32) for
    labelled datasets; ``ImageModality.process`` maps them to the model's range.
    """

    config: ImageModalityConfig

    def __init__(
        self,
        config: ImageModalityConfig | None = None,
        split: str = "train",
        *,
        seed: int | None = None,
        rngs: nnx.Rngs | int | None = None,
    ) -> None:
        owner = type(self).__name__
        config = resolve_config(owner, config, self.default_config())
        super().__init__(config, split, rngs=resolve_rngs(f"{owner}.rngs", rngs, seed))

    @classmethod
    def default_config(cls) -> ImageModalityConfig:
        """The configuration used when ``config`` is None."""
        return ImageModalityConfig()

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` of the records."""
        return self.config.image_shape


def check_dataset_size(owner: str, dataset_size: Any) -> int:
    """``dataset_size`` as a Python int (numpy ints accepted) that fits int32 record indices."""
    dataset_size = plain_int(dataset_size)
    if isinstance(dataset_size, bool) or not isinstance(dataset_size, int) or not 0 < dataset_size <= MAX_DATASET_SIZE:
        raise ConfigError(f"{owner}.dataset_size: got {dataset_size!r}, expected an int in [1, {MAX_DATASET_SIZE}]")
    return dataset_size


class GeneratedImageDataset(SyntheticDataset, ImageDataset):
    """Base of the generated image datasets: record keys are folded inside the jitted call.

    ``SyntheticDataset.get_records`` folds the per-record keys eagerly (one small compile per
    new batch size and a few dispatches per call); folding them in the same jitted function
    as ``generate_records`` makes a call one dispatch.  The randomness comes from ``seed=``
    (an int) or ``rngs=`` (``nnx.Rngs`` or an int), not both; neither is seed 0.
    """

    def __init__(
        self,
        config: ImageModalityConfig | None = None,
        dataset_size: int = 1000,
        split: str = "train",
        *,
        seed: int | None = None,
        rngs: nnx.Rngs | int | None = None,
    ) -> None:
        rngs = resolve_rngs(f"{type(self).__name__}.rngs", rngs, seed)
        # SyntheticDataset's __init__ calls on to ImageDataset's (the MRO), which resolves the config.
        SyntheticDataset.__init__(self, config, dataset_size, split, rngs=rngs)
        self._compile()

    def _compile(self) -> None:
        """Create the jitted functions (again after unpickling: compiled functions do not pickle)."""
        self._generate_at = jax.jit(lambda key, idx: self.generate_records(record_keys(key, idx), idx))
        self._generate = self._generate_at  # core's name for it; same numbers

    def get_records(self, indices: Any) -> dict[str, jax.Array]:
        return self._generate_at(self._key, jnp.asarray(self.checked_indices(indices), jnp.int32))

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        return {k: v for k, v in state.items() if k not in self._JITTED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._compile()

    #: Attributes holding jitted functions, left out of the pickled state and rebuilt.
    _JITTED: tuple[str, ...] = ("_generate", "_generate_at")
