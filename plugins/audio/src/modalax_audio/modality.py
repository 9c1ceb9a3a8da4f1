"""``AudioModality``; its model adapter lives in ``modalax_audio.adapter``."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax.plugin import ConfigError, DataError, GenerativeModel
from modalax_audio import spectral
from modalax_audio.config import AudioModalityConfig, AudioRepresentation, SpectrogramType, seconds_to_samples
from modalax_audio.datasets.base import check_config
from modalax_audio.filters import mel_filterbank_np
from modalax_audio.inverse import griffin_lim
from modalax_audio.resample import MAX_FILTER_SIZE, filter_size, resample
from modalax_audio.synthesis import AUDIO_TYPES, peak_normalize, synthesize

if TYPE_CHECKING:
    from modalax_audio.adapter import AudioModelAdapter

__all__ = ["AudioModality", "check_waveform"]

_DB_FLOOR = 1e-10  # power floor of the dB representations (-100 dB)


def check_waveform(data: Any, owner: str, *, check_finite: bool = True) -> jax.Array:
    """``data`` as a float array ``(n,)`` or ``(batch, n)``; ``DataError`` for other ranks, empty or NaN audio.

    Integer PCM is scaled to [-1, 1] by its dtype's range.  The NaN check runs on concrete
    arrays only (inside ``jit`` it is skipped).
    """
    x = data if isinstance(data, jax.Array) else np.asarray(data)
    if x.ndim not in (1, 2):
        raise DataError(f"{owner}: got audio of shape {tuple(x.shape)}, expected (n_samples,) or (batch, n_samples)")
    if x.shape[-1] == 0:
        raise DataError(f"{owner}: got empty audio of shape {tuple(x.shape)}, expected n_samples > 0")
    if jnp.issubdtype(x.dtype, jnp.integer):
        x = jnp.asarray(x, jnp.float32) / float(np.iinfo(x.dtype).max + 1)
    elif not jnp.issubdtype(x.dtype, jnp.floating):
        raise DataError(f"{owner}: got audio of dtype {x.dtype}, expected floats or integer PCM")
    x = jnp.asarray(x, jnp.float32) if x.dtype != jnp.float64 else jnp.asarray(x)
    if check_finite and not isinstance(x, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(x))):
        raise DataError(f"{owner}: audio of shape {tuple(x.shape)} holds NaN or inf; expected finite samples")
    return x


@lru_cache(maxsize=16)
def _represent_fn(config: AudioModalityConfig) -> Any:
    """Waveform -> dB mel or dB STFT power for ``config``, compiled once per config."""

    def represent(x: jax.Array) -> jax.Array:
        if config.representation is AudioRepresentation.MEL_SPECTROGRAM:
            spec = spectral.mel_spectrogram(x, **config.mel_kwargs())
        else:
            spec = spectral.power_spectrogram(x, config.n_fft, config.hop_length, pad_mode=config.pad_mode, power=2.0)
        return spectral.power_to_db(spec, amin=_DB_FLOOR, top_db=None)

    return jax.jit(represent)


@lru_cache(maxsize=16)
def _generate_fn(n_samples: int, length: int, sample_rate: int, normalize: bool, type_id: int) -> Any:
    """Key -> ``n_samples`` synthetic clips (random types when ``type_id`` is -1), compiled once."""

    def generate(key: jax.Array) -> jax.Array:
        k_type, k_clip = jax.random.split(key)
        if type_id < 0:
            types = jax.random.randint(k_type, (n_samples,), 0, len(AUDIO_TYPES), jnp.int32)
        else:
            types = jnp.full((n_samples,), type_id, jnp.int32)
        keys = jax.random.split(k_clip, n_samples)
        return jax.vmap(lambda k, t: synthesize(k, t, length, sample_rate, normalize)["audio"])(keys, types)

    return jax.jit(generate)


_griffin_lim = jax.jit(griffin_lim, static_argnames=("n_iter", "hop_length", "length"))
_stft = jax.jit(spectral.stft, static_argnames=("n_fft", "hop_length", "pad_mode"))
_mel = jax.jit(
    spectral.mel_spectrogram,
    static_argnames=("sample_rate", "n_fft", "hop_length", "n_mels", "f_min", "f_max", "mel_scale", "pad_mode"),
)
_resample = jax.jit(resample, static_argnames=("orig_sr", "target_sr"))


def _resample_any(x: jax.Array, orig_sr: int, target_sr: int) -> jax.Array:
    """The device kernel when its filter is small, else soxr on the host (concrete arrays only)."""
    if filter_size(target_sr, orig_sr) <= MAX_FILTER_SIZE or isinstance(x, jax.core.Tracer):
        return _resample(x, orig_sr=orig_sr, target_sr=target_sr)  # a tracer with a huge ratio: ConfigError
    from modalax_audio.decode import resample_host

    return jnp.asarray(resample_host(np.asarray(x), orig_sr, target_sr), x.dtype)


class AudioModality(GenerativeModel):
    """The audio modality: shapes, synthesis, preprocessing, spectral features and their inverse.

    ``output_shape`` is what ``generate`` returns per sample and what models see:
    ``(n_time_steps,)`` waveforms, ``(n_mel_channels, n_time_frames)`` mel spectrograms in
    dB, or ``(n_fft // 2 + 1, n_time_frames)`` STFT magnitudes in dB.  ``compute_*`` give
    linear values (mel power, complex STFT) computed by the ``audio.*`` kernels.
    """

    name = "audio"

    @classmethod
    def pairing(cls, **options: Any) -> Any:
        """The multimodal pairing: ``AudioPairing(**options)``, options ``sample_rate`` and ``duration``."""
        from modalax_audio.pairing import AudioPairing

        return AudioPairing(**options)

    def __init__(self, config: AudioModalityConfig | None = None, *, rngs: nnx.Rngs | None = None) -> None:
        self.config = check_config(config, "AudioModality")
        self.rngs = rngs if rngs is not None else nnx.Rngs(0)

    # ------------------------------------------------------------------ shapes
    @property
    def n_time_steps(self) -> int:
        """Samples per clip."""
        return self.config.n_time_steps

    @property
    def n_time_frames(self) -> int:
        """STFT frames per clip: equals ``audio.stft(...).shape[-1]`` (centred frames)."""
        return self.config.n_time_frames

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of one generated sample in the configured representation."""
        rep = self.config.representation
        if rep is AudioRepresentation.RAW_WAVEFORM:
            return (self.n_time_steps,)
        if rep is AudioRepresentation.MEL_SPECTROGRAM:
            return (self.config.n_mel_channels, self.n_time_frames)
        return (self.config.n_freq_bins, self.n_time_frames)

    # ------------------------------------------------------- modality protocol
    def get_extensions(self, config: Any, *, rngs: nnx.Rngs) -> dict[str, Any]:
        """The audio modality has no model extensions."""
        return {}

    def get_adapter(self, model_cls: type[GenerativeModel] | None = None) -> AudioModelAdapter:
        """An adapter building ``model_cls`` (None: this modality's class) for this modality's config.

        The same as ``modalax.get_adapter("audio")(model_cls, modality.config)``.
        """
        from modalax_audio.adapter import AudioModelAdapter

        return AudioModelAdapter(model_cls, self.config)

    # -------------------------------------------------------------- features
    def _check_rate(self, sample_rate: int | None, owner: str) -> None:
        if sample_rate is not None and sample_rate != self.config.sample_rate:
            raise DataError(
                f"{owner}: got audio at {sample_rate} Hz, expected {self.config.sample_rate} Hz; "
                "call process(audio, sample_rate=...) first to resample"
            )

    def compute_stft(self, audio: Any, *, sample_rate: int | None = None) -> jax.Array:
        """Complex STFT ``(..., n_fft // 2 + 1, n_frames)`` (centred, ``config.pad_mode`` padding, Hann)."""
        self._check_rate(sample_rate, "compute_stft")
        x = check_waveform(audio, "compute_stft")
        return _stft(x, n_fft=self.config.n_fft, hop_length=self.config.hop_length, pad_mode=self.config.pad_mode)

    def compute_mel_spectrogram(self, audio: Any, *, sample_rate: int | None = None) -> jax.Array:
        """Mel power spectrogram ``(..., n_mel_channels, n_frames)``."""
        self._check_rate(sample_rate, "compute_mel_spectrogram")
        x = check_waveform(audio, "compute_mel_spectrogram")
        return _mel(x, **self.config.mel_kwargs())

    def compute_spectrogram(self, audio: Any, *, sample_rate: int | None = None) -> jax.Array:
        """Mel power or STFT magnitude, as ``config.spectrogram_type`` says."""
        if self.config.spectral_kind is SpectrogramType.MEL:
            return self.compute_mel_spectrogram(audio, sample_rate=sample_rate)
        return jnp.abs(self.compute_stft(audio, sample_rate=sample_rate))

    def represent(self, audio: Any) -> jax.Array:
        """Waveforms ``(..., n_time_steps)`` in the configured representation (dB for spectra)."""
        x = check_waveform(audio, "represent")
        if self.config.representation is AudioRepresentation.RAW_WAVEFORM:
            return x
        return _represent_fn(self.config)(x)

    # ------------------------------------------------------------ processing
    def process(self, data: Any, sample_rate: int | None = None, **kwargs: Any) -> jax.Array:
        """Resample to ``config.sample_rate``, pad (zeros) or trim to ``n_time_steps``, peak-normalise.

        ``data`` is ``(n,)`` or ``(batch, n)`` float (or integer PCM) audio at
        ``sample_rate`` Hz (default: the configured rate).  Resampling runs on the device
        (``audio.resample``) when the rates share a large factor, else on the host with soxr
        (a polyphase filter for, say, 44,101 Hz to 16 kHz would need gigabytes).  Normalisation (when
        ``config.normalize``) scales each clip to a peak of 1.
        """
        x = check_waveform(data, "process")
        if sample_rate is not None:
            if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer) or sample_rate <= 0:
                raise ConfigError(f"process.sample_rate: got {sample_rate!r}, expected a positive int (Hz)")
            if sample_rate != self.config.sample_rate:
                x = _resample_any(x, int(sample_rate), self.config.sample_rate)
        n = self.n_time_steps
        if x.shape[-1] >= n:
            x = x[..., :n]
        else:
            x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])])
        return peak_normalize(x) if self.config.normalize else x

    # ------------------------------------------------------------ generation
    def _key(self, rngs: nnx.Rngs | jax.Array | int | None) -> jax.Array:
        source = rngs if rngs is not None else self.rngs
        if isinstance(source, int):
            return jax.random.key(source)
        if isinstance(source, jax.Array):
            return source
        stream = "sample" if "sample" in source else "default"
        return getattr(source, stream)()

    def generate(
        self,
        n_samples: int = 1,
        duration: float | None = None,
        *,
        rngs: nnx.Rngs | jax.Array | int | None = None,
        audio_type: str | None = None,
        **kwargs: Any,
    ) -> jax.Array:
        """``n_samples`` synthetic clips ``(n_samples, *output_shape)`` in the configured representation.

        Clips are sines, noise or chirps (random type each, or all ``audio_type``) drawn
        from ``rngs`` (its ``sample`` stream when present) or this modality's own ``rngs``.
        ``duration`` overrides the configured length (seconds).
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples <= 0:
            raise ConfigError(f"generate.n_samples: got {n_samples!r}, expected a positive int")
        if audio_type is not None and audio_type not in AUDIO_TYPES:
            raise ConfigError(f"generate.audio_type: got {audio_type!r}, expected one of {AUDIO_TYPES} or None")
        length = self.n_time_steps if duration is None else seconds_to_samples(duration, self.config.sample_rate)
        if length < 1:
            raise ConfigError(f"generate.duration: got {duration!r} s, expected at least one sample")
        type_id = -1 if audio_type is None else AUDIO_TYPES.index(audio_type)
        clips = _generate_fn(n_samples, length, self.config.sample_rate, self.config.normalize, type_id)(
            self._key(rngs)
        )
        return self.represent(clips)

    # --------------------------------------------------------------- inverse
    def to_waveform(
        self, features: Any, *, n_iter: int = 32, key: jax.Array | None = None, length: int | None = None
    ) -> jax.Array:
        """Waveforms from features in the configured representation (Griffin-Lim for spectra).

        dB values are converted back to linear; a mel spectrogram is mapped to a linear
        power spectrum by the filterbank's pseudo-inverse (clipped at 0) first.  The
        phase is estimated by ``n_iter`` fast Griffin-Lim iterations with window-sum
        normalisation (``audio.griffin_lim``), starting from zero phase or random from ``key``.
        """
        rep = self.config.representation
        f = jnp.asarray(features, jnp.float32)
        if rep is AudioRepresentation.RAW_WAVEFORM:
            return f
        if f.ndim < 2 or f.shape[-2] != self.output_shape[0]:
            raise DataError(
                f"to_waveform: got features of shape {tuple(f.shape)}, expected (..., {self.output_shape[0]}, frames)"
            )
        power = jnp.power(10.0, f / 10.0)
        if rep is AudioRepresentation.MEL_SPECTROGRAM:
            kw = self.config.mel_kwargs()
            fb = mel_filterbank_np(
                kw["sample_rate"], kw["n_fft"], kw["n_mels"], kw["f_min"], kw["f_max"], kw["mel_scale"]
            )
            inv = jnp.asarray(np.linalg.pinv(fb), jnp.float32)
            power = jnp.maximum(jnp.matmul(inv, power, precision=jax.lax.Precision.HIGHEST), 0.0)
        n = self.n_time_steps if length is None else length
        return _griffin_lim(jnp.sqrt(power), key, n_iter=n_iter, hop_length=self.config.hop_length, length=n)

    def griffin_lim(self, magnitude: Any, *, n_iter: int = 32, key: jax.Array | None = None) -> jax.Array:
        """Waveforms whose STFT magnitude (linear) approximates ``magnitude``."""
        return _griffin_lim(
            jnp.asarray(magnitude, jnp.float32),
            key,
            n_iter=n_iter,
            hop_length=self.config.hop_length,
            length=self.n_time_steps,
        )

    # ------------------------------------------------------------------ loss
    def loss_fn(self, batch: Any, model_outputs: Any, *, spectral_weight: float = 1.0, **kwargs: Any) -> jax.Array:
        """Scalar loss of ``model_outputs`` ``(batch, *output_shape)`` against ``batch["audio"]``.

        Waveforms: mean squared error plus ``spectral_weight`` times the STFT loss of
        Parallel WaveGAN (spectral convergence + mean |log magnitude difference|).
        Spectral representations: mean squared error in dB; raw ``audio`` targets are
        converted with ``represent`` first.
        """
        target = batch["audio"] if isinstance(batch, dict) else batch
        target = jnp.asarray(target, jnp.float32)
        pred = jnp.asarray(model_outputs, jnp.float32)
        shape = self.output_shape
        if (
            self.config.representation is not AudioRepresentation.RAW_WAVEFORM
            and target.shape[-1:] == (self.n_time_steps,)
            and target.shape[-len(shape) :] != shape
        ):
            target = self.represent(target)
        if pred.shape != target.shape or pred.shape[-len(shape) :] != shape:
            raise DataError(
                f"loss_fn: got outputs {tuple(pred.shape)} and targets {tuple(target.shape)}; expected both "
                f"(batch, *{shape})"
            )
        mse = jnp.mean(jnp.square(pred - target))
        if self.config.representation is not AudioRepresentation.RAW_WAVEFORM or spectral_weight == 0:
            return mse
        p = spectral.power_spectrogram(pred, self.config.n_fft, self.config.hop_length, power=1.0)
        t = spectral.power_spectrogram(target, self.config.n_fft, self.config.hop_length, power=1.0)
        sc = jnp.linalg.norm(t - p) / jnp.maximum(jnp.linalg.norm(t), 1e-7)
        log_mag = jnp.mean(jnp.abs(jnp.log(jnp.maximum(t, 1e-7)) - jnp.log(jnp.maximum(p, 1e-7))))
        return mse + spectral_weight * (sc + log_mag)


def __getattr__(name: str) -> Any:
    # The adapter moved to modalax_audio.adapter (it imports this module); the old path still works.
    if name == "AudioModelAdapter":
        from modalax_audio.adapter import AudioModelAdapter

        return AudioModelAdapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
