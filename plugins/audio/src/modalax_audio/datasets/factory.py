"""``create_audio_dataset``: an audio dataset by type name."""

from __future__ import annotations

from typing import Any

from modalax.plugin import UnknownNameError, unknown_name_message
from modalax_audio.config import AudioModalityConfig
from modalax_audio.datasets.base import AudioDataset
from modalax_audio.datasets.folder import AudioFolderDataset
from modalax_audio.datasets.synthetic import SyntheticAudioDataset

__all__ = ["create_audio_dataset"]


def create_audio_dataset(
    dataset_type: str = "synthetic", config: AudioModalityConfig | None = None, **kwargs: Any
) -> AudioDataset:
    """Build an audio dataset: ``"synthetic"`` (``SyntheticAudioDataset``) or ``"folder"`` (WAV files).

    Raises ``UnknownNameError`` (a ``ConfigError`` and a ``KeyError``) for an unknown ``dataset_type``.
    """
    if dataset_type == "synthetic":
        return SyntheticAudioDataset(config, **kwargs)
    if dataset_type == "folder":
        return AudioFolderDataset(config, **kwargs)
    raise UnknownNameError(
        "create_audio_dataset.dataset_type: "
        + unknown_name_message("dataset type", dataset_type, ["folder", "synthetic"])
    )
