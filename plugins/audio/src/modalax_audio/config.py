"""``AudioRepresentation`` and ``AudioModalityConfig`` (seeds 01 and 02); no jax imported."""

from __future__ import annotations

import dataclasses
import enum
import math
import numbers
from dataclasses import dataclass
from typing import Any, Self

from modalax.plugin import BaseModalityConfig, ConfigError, check_choice, check_positive, check_type, coerce_enum

__all__ = ["AudioModalityConfig", "AudioRepresentation", "MelScale", "SpectrogramType", "check_config"]

_DEFAULT_N_MELS = 80
_INT_FIELDS = ("sample_rate", "n_mel_channels", "hop_length", "n_fft", "n_mels")
_FLOAT_FIELDS = ("duration", "f_min", "f_max")
PAD_MODES = ("constant", "reflect", "edge")


def _plain_number(value: Any, integer: bool) -> Any:
    """numpy scalars as the Python int/float they hold (configs often come from arrays); others unchanged."""
    if isinstance(value, bool) or type(value) in (int, float):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if not integer and isinstance(value, numbers.Real):
        return float(value)
    return value


class AudioRepresentation(enum.Enum):
    """What ``AudioModality`` generates and what models see."""

    RAW_WAVEFORM = "raw_waveform"
    MEL_SPECTROGRAM = "mel_spectrogram"
    STFT = "stft"


class SpectrogramType(enum.Enum):
    """Spectral features of ``AudioModality.compute_spectrogram`` (the documented ``spectrogram_type``)."""

    MEL = "mel"
    STFT = "stft"


class MelScale(enum.Enum):
    """Mel scale of the filterbank: Slaney's (librosa's default) or HTK's."""

    SLANEY = "slaney"
    HTK = "htk"


