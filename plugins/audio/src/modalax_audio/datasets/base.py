"""``AudioDataset``, the base of every audio dataset, and the argument checks they share.

Kept apart from the concrete datasets so that ``datasets`` (synthetic, the factory) and
``folder`` (files) both import it and not each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax.plugin import BaseDataset, ConfigError
from modalax_audio.config import AudioModalityConfig, check_config

__all__ = ["AudioDataset", "check_config"]

Batch = dict[str, Any]


class AudioDataset(BaseDataset):
    """Base of audio datasets: records hold ``audio`` ``(n_time_steps,)`` float32 at ``config.sample_rate``."""

    config: AudioModalityConfig
    name: str

    def __init__(
        self,
        config: AudioModalityConfig | None = None,
        split: str = "train",
        *,
        rngs: nnx.Rngs | int | None = None,
        name: str | None = None,
    ) -> None:
        BaseDataset.__init__(self, check_config(config, type(self).__name__), split, rngs=rngs)
        self.name = name or type(self).__name__

    @property
    def sample_rate(self) -> int:
        """Sample rate of every clip (Hz)."""
        return self.config.sample_rate

    @property
    def n_time_steps(self) -> int:
        """Samples per clip."""
        return self.config.n_time_steps

    def host_records(self, indices: Any) -> dict[str, Any]:
        """Non-array fields the loader attaches to batches: the ``sample_rate`` (an int)."""
        return {"sample_rate": self.sample_rate}

    def collate_fn(self, batch: Sequence[Batch]) -> Batch:
        """Stack samples (``self[i]`` dicts) into a batch; strings become lists."""
        if not batch:
            raise ConfigError(f"{self.name}.collate_fn: got an empty list, expected at least one sample")
        out: Batch = {}
        for key in batch[0]:
            values = [sample[key] for sample in batch]
            if isinstance(values[0], str):
                out[key] = values
            elif isinstance(values[0], int) and not isinstance(values[0], bool):
                out[key] = values[0] if len(set(values)) == 1 else np.asarray(values, np.int32)
            else:
                out[key] = jnp.stack([jnp.asarray(v) for v in values])
        return out

    def get_data_statistics(self) -> dict[str, Any]:
        stats = super().get_data_statistics()
        stats.update({"name": self.name, "sample_rate": self.sample_rate, "duration": self.config.duration})
        return stats
