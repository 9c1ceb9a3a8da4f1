"""``create_audio_dataset``: an audio dataset by type name, every registered type included."""

from __future__ import annotations

from typing import Any

import modalax
from modalax.plugin import UnknownNameError, unknown_name_message
from modalax_audio.config import AudioModalityConfig
from modalax_audio.datasets.base import AudioDataset
from modalax_audio.datasets.folder import AudioFolderDataset
from modalax_audio.datasets.synthetic import SyntheticAudioDataset

__all__ = ["DATASET_TYPES", "create_audio_dataset"]


def _packed(*args: Any, **kwargs: Any) -> AudioDataset:
    from modalax_audio.packed import PackedAudioDataset  # packed shards import their reader on first use

    return PackedAudioDataset(*args, **kwargs)


#: The plugin's own dataset types (the ``DatasetRecord``\\ s of ``modalax_audio.plugin``).
DATASET_TYPES: dict[str, Any] = {
    "synthetic": SyntheticAudioDataset,
    "folder": AudioFolderDataset,
    "packed": _packed,
}


def create_audio_dataset(
    dataset_type: str = "synthetic", config: AudioModalityConfig | None = None, **kwargs: Any
) -> AudioDataset:
    """Build an audio dataset by type: ``dataset_type(config, **kwargs)``.

    ``"synthetic"`` (``SyntheticAudioDataset``: ``dataset_size`` or ``n_samples``,
    ``audio_types``), ``"folder"`` (``AudioFolderDataset``: ``root`` or ``files``),
    ``"packed"`` (``PackedAudioDataset``: ``root``), or any type another plugin registered for
    the ``audio`` modality. Every type takes ``split``, ``seed`` and ``rngs`` as keywords.
    Raises ``UnknownNameError`` (a ``ConfigError`` and a ``KeyError``) for an unknown
    ``dataset_type``, listing the known ones.
    """
    factory = DATASET_TYPES.get(dataset_type) if isinstance(dataset_type, str) else None
    if factory is None:
        registered = modalax.list_datasets("audio")
        if dataset_type not in registered:
            known = sorted(set(DATASET_TYPES) | set(registered))
            raise UnknownNameError(
                "create_audio_dataset.dataset_type: " + unknown_name_message("dataset type", dataset_type, known)
            )
        factory = modalax.get_dataset_factory("audio", dataset_type)
    return factory(config, **kwargs)
