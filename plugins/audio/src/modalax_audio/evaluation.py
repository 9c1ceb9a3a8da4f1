"""``AudioEvaluationSuite``: reconstruction and diversity metrics, vectorised over the batch."""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from modalax.plugin import BaseEvaluationSuite, DataError
from modalax_audio import spectral
from modalax_audio.config import AudioModalityConfig
from modalax_audio.datasets.base import check_config
from modalax_audio.modality import check_waveform

__all__ = [
    "AudioEvaluationSuite",
    "log_spectral_distance",
    "pairwise_log_mel_distance",
    "signal_to_noise_ratio",
    "spectral_centroid",
    "spectral_convergence",
]

_EPS = 1e-10


def spectral_convergence(
    generated: jax.Array, reference: jax.Array, n_fft: int = 1024, hop_length: int = 256
) -> jax.Array:
    """``||S_ref - S_gen||_F / ||S_ref||_F`` of STFT magnitudes, per example (0 is perfect)."""
    g = spectral.power_spectrogram(generated, n_fft, hop_length, power=1.0)
    r = spectral.power_spectrogram(reference, n_fft, hop_length, power=1.0)
    num = jnp.sqrt(jnp.sum(jnp.square(r - g), axis=(-2, -1)))
    return num / jnp.maximum(jnp.sqrt(jnp.sum(jnp.square(r), axis=(-2, -1))), _EPS)


def log_spectral_distance(
    generated: jax.Array, reference: jax.Array, n_fft: int = 1024, hop_length: int = 256
) -> jax.Array:
    """Mean over frames of the RMS (over frequency) difference of power spectra in dB, per example."""
    g = 10.0 * jnp.log10(spectral.power_spectrogram(generated, n_fft, hop_length) + _EPS)
    r = 10.0 * jnp.log10(spectral.power_spectrogram(reference, n_fft, hop_length) + _EPS)
    return jnp.mean(jnp.sqrt(jnp.mean(jnp.square(r - g), axis=-2)), axis=-1)


def signal_to_noise_ratio(generated: jax.Array, reference: jax.Array) -> jax.Array:
    """``10 log10(sum ref^2 / sum (ref - gen)^2)`` in dB, per example."""
    err = jnp.sum(jnp.square(reference - generated), axis=-1)
    return 10.0 * jnp.log10(jnp.maximum(jnp.sum(jnp.square(reference), axis=-1), _EPS) / jnp.maximum(err, _EPS))


def spectral_centroid(audio: jax.Array, sample_rate: int, n_fft: int = 1024, hop_length: int = 256) -> jax.Array:
    """Magnitude-weighted mean frequency (Hz) over the whole clip, per example."""
    mag = spectral.power_spectrogram(audio, n_fft, hop_length, power=1.0)
    freqs = jnp.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    weight = jnp.sum(mag, axis=-1)
    return jnp.sum(weight * freqs, axis=-1) / jnp.maximum(jnp.sum(weight, axis=-1), _EPS)


def pairwise_log_mel_distance(audio: jax.Array, **mel_kwargs: Any) -> jax.Array:
    """Mean over pairs ``i < j`` of the RMS distance (dB) between time-averaged log-mel spectra.

    A batch of identical clips scores 0; larger is more diverse.
    """
    mel = spectral.mel_spectrogram(audio, **mel_kwargs)
    emb = jnp.mean(10.0 * jnp.log10(mel + _EPS), axis=-1)
    n = emb.shape[0]
    sq = jnp.sum(emb**2, axis=-1)
    gram = jnp.matmul(emb, emb.T, precision=jax.lax.Precision.HIGHEST)  # TF32 would swamp small distances
    d2 = jnp.maximum(sq[:, None] + sq[None, :] - 2.0 * gram, 0.0) / emb.shape[-1]
    upper = jnp.triu(jnp.ones((n, n), bool), k=1)
    return jnp.sum(jnp.where(upper, jnp.sqrt(d2), 0.0)) / jnp.maximum(jnp.sum(upper), 1)


class AudioEvaluationSuite(BaseEvaluationSuite):
    """Quality metrics of waveform batches ``(batch, n_samples)`` at ``config.sample_rate``.

    With a reference batch: ``spectral_convergence``, ``log_spectral_distance`` (dB) and
    ``snr_db`` (means over the batch).  Always: ``diversity_log_mel`` (mean pairwise
    log-mel distance, dB), ``spectral_centroid_mean`` and ``spectral_centroid_std`` (Hz),
    and ``rms_mean``.  Everything is one jitted, vectorised call per batch shape.
    """

    def __init__(self, config: AudioModalityConfig | None = None) -> None:
        self.config = check_config(config, "AudioEvaluationSuite")
        cfg = self.config
        stft = {"n_fft": cfg.n_fft, "hop_length": cfg.hop_length}
        self._paired = jax.jit(partial(self._paired_metrics, stft=stft))
        self._single = jax.jit(partial(self._single_metrics, cfg=cfg))

    @staticmethod
    def _paired_metrics(gen: jax.Array, ref: jax.Array, stft: dict[str, int]) -> dict[str, jax.Array]:
        return {
            "spectral_convergence": jnp.mean(spectral_convergence(gen, ref, **stft)),
            "log_spectral_distance": jnp.mean(log_spectral_distance(gen, ref, **stft)),
            "snr_db": jnp.mean(signal_to_noise_ratio(gen, ref)),
        }

    @staticmethod
    def _single_metrics(gen: jax.Array, cfg: AudioModalityConfig) -> dict[str, jax.Array]:
        centroid = spectral_centroid(gen, cfg.sample_rate, cfg.n_fft, cfg.hop_length)
        return {
            "diversity_log_mel": pairwise_log_mel_distance(gen, **cfg.mel_kwargs()),
            "spectral_centroid_mean": jnp.mean(centroid),
            "spectral_centroid_std": jnp.std(centroid),
            "rms_mean": jnp.mean(jnp.sqrt(jnp.mean(jnp.square(gen), axis=-1))),
        }

    def _batch(self, data: Any, owner: str) -> jax.Array:
        x = check_waveform(data, owner)
        x = x[None] if x.ndim == 1 else x
        if x.shape[0] == 0:  # means over no clips would be NaN metrics
            raise DataError(f"{owner}: got an empty batch of shape {tuple(x.shape)}, expected at least one clip")
        return x

    def evaluate_batch(self, generated: Any, reference: Any | None = None, **kwargs: Any) -> dict[str, float]:
        """Metrics of ``generated`` (and against ``reference`` of the same shape) as Python floats."""
        gen = self._batch(generated, "evaluate_batch.generated")
        out = dict(self._single(gen))
        if reference is not None:
            ref = self._batch(reference, "evaluate_batch.reference")
            if ref.shape != gen.shape:
                raise DataError(
                    f"evaluate_batch: generated {tuple(gen.shape)} and reference {tuple(ref.shape)} differ; "
                    "expected equal shapes"
                )
            out.update(self._paired(gen, ref))
        return {k: float(v) for k, v in out.items()}
