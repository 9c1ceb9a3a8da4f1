"""``PackedAudioDataset``: audio packed by ``modalax.pack``, decoded like the folder's.

A packed audio folder holds each file's encoded bytes (FLAC, WAV, OGG, ... as they were);
records are decoded by ``AudioDecoding`` with the decode options stored in the index, so values
equal reading the folder. Generated audio is packed as its arrays.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from modalax.plugin import PackedDataset, PackedIndex, check_type
from modalax_audio.config import AudioModalityConfig
from modalax_audio.datasets.base import AudioDataset
from modalax_audio.datasets.folder import AudioDecoding

__all__ = ["PackedAudioDataset"]


class PackedAudioDataset(AudioDecoding, PackedDataset, AudioDataset):
    """Audio records of a packed folder (``create_dataset("audio", "packed", root=DIR)``).

    ``PackedAudioDataset(config=None, root=None, split="train", *, name=..., seed=None,
    rngs=None, num_threads=None)``. ``config`` defaults to the one the data was packed with;
    another rate or duration decodes packed files to it (stored arrays must already match it).
    Records hold ``audio``, ``length``, ``source_sample_rate`` and the stored fields
    (``labels``); batches also carry the ``sample_rate``, as the folder dataset's do. The 0.2
    order ``PackedAudioDataset(root, config)`` still works, with a ``DeprecationWarning``.
    """

    def __init__(
        self,
        config: AudioModalityConfig | Mapping[str, Any] | None = None,
        root: str | os.PathLike[str] | None = None,
        split: str = "train",
        *,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(config, str | os.PathLike) and isinstance(root, AudioModalityConfig | Mapping):
            warnings.warn(
                "PackedAudioDataset(root, config) is deprecated: the config comes first; use "
                "PackedAudioDataset(config, root) or PackedAudioDataset(root=path, config=config)",
                DeprecationWarning,
                stacklevel=2,
            )
            config, root = root, config
        PackedDataset.__init__(self, config, root, split, **kwargs)
        self.name = type(self).__name__ if name is None else check_type(type(self).__name__, "name", name, str, "a str")

    def check_fields(self, index: PackedIndex) -> None:
        hint = "stored clips are not resampled: pack with this config"
        self.expect_array(index, "audio", (self.config.n_time_steps,), "<f4", hint)

    def get_records(self, indices: Any) -> dict[str, Any]:
        """Decoded records plus the ``sample_rate`` (an int shared by the batch), as the folder's."""
        batch = super().get_records(indices)
        return {**batch, **self.host_records(np.asarray(indices))}
