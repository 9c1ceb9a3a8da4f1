"""Pure, jittable kernels of aligned data that know no modality: the shared draws and the mixing.

Every kernel is vectorised over a leading batch axis.

* ``draw_latents``: from one key per record, the shared latent ``z ~ N(0, I)`` and, per
  modality, a nuisance ``n_m ~ N(0, I)`` and a key for the modality's own rendering noise.
  A modality's draws come from the record key folded with a stable id of its *name*, so sample
  ``i`` of a modality is the same whichever other modalities a dataset has.
* ``aligned_inputs``: ``u_m = sqrt(a) z + sqrt(1 - a) n_m`` (variance preserving), the input
  each modality's pairing renders.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["aligned_inputs", "draw_latents"]


def draw_latents(
    keys: jax.Array, latent_dim: int, modality_ids: tuple[int, ...]
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per record: ``latent (B, d)``, ``nuisance (B, M, d)`` and render keys ``(B, M)``, in ``modality_ids`` order."""

    def one(key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        k_z, k_n = jax.random.split(key)
        own = [jax.random.split(jax.random.fold_in(k_n, i)) for i in modality_ids]
        nuisance = [jax.random.normal(k[0], (latent_dim,)) for k in own]
        z = jax.random.normal(k_z, (latent_dim,))
        if not own:
            return z, jnp.zeros((0, latent_dim)), jax.random.split(k_n, 0)
        return z, jnp.stack(nuisance), jnp.stack([k[1] for k in own])

    return jax.vmap(one)(keys)


def aligned_inputs(latent: jax.Array, nuisance: jax.Array, strength: ArrayLike) -> jax.Array:
    """``sqrt(a) * latent + sqrt(1 - a) * nuisance``: unit variance, correlation ``sqrt(a)`` with ``latent``."""
    a = jnp.asarray(strength, latent.dtype)
    return jnp.sqrt(a) * latent + jnp.sqrt(1.0 - a) * nuisance
