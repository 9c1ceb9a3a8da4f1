"""A per-sample numpy implementation of aligned rendering, in the reference's style.

The reference implementation the API reference comes from builds one sample at a time, adding one
sinusoid at a time to the waveform and choosing one token at a time in a Python loop.  This
module does the same with a dataset's own pairings and worlds: it mixes each modality's input
``u_m = sqrt(a) z + sqrt(1 - a) n_m`` in float64 and renders it with the pairing's
``render_reference(world, u)``, a per-sample numpy renderer of the same math that the image,
text and audio pairings offer (it is not part of the pairing protocol: a pairing without it
cannot be checked here).  Tests compare the vectorised dataset against it and the benchmark
times the two approaches side by side.  Nothing here is used by the dataset itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from modalax.plugin import ModalityPairing, PluginError

__all__ = ["generate_sample_reference", "numpy_params", "render_sample_reference"]

Params = Mapping[str, tuple[ModalityPairing, Any]]


def numpy_params(render_params: Params) -> dict[str, tuple[ModalityPairing, Any]]:
    """``{modality: (pairing, world)}`` (a dataset's ``render_params``) with the worlds as numpy arrays."""
    return {name: (pairing, jax.tree.map(np.asarray, world)) for name, (pairing, world) in render_params.items()}


def render_sample_reference(
    latent: np.ndarray,
    nuisance: np.ndarray,
    strength: float,
    params: Params,
    *,
    modalities: Sequence[str] | None = None,
) -> dict[str, Any]:
    """One sample from its latent ``(d,)`` and nuisances ``(M, d)`` (one row per modality of ``params``), in float64.

    ``modalities`` renders only those (rows of ``nuisance`` still follow ``params``).
    """
    out: dict[str, Any] = {}
    for m, (name, (pairing, world)) in enumerate(params.items()):
        if modalities is not None and name not in modalities:
            continue
        render = getattr(pairing, "render_reference", None)
        if render is None:
            raise PluginError(
                f"modality {name!r}: {type(pairing).__name__} has no render_reference(world, u), "
                "the per-sample numpy renderer this reference needs"
            )
        u = np.sqrt(strength) * np.asarray(latent, np.float64) + np.sqrt(1.0 - strength) * np.asarray(nuisance[m])
        out[pairing.field] = render(world, u)
    out["latent"] = latent
    out["alignment_score"] = strength
    return out


def generate_sample_reference(
    index: int,
    seed: int,
    strength: float,
    params: Params,
    *,
    latent_dim: int = 32,
    modalities: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Sample ``index`` drawn with numpy's generator seeded by ``(seed, index)`` (the loop of the benchmark)."""
    rng = np.random.default_rng((seed, index))
    latent = rng.standard_normal(latent_dim)
    nuisance = rng.standard_normal((len(params), latent_dim))
    return render_sample_reference(latent, nuisance, strength, params, modalities=modalities)
