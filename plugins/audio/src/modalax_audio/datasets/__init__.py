"""Audio datasets: the base class, synthetic clips, files in folders, and the factory."""

from modalax_audio.datasets.base import AudioDataset, check_config, resolve_rngs
from modalax_audio.datasets.factory import create_audio_dataset
from modalax_audio.datasets.folder import AudioFiles, AudioFolderDataset, fit_to_config
from modalax_audio.datasets.synthetic import SyntheticAudioDataset

__all__ = [
    "AudioDataset",
    "AudioFiles",
    "AudioFolderDataset",
    "SyntheticAudioDataset",
    "check_config",
    "create_audio_dataset",
    "fit_to_config",
    "resolve_rngs",
]