@dataclass(frozen=True)
class AudioModalityConfig(BaseModalityConfig):
    """Configuration of the audio modality.

    The seed fields are ``representation``, ``sample_rate``, ``n_mel_channels`` (also
    accepted as ``n_mels``, the documented spelling; both always read the same), ``hop_length``,
    ``n_fft``, ``duration`` (seconds) and ``normalize`` (peak-normalise every clip to 1).
    ``spectrogram_type`` (``"mel"`` or ``"stft"``) picks what
    ``compute_spectrogram`` returns; when left ``None`` it follows ``representation``
    (``STFT`` gives ``"stft"``, otherwise ``"mel"``) and it must agree with a spectral
    ``representation``.  ``f_min``/``f_max``/``mel_scale`` shape the mel filterbank.

    The STFT is centred (``n_fft // 2`` reflect padding), so a clip of ``n_time_steps``
    samples has ``n_time_frames = 1 + n_time_steps // hop_length`` frames.
    """

    representation: AudioRepresentation = AudioRepresentation.RAW_WAVEFORM
    sample_rate: int = 16000
    n_mel_channels: int = _DEFAULT_N_MELS
    hop_length: int = 256
    n_fft: int = 1024
    duration: float = 2.0
    normalize: bool = True
    n_mels: int | None = None
    spectrogram_type: SpectrogramType | None = None
    f_min: float = 0.0
    f_max: float | None = None
    mel_scale: MelScale = MelScale.SLANEY
    pad_mode: str = "constant"

    def __post_init__(self) -> None:
        owner = "AudioModalityConfig"
        set_ = object.__setattr__
        for name in (*_INT_FIELDS, *_FLOAT_FIELDS):
            set_(self, name, _plain_number(getattr(self, name), name in _INT_FIELDS))
        check_choice(owner, "pad_mode", self.pad_mode, PAD_MODES)
        set_(self, "representation", coerce_enum(owner, "representation", self.representation, AudioRepresentation))
        set_(self, "mel_scale", coerce_enum(owner, "mel_scale", self.mel_scale, MelScale))
        if self.spectrogram_type is not None:
            set_(
                self, "spectrogram_type", coerce_enum(owner, "spectrogram_type", self.spectrogram_type, SpectrogramType)
            )
        for name in ("sample_rate", "n_mel_channels", "hop_length", "n_fft"):
            check_positive(owner, name, getattr(self, name))
        if self.n_mels is not None:
            check_positive(owner, "n_mels", self.n_mels)
            if self.n_mel_channels not in (_DEFAULT_N_MELS, self.n_mels):
                raise ConfigError(
                    f"{owner}: got n_mel_channels={self.n_mel_channels!r} and n_mels={self.n_mels!r}; "
                    "expected one of them (n_mels is an alias) or equal values"
                )
            set_(self, "n_mel_channels", self.n_mels)
        set_(self, "n_mels", self.n_mel_channels)
        check_positive(owner, "duration", self.duration, integer=False)
        check_type(owner, "normalize", self.normalize, bool, "a bool")
        if self.hop_length > self.n_fft:
            raise ConfigError(
                f"{owner}.hop_length: got {self.hop_length} > n_fft={self.n_fft}; expected hop_length <= n_fft "
                "(frames must overlap or touch for the inverse STFT)"
            )
        if self.n_time_steps < 1:
            raise ConfigError(
                f"{owner}.duration: got {self.duration!r} s, which is {self.n_time_steps} samples at "
                f"{self.sample_rate} Hz; expected at least one sample"
            )
        self._check_mel_range(owner)
        self._check_spectral(owner)

    def _check_mel_range(self, owner: str) -> None:
        check_positive(owner, "f_min", self.f_min, integer=False, allow_zero=True)
        nyquist = self.sample_rate / 2.0
        if self.f_max is not None:
            check_positive(owner, "f_max", self.f_max, integer=False)
        top = nyquist if self.f_max is None else float(self.f_max)
        if not self.f_min < top <= nyquist:
            raise ConfigError(
                f"{owner}: got f_min={self.f_min!r}, f_max={self.f_max!r}; expected 0 <= f_min < f_max <= "
                f"sample_rate / 2 = {nyquist}"
            )

    def _check_spectral(self, owner: str) -> None:
        rep = self.representation
        wanted = {
            AudioRepresentation.MEL_SPECTROGRAM: SpectrogramType.MEL,
            AudioRepresentation.STFT: SpectrogramType.STFT,
        }.get(rep)
        if wanted is not None and self.spectrogram_type not in (None, wanted):
            raise ConfigError(
                f"{owner}.spectrogram_type: got {self.spectrogram_type.value!r} with representation "
                f"{rep.name}; expected {wanted.value!r} or None"
            )
        if rep is AudioRepresentation.MEL_SPECTROGRAM and self.n_mel_channels > self.n_freq_bins:
            raise ConfigError(
                f"{owner}.n_mel_channels: got n_mels={self.n_mel_channels} with n_fft={self.n_fft}; expected at most "
                f"n_fft // 2 + 1 = {self.n_freq_bins} (more mels than FFT bins leaves filters empty)"
            )
        if wanted is not None and self.n_time_steps <= self.n_fft // 2:
            raise ConfigError(
                f"{owner}.duration: {self.duration!r} s is {self.n_time_steps} samples; a {rep.name} "
                f"representation needs more than n_fft // 2 = {self.n_fft // 2} samples"
            )

    # ------------------------------------------------------------- derived sizes
    @property
    def n_time_steps(self) -> int:
        """Samples per clip: ``round(sample_rate * duration)``."""
        return round(self.sample_rate * float(self.duration))

    @property
    def n_time_frames(self) -> int:
        """STFT frames per clip (centred): ``1 + n_time_steps // hop_length`` for even ``n_fft``."""
        padded = self.n_time_steps + 2 * (self.n_fft // 2)
        return 1 + (padded - self.n_fft) // self.hop_length

    @property
    def n_freq_bins(self) -> int:
        """Frequency bins of the STFT: ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def spectral_kind(self) -> SpectrogramType:
        """``spectrogram_type`` resolved against ``representation``."""
        if self.spectrogram_type is not None:
            return self.spectrogram_type
        if self.representation is AudioRepresentation.STFT:
            return SpectrogramType.STFT
        return SpectrogramType.MEL

    def mel_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``audio.mel_spectrogram`` for this config (power 2)."""
        return {
            "sample_rate": self.sample_rate,
            "n_fft": self.n_fft,
            "hop_length": self.hop_length,
            "n_mels": self.n_mel_channels,
            "f_min": float(self.f_min),
            "f_max": None if self.f_max is None else float(self.f_max),
            "mel_scale": self.mel_scale.value,
            "pad_mode": self.pad_mode,
        }

    def replace(self, **changes: Any) -> Self:
        """A validated copy; changing ``n_mel_channels`` or ``n_mels`` updates the other too."""
        if "n_mel_channels" in changes and "n_mels" not in changes:
            changes["n_mels"] = None
        elif "n_mels" in changes and "n_mel_channels" not in changes:
            changes["n_mel_channels"] = _DEFAULT_N_MELS
        return dataclasses.replace(self, **changes)


def check_config(config: Any, owner: str) -> AudioModalityConfig:
    """``config`` as an ``AudioModalityConfig``: None gives the defaults, a dict ``from_dict``; else ``ConfigError``."""
    if config is None:
        return AudioModalityConfig()
    if isinstance(config, dict):
        return AudioModalityConfig.from_dict(config)
    if not isinstance(config, AudioModalityConfig):
        raise ConfigError(f"{owner}.config: got {type(config).__name__}, expected an AudioModalityConfig")
    return config


def seconds_to_samples(seconds: float, sample_rate: int) -> int:
    """``round(seconds * sample_rate)``, the convention of ``n_time_steps``."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"duration: got {seconds!r}, expected a non-negative number of seconds")
    return round(seconds * sample_rate)
