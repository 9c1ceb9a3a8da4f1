"""Examples the conformance kit runs the ``audio.*`` kernels and operators on (registered in ``plugin.py``).

A kernel's example is ``() -> (args, kwargs)``: a small batched call, arrays with a leading
batch axis in ``args`` and the static settings real callers use in ``kwargs`` (those of the
default ``AudioModalityConfig``: 16 kHz, ``n_fft`` 1024, hop 256, 80 Slaney mels); the kit jits
the kernel on it and checks each record's output against the kernel run on that record alone.
An operator's example is ``() -> (config, batch)``. The clips are records of the plugin's
generated dataset (sines, noise, chirps of half a second), so every record differs; spectra
and dB features are computed from them by the plugin's own kernels, as the modality does.

Kernels without an example: ``mel_filterbank`` takes no batch (every argument is static), so
the kit's batch check does not fit it. ``griffin_lim``'s example starts from zero phase
(``key=None``, the modality's default): with a key, the initial phases are drawn for the whole
batch at once, so a record's output depends on its batch (see ``tests/audio``).

Imported only when the kit runs (it imports jax); cost: one small generated dataset per process.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import modalax
from modalax_audio import spectral
from modalax_audio.config import AudioModalityConfig
from modalax_audio.modality import AudioModality
from modalax_audio.operators import MaskConfig, RandomCropConfig

__all__ = [
    "amplitude_to_db",
    "frequency_mask_operator",
    "griffin_lim",
    "istft",
    "magnitude",
    "mel_spectrogram",
    "mfcc",
    "power",
    "power_spectrogram",
    "power_to_db",
    "random_crop_operator",
    "resample",
    "resample_poly",
    "stft",
    "time_mask_operator",
]

Call = tuple[tuple[Any, ...], dict[str, Any]]

#: Records per example; the clips last half a second at the config's rate.
N = 5
CONFIG = AudioModalityConfig(duration=0.5)
SAMPLES = CONFIG.n_time_steps
#: The STFT settings of the config, as the modality passes them.
STFT: dict[str, Any] = {"n_fft": CONFIG.n_fft, "hop_length": CONFIG.hop_length, "window": "hann", "center": True}


@functools.cache
def _clip_rows() -> np.ndarray:
    ds = modalax.create_dataset("audio", "synthetic", config=CONFIG, dataset_size=N, seed=0)
    out = np.asarray(ds.fetch(np.arange(N, dtype=np.int32))["audio"], np.float32)
    out.setflags(write=False)
    return out


def _clips() -> np.ndarray:
    """``(N, 8000)`` float32 waveforms in [-1, 1] at 16 kHz."""
    return _clip_rows()


@functools.cache
def _spectrum() -> np.ndarray:
    """The complex STFT ``(N, 513, 32)`` of the clips."""
    out = np.asarray(spectral.stft(jnp.asarray(_clips()), pad_mode=CONFIG.pad_mode, **STFT))
    out.setflags(write=False)
    return out


def _mel_power() -> np.ndarray:
    return np.asarray(spectral.mel_spectrogram(jnp.asarray(_clips()), **CONFIG.mel_kwargs()))


# ------------------------------------------------------------------ kernels
def stft() -> Call:
    """The complex STFT of the clips."""
    return (_clips(),), {**STFT, "pad_mode": CONFIG.pad_mode}


def istft() -> Call:
    """The clips back from their STFT, trimmed to their length."""
    return (_spectrum(),), {**STFT, "length": SAMPLES}


def magnitude() -> Call:
    """``|S|`` of the clips' STFT."""
    return (_spectrum(),), {}


def power() -> Call:
    """``|S|**2`` of the clips' STFT."""
    return (_spectrum(),), {}


def power_spectrogram() -> Call:
    """The power spectrogram of the clips."""
    return (_clips(),), {**STFT, "pad_mode": CONFIG.pad_mode, "power": 2.0}


def mel_spectrogram() -> Call:
    """The 80-band mel power spectrogram of the clips."""
    return (_clips(),), CONFIG.mel_kwargs()


def power_to_db() -> Call:
    """Mel power to dB (re 1), floored 80 dB below each record's maximum, as ``mfcc`` calls it."""
    return (_mel_power(),), {"ref": 1.0, "amin": 1e-10, "top_db": 80.0}


def amplitude_to_db() -> Call:
    """STFT magnitude to dB, floored 80 dB below each record's maximum."""
    return (np.abs(_spectrum()),), {"ref": 1.0, "amin": 1e-5, "top_db": 80.0}


def mfcc() -> Call:
    """20 MFCCs of the 80-band log-mel spectrogram."""
    return (_clips(),), {**CONFIG.mel_kwargs(), "n_mfcc": 20, "top_db": 80.0}


def resample() -> Call:
    """16 kHz to 22.05 kHz."""
    return (_clips(),), {"orig_sr": CONFIG.sample_rate, "target_sr": 22050}


def resample_poly() -> Call:
    """Down by 2/3 (16 kHz to 10.67 kHz)."""
    return (_clips(),), {"up": 2, "down": 3}


def griffin_lim() -> Call:
    """Waveforms from the clips' STFT magnitude, 8 iterations from random phases, a key per clip."""
    mag = np.abs(_spectrum())
    kwargs = {"n_iter": 8, "hop_length": CONFIG.hop_length, "length": SAMPLES, "pad_mode": CONFIG.pad_mode}
    return (mag, jax.random.split(jax.random.key(0), len(mag))), kwargs


# ------------------------------------------------------------------ operators
@functools.cache
def _log_mel() -> np.ndarray:
    """``(N, 80, 32)`` dB log-mel features of the clips, as the modality represents them."""
    modality = AudioModality(CONFIG.replace(representation="mel_spectrogram"))
    out = np.asarray(modality.represent(_clips()), np.float32)
    out.setflags(write=False)
    return out


def time_mask_operator() -> tuple[MaskConfig, dict[str, np.ndarray]]:
    """SpecAugment: two bands of up to 8 frames of the log-mel features set to -80 dB."""
    return MaskConfig(max_width=8, num_masks=2, mask_value=-80.0), {"audio": _log_mel()}


def frequency_mask_operator() -> tuple[MaskConfig, dict[str, np.ndarray]]:
    """SpecAugment: two bands of up to 10 mel channels set to 0 dB."""
    return MaskConfig(max_width=10, num_masks=2), {"audio": _log_mel()}


def random_crop_operator() -> tuple[RandomCropConfig, dict[str, np.ndarray]]:
    """A 0.25 s window at a random start of each half-second clip."""
    config = RandomCropConfig(duration=0.25, sample_rate=CONFIG.sample_rate)
    return config, {"audio": _clips()}
