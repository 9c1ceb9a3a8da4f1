"""Fixed (untrained) features of each modality, from the modality's own pairing.

They know nothing of how synthetic data is rendered: each pairing offers a parameter-free
feature map (pooled pixels for images, a bag of words for text, a random projection for
audio, ...).  A linear probe on them says how much of a latent a modality carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from modalax.plugin import DataError, ModalityPairing
from modalax_multimodal.pairings import find_key, get_pairing

__all__ = ["modality_features"]


def modality_features(
    batch: Mapping[str, Any],
    modality: str,
    pairing: ModalityPairing | None = None,
    *,
    options: Mapping[str, Any] | None = None,
) -> jax.Array:
    """``pairing.features`` of ``modality``'s data in ``batch`` (found under the pairing's batch keys).

    ``pairing`` defaults to the modality's pairing built with ``options``.
    """
    pairing = pairing if pairing is not None else get_pairing(modality, options)
    key = find_key(batch, pairing.batch_keys)
    if key is None:
        raise DataError(
            f"modality_features: batch has no {modality!r} data (keys {sorted(batch)}); "
            f"expected one of {list(pairing.batch_keys)}"
        )
    return pairing.features(jnp.asarray(batch[key]))
