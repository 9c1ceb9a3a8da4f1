"""Examples the conformance kit runs the ``multimodal.*`` kernels on (registered in ``plugin.py``).

A kernel's example is ``() -> (args, kwargs)``: a small batched call, arrays with a leading
batch axis in ``args`` and the values real callers pass whole in ``kwargs``; the kit jits the
kernel on it and checks each record's output against the kernel run on that record alone.

Only ``aligned_inputs`` works per record. ``info_nce`` (a loss over every pair of rows) and
``retrieval_ranks`` (each query ranked against every target of the batch) compare the records
of a batch by design: they are registered with ``batch_axis="mixed"``, and the kit jits them on
their example without the per-record comparison. The operator's default config fits the
generated records, so it needs none.

Imported only when the kit runs (it imports jax).
"""

from __future__ import annotations

from typing import Any

import jax

from modalax_multimodal.kernels import draw_latents
from modalax_multimodal.pairings import modality_id

__all__ = ["aligned_inputs", "info_nce", "retrieval_ranks"]

Call = tuple[tuple[Any, ...], dict[str, Any]]

#: Records per example and the latent size of the default synthetic dataset.
N, LATENT_DIM = 5, 32


def aligned_inputs() -> Call:
    """The image input of five records: shared latent and image nuisance drawn from their keys, strength 0.8."""
    keys = jax.random.split(jax.random.key(0), N)
    latent, nuisance, _ = draw_latents(keys, LATENT_DIM, (modality_id("image"), modality_id("text")))
    return (latent, nuisance[:, 0]), {"strength": 0.8}


def _embeddings() -> tuple[jax.Array, jax.Array]:
    """Five pairs of 16-wide embeddings, each pair near each other (noisy copies)."""
    a = jax.random.normal(jax.random.key(1), (N, 16))
    return a, a + 0.1 * jax.random.normal(jax.random.key(2), (N, 16))


def info_nce() -> Call:
    """The symmetric InfoNCE loss of five paired embeddings, CLIP's temperature."""
    return _embeddings(), {"temperature": 0.07}


def retrieval_ranks() -> Call:
    """The rank of each query's own target among five."""
    return _embeddings(), {}
