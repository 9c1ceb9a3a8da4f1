"""Hook module of the ``audio`` plugin: registration records only, no jax imported here."""

from __future__ import annotations

from modalax.plugin import (
    AdapterRecord,
    DatasetRecord,
    KernelRecord,
    ModalityRecord,
    OperatorRecord,
    Register,
    hookimpl,
)

#: The modalax plugin API this plugin is built against (checked by discovery).
MODALAX_PLUGIN_API = "1.0"

_PKG = "modalax_audio"
_STFT = ("n_fft", "hop_length", "win_length", "window", "center", "pad_mode")
_MEL = ("sample_rate", "n_mels", "f_min", "f_max", "mel_scale", "norm")

#: kernel name -> (function in ``modalax_audio.kernels``, static argument names, description)
KERNELS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "stft": ("stft", _STFT, "complex STFT (..., n_fft//2+1, frames), centred, as librosa.stft"),
    "istft": (
        "istft",
        ("hop_length", "win_length", "n_fft", "window", "center", "length"),
        "inverse STFT by window-normalised overlap-add, as librosa.istft",
    ),
    "magnitude": ("magnitude", (), "|S| of a complex spectrogram"),
    "power": ("power", (), "|S|**2 of a complex spectrogram"),
    "power_spectrogram": ("power_spectrogram", (*_STFT, "power"), "|STFT(x)|**power"),
    "mel_filterbank": (
        "mel_filterbank",
        ("sample_rate", "n_fft", "n_mels", "f_min", "f_max", "mel_scale", "norm"),
        "mel filters (n_mels, n_fft//2+1), Slaney or HTK scale, as librosa.filters.mel",
    ),
    "mel_spectrogram": (
        "mel_spectrogram",
        (*_STFT, *_MEL, "power"),
        "mel spectrogram (..., n_mels, frames), as librosa.feature.melspectrogram",
    ),
    "power_to_db": ("power_to_db", ("ref", "amin", "top_db"), "power to dB, as librosa.power_to_db"),
    "amplitude_to_db": ("amplitude_to_db", ("ref", "amin", "top_db"), "amplitude to dB, as librosa.amplitude_to_db"),
    "mfcc": ("mfcc", (*_STFT, *_MEL, "n_mfcc", "lifter", "top_db"), "MFCCs, as librosa.feature.mfcc"),
    "resample": ("resample", ("orig_sr", "target_sr"), "polyphase Kaiser-sinc resampling, as scipy resample_poly"),
    "resample_poly": ("resample_poly", ("up", "down"), "resample by up/down, as scipy.signal.resample_poly"),
    "griffin_lim": (
        "griffin_lim",
        ("n_iter", "hop_length", "win_length", "window", "center", "pad_mode", "length", "momentum"),
        "fast Griffin-Lim phase reconstruction, as librosa.griffinlim",
    ),
}

# The conformance kit's examples (``modalax_audio.examples``, named after the kernel): every
# kernel that works per record. ``mel_filterbank`` has none: it takes no batch (all static).
KERNEL_EXAMPLES = frozenset(KERNELS) - {"mel_filterbank"}

OPERATORS: dict[str, tuple[str, str]] = {
    "gain": ("GainOperator", "gain in dB, fixed or random"),
    "time_shift": ("TimeShiftOperator", "shift along time, roll or zero fill"),
    "additive_noise": ("AdditiveNoiseOperator", "white noise at a target SNR"),
    "time_mask": ("TimeMaskOperator", "SpecAugment time masking"),
    "frequency_mask": ("FrequencyMaskOperator", "SpecAugment frequency masking"),
    "random_crop": ("RandomCropOperator", "crop to a duration, random or centred"),
}


# Operators whose default config does not fit the generated clips (``<name>_operator``): the
# SpecAugment masks take spectrograms, the crop needs a length.
OPERATOR_EXAMPLES = frozenset({"time_mask", "frequency_mask", "random_crop"})
_EXAMPLES = f"{_PKG}.examples"


@hookimpl
def register_modalities(register: Register) -> None:
    """The ``audio`` modality."""
    register(
        ModalityRecord(
            "audio",
            f"{_PKG}.modality:AudioModality",
            "waveforms, STFT and mel spectrograms matching librosa; audio folders; synthetic sine/noise/chirp",
            config_class=f"{_PKG}.config:AudioModalityConfig",
            previewer=f"{_PKG}.preview:preview",
            decoder=f"{_PKG}.decode:decode_audio",
            extensions=f"{_PKG}.decode:audio_extensions",
        )
    )


@hookimpl
def register_datasets(register: Register) -> None:
    """``audio/synthetic``, ``audio/folder`` and ``audio/packed``: ``factory(config, root, split, *, seed, rngs)``."""
    register(
        DatasetRecord(
            "audio",
            "synthetic",
            f"{_PKG}.datasets.synthetic:SyntheticAudioDataset",
            "sine, noise and chirp clips generated on demand",
        )
    )
    register(
        DatasetRecord(
            "audio",
            "folder",
            f"{_PKG}.datasets.folder:AudioFolderDataset",
            "audio files libsndfile reads (WAV, FLAC, OGG, Opus, MP3, ...) resampled to the config with soxr",
        )
    )
    register(
        DatasetRecord("audio", "packed", f"{_PKG}.packed:PackedAudioDataset", "ArrayRecord shards of modalax.pack")
    )


@hookimpl
def register_adapters(register: Register) -> None:
    """The default model adapter."""
    register(
        AdapterRecord(
            "audio",
            "default",
            f"{_PKG}.adapter:AudioModelAdapter",
            "any nnx model shaped by the audio config (output_shape, sample_rate, ...); AudioModality by default",
        )
    )


@hookimpl
def register_kernels(register: Register) -> None:
    """The ``audio.*`` kernels."""
    for name, (fn, static, description) in KERNELS.items():
        example = f"{_EXAMPLES}:{name}" if name in KERNEL_EXAMPLES else None
        register(KernelRecord(f"audio.{name}", f"{_PKG}.kernels:{fn}", static, description, example))


@hookimpl
def register_operators(register: Register) -> None:
    """Gain, shift, noise, masks and crop."""
    for name, (cls, description) in OPERATORS.items():
        example = f"{_EXAMPLES}:{name}_operator" if name in OPERATOR_EXAMPLES else None
        register(OperatorRecord("audio", name, f"{_PKG}.operators:{cls}", description, example=example))
