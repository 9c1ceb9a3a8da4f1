"""Audio datasets: the base class, synthetic clips, files in folders, and the factory."""

from modalax_audio.datasets.base import AudioDataset, check_config
from modalax_audio.datasets.factory import create_audio_dataset
from modalax_audio.datasets.folder import AudioDecoding, AudioFiles, AudioFolderDataset, fit_to_config
from modalax_audio.datasets.synthetic import SyntheticAudioDataset

__all__ = [
    "AudioDataset",
    "AudioDecoding",
    "AudioFiles",
    "AudioFolderDataset",
    "SyntheticAudioDataset",
    "check_config",
    "create_audio_dataset",
    "fit_to_config",
]
