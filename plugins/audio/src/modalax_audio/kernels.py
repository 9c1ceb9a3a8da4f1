"""The ``audio.*`` kernels: pure, batched over leading axes, jitted once by core.

Registered in ``plugin.py`` with their static arguments; import them from here (or get the
jitted version with ``modalax.get_kernel("audio.mel_spectrogram")``).
"""

from __future__ import annotations

from modalax_audio.augment import add_noise_snr, apply_gain_db, crop, mask_along_axis, time_shift
from modalax_audio.inverse import griffin_lim, istft
from modalax_audio.resample import resample, resample_poly, resampled_length
from modalax_audio.spectral import (
    amplitude_to_db,
    magnitude,
    mel_filterbank,
    mel_spectrogram,
    mfcc,
    n_frames,
    power,
    power_spectrogram,
    power_to_db,
    stft,
)

__all__ = [
    "add_noise_snr",
    "amplitude_to_db",
    "apply_gain_db",
    "crop",
    "griffin_lim",
    "istft",
    "magnitude",
    "mask_along_axis",
    "mel_filterbank",
    "mel_spectrogram",
    "mfcc",
    "n_frames",
    "power",
    "power_spectrogram",
    "power_to_db",
    "resample",
    "resample_poly",
    "resampled_length",
    "stft",
    "time_shift",
]
