"""modalax-audio: the audio modality plugin of modalax.

Importing this package is light (no jax); the names below load their modules on first use.
"""

from __future__ import annotations

from modalax.plugin import lazy_exports

__version__ = "0.2.0"

_LAZY = {
    "AudioModalityConfig": "modalax_audio.config",
    "AudioRepresentation": "modalax_audio.config",
    "MelScale": "modalax_audio.config",
    "SpectrogramType": "modalax_audio.config",
    "AudioModality": "modalax_audio.modality",
    "AudioModelAdapter": "modalax_audio.adapter",
    "AudioModel": "modalax_audio.adapter",
    "AudioDataset": "modalax_audio.datasets.base",
    "SyntheticAudioDataset": "modalax_audio.datasets",
    "create_audio_dataset": "modalax_audio.datasets",
    "AudioFolderDataset": "modalax_audio.datasets.folder",
    "AudioDecoding": "modalax_audio.datasets.folder",
    "AudioFiles": "modalax_audio.datasets.folder",
    "PackedAudioDataset": "modalax_audio.packed",
    "decode_audio": "modalax_audio.decode",
    "read_audio": "modalax_audio.decode",
    "resample_host": "modalax_audio.decode",
    "audio_extensions": "modalax_audio.decode",
    "host_resampled_length": "modalax_audio.decode",
    "MAX_SAMPLE_RATE": "modalax_audio.decode",
    "AudioEvaluationSuite": "modalax_audio.evaluation",
    "read_wav": "modalax_audio.wav",
    "write_wav": "modalax_audio.wav",
    "AdditiveNoiseConfig": "modalax_audio.operators",
    "AdditiveNoiseOperator": "modalax_audio.operators",
    "FrequencyMaskOperator": "modalax_audio.operators",
    "GainConfig": "modalax_audio.operators",
    "GainOperator": "modalax_audio.operators",
    "MaskConfig": "modalax_audio.operators",
    "RandomCropConfig": "modalax_audio.operators",
    "RandomCropOperator": "modalax_audio.operators",
    "TimeMaskOperator": "modalax_audio.operators",
    "TimeShiftConfig": "modalax_audio.operators",
    "TimeShiftOperator": "modalax_audio.operators",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = ["__version__", *_LAZY]
