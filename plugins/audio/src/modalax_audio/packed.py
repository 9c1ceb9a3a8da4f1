"""``PackedAudioDataset``: audio packed by ``modalax.pack``, decoded by ``decode_audio``.

A packed audio folder holds each file's encoded bytes (FLAC, WAV, OGG, ... as they were);
records are decoded with the same ``decode_audio`` call (soundfile, soxr, the config's
duration) as ``AudioFolderDataset``, so values equal reading the folder. Generated audio is
packed as its arrays.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from flax import nnx

from modalax.plugin import DataError, PackedDataset, PackedIndex
from modalax_audio.config import AudioModalityConfig
from modalax_audio.datasets.base import AudioDataset
from modalax_audio.decode import audio_extensions, decode_audio

__all__ = ["PackedAudioDataset"]


class PackedAudioDataset(PackedDataset, AudioDataset):
    """Audio records of a packed folder (``create_dataset("audio", "packed", root=DIR)``).

    ``config`` defaults to the one the data was packed with; another rate or duration decodes
    packed files to it (stored arrays must already match it). Records hold ``audio``,
    ``length``, ``source_sample_rate`` and the stored fields (``labels``); batches also carry
    the ``sample_rate``, as the folder dataset's do.
    """

    modality = "audio"

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        config: AudioModalityConfig | dict[str, Any] | None = None,
        split: str = "train",
        *,
        rngs: nnx.Rngs | int | None = None,
        num_threads: int | None = None,
    ) -> None:
        super().__init__(root, config, split, rngs=rngs, num_threads=num_threads)
        decode = self.index.decode
        self.encoded_field: str | None = decode.get("field")
        self.resample = bool(decode.get("resample", True))
        self.class_names: list[str] = list(self.index.metadata.get("class_names", []))

    @classmethod
    def config_from_index(cls, index: PackedIndex) -> AudioModalityConfig | None:
        return None if index.config is None else AudioModalityConfig.from_dict(index.config)

    @classmethod
    def file_extensions(cls) -> tuple[str, ...]:
        """Extensions of the files a folder of this modality holds (for ``modalax pack FOLDER``)."""
        return audio_extensions()

    def check_fields(self, index: PackedIndex) -> None:
        hint = "stored clips are not resampled: pack with this config"
        self.expect_array(index, "audio", (self.config.n_time_steps,), "<f4", hint)

    def decode_fields(self, record: dict[str, Any], where: str) -> dict[str, Any]:
        field = self.encoded_field
        if field is None or field not in record:
            return record
        raw = record.pop(field)
        if not isinstance(raw, bytes):
            raise DataError(f"field {field!r} is {type(raw).__name__}, expected the encoded file's bytes")
        return {**record, **decode_audio(raw, self.config, resample=self.resample, name="the packed file")}

    def get_records(self, indices: Any) -> dict[str, Any]:
        """Decoded records plus the ``sample_rate`` (an int shared by the batch), as the folder's."""
        batch = super().get_records(indices)
        return {**batch, **self.host_records(np.asarray(indices))}

    @classmethod
    def pack_metadata(cls, data: Any, out_dir: Path) -> dict[str, Any] | None:
        if not isinstance(data, AudioDataset):
            return None
        meta: dict[str, Any] = {
            "config": data.config.to_dict(),
            "decode": {"resample": bool(getattr(data, "resample", True))},
        }
        names = getattr(data, "class_names", None)
        if names:
            meta["metadata"] = {"class_names": list(names)}
        return meta
