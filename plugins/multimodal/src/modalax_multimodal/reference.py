"""A per-sample numpy implementation of the same rendering math, in the reference's style.

The reference implementation the seeds come from builds one sample at a time, adding one
sinusoid at a time to the waveform and choosing one token at a time in a Python loop.  This
module does the same with the maps of ``kernels.RenderParams``, so tests can check the
vectorised kernels against it and the benchmark can time the two approaches side by side.
Nothing here is used by the dataset itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modalax_multimodal.config import MODALITY_NAMES
from modalax_multimodal.kernels import RenderParams

__all__ = ["generate_sample_reference", "numpy_params", "render_sample_reference"]


def numpy_params(params: RenderParams) -> dict[str, np.ndarray]:
    """The render maps as float64/int numpy arrays."""
    return {
        name: np.asarray(value, np.int64 if name == "text_table" else np.float64)
        for name, value in params._asdict().items()
    }


def _image(u: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    low = np.tensordot(u, p["image_low"], axes=1)  # (gh, gw, C) coarse field of this sample
    channels = [p["image_rows"] @ low[..., c] @ p["image_cols"].T for c in range(low.shape[-1])]
    field = np.stack(channels, axis=-1) * p["image_scale"]
    return 1.0 / (1.0 + np.exp(-field))


def _audio(u: np.ndarray, p: dict[str, np.ndarray], sample_rate: int) -> np.ndarray:
    env = p["audio_envelope"]
    t = np.arange(env.shape[0]) / sample_rate
    coeffs = u @ p["audio_mix"]  # (2K,): sin and cos amplitude of each partial, output scale included
    wave = np.zeros_like(t)
    for k, freq in enumerate(p["audio_freqs"]):
        c_sin, c_cos = coeffs[2 * k], coeffs[2 * k + 1]
        wave += np.hypot(c_sin, c_cos) * np.sin(2 * np.pi * freq * t + np.arctan2(c_cos, c_sin))
    return np.clip(wave * env, -1.0, 1.0)


def _text(u: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    tokens = []
    for pos in range(p["text_table"].shape[0]):
        level = int(np.searchsorted(p["text_edges"], p["text_directions"][pos] @ u, side="left"))
        tokens.append(int(p["text_table"][pos, level]))
    return np.asarray(tokens, np.int32)


def render_sample_reference(
    latent: np.ndarray,
    nuisance: np.ndarray,
    strength: float,
    params: dict[str, np.ndarray],
    *,
    modalities: tuple[str, ...] = MODALITY_NAMES,
    sample_rate: int = 16000,
) -> dict[str, Any]:
    """One sample from its latent ``(d,)`` and nuisances ``(3, d)``, in float64."""
    out: dict[str, Any] = {}
    for m, name in enumerate(MODALITY_NAMES):
        if name not in modalities:
            continue
        u = np.sqrt(strength) * latent + np.sqrt(1.0 - strength) * nuisance[m]
        if name == "image":
            out["image"] = _image(u, params)
        elif name == "text":
            out["text"] = _text(u, params)
        else:
            out["audio"] = _audio(u, params, sample_rate)
    out["latent"] = latent
    out["alignment_score"] = strength
    return out


def generate_sample_reference(
    index: int,
    seed: int,
    strength: float,
    params: dict[str, np.ndarray],
    *,
    latent_dim: int = 32,
    modalities: tuple[str, ...] = MODALITY_NAMES,
    sample_rate: int = 16000,
) -> dict[str, Any]:
    """Sample ``index`` drawn with numpy's generator seeded by ``(seed, index)`` (the loop of the benchmark)."""
    rng = np.random.default_rng((seed, index))
    latent = rng.standard_normal(latent_dim)
    nuisance = rng.standard_normal((len(MODALITY_NAMES), latent_dim))
    return render_sample_reference(latent, nuisance, strength, params, modalities=modalities, sample_rate=sample_rate)
