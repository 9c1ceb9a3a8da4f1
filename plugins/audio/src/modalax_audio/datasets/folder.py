"""``AudioFolderDataset``: audio files read lazily by index, resampled and cut to the config.

``AudioDecoding`` is the audio modality's one decode path for files: the folder dataset, the
packed dataset (``modalax_audio.packed``) and foreign sources decode a file with
``decode_audio`` through it, so a file gives the same values whichever way it is read. The
folder layout, labels, ``files=``, the thread pool and ``on_error="skip"`` come from
``modalax.plugin.FolderDataset``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modalax.plugin import ConfigError, FileDecoding, FolderDataset
from modalax_audio.config import AudioModalityConfig
from modalax_audio.datasets.base import AudioDataset
from modalax_audio.decode import audio_extensions, decode_audio, fit_to_config

__all__ = ["AudioDecoding", "AudioFolderDataset", "fit_to_config"]


class AudioDecoding(FileDecoding):
    """Audio files decoded with ``decode_audio`` (soundfile, soxr) to the config's rate and
    duration; ``resample=False`` makes a file at another rate a ``DataError``."""

    modality = "audio"
    config_class = AudioModalityConfig
    config: AudioModalityConfig

    @classmethod
    def check_decode_options(cls, resample: bool = True) -> dict[str, Any]:
        if not isinstance(resample, bool):
            raise ConfigError(f"{cls.__name__}.resample: got {resample!r}, expected a bool")
        return {"resample": resample}

    @classmethod
    def file_extensions(cls) -> tuple[str, ...]:
        return audio_extensions()

    def decode_file(self, source: Path | bytes) -> dict[str, np.ndarray]:
        name = "the packed file" if isinstance(source, bytes) else None
        return decode_audio(source, self.config, name=name, **self.decode_options)

    @property
    def resample(self) -> bool:
        """Whether files at another sample rate are resampled (else they are a ``DataError``)."""
        return bool(self.decode_options.get("resample", True))


class AudioFolderDataset(AudioDecoding, FolderDataset, AudioDataset):
    """Audio files under ``root`` (or an explicit ``files`` list), decoded on a thread pool.

    Every format the installed libsndfile reads is found by default (``extensions=None``:
    ``modalax_audio.audio_extensions()``). Each record holds ``audio`` (float32
    ``(n_time_steps,)`` at ``config.sample_rate``: averaged to mono, resampled with soxr,
    zero-padded or trimmed to ``config.duration``, peak-normalised when ``config.normalize``),
    ``length`` (samples that are real audio, not padding) and ``source_sample_rate``; batches
    also carry the ``sample_rate`` (an int). Labels, splits, ``class_names``, ``files=`` and
    ``on_error`` follow ``modalax.plugin.FolderDataset`` (the one folder rule of modalax:
    torchvision's layout). Decode option: ``resample=True``.
    """
