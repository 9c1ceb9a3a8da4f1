"""Trainable encoders of each modality, from the modality's own pairing, and finding modalities in batches.

``modality_inputs`` finds each modality in a batch whichever plugin produced it: under the
pairing's ``field`` (``image``) or one of its aliases (``images``, the image plugin's key).
``build_encoders`` asks each pairing for its encoder (``pairing.encoder(embed_dim, rngs=)``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from modalax.plugin import ConfigError, ModalityPairing
from modalax_multimodal.config import DEFAULT_MODALITIES, MultiModalConfig
from modalax_multimodal.pairings import get_pairing
from modalax_multimodal.pairings import modality_inputs as _inputs

__all__ = ["build_encoders", "encoder_of", "modality_inputs"]


def modality_inputs(
    batch: Mapping[str, Any],
    modalities: Sequence[str] | None = None,
    *,
    pairings: Mapping[str, ModalityPairing] | None = None,
) -> dict[str, jax.Array]:
    """``{modality: array}`` for the modalities present in ``batch`` (or exactly ``modalities``).

    Keys come from ``pairings`` (default: the pairings of ``modalities``, or of the default
    image/text/audio, with default options). Naming ``modalities`` makes each one required.
    """
    if pairings is None:
        pairings = {m: get_pairing(m) for m in (modalities if modalities is not None else DEFAULT_MODALITIES)}
    elif modalities is not None:
        pairings = {m: pairings[m] if m in pairings else get_pairing(m) for m in modalities}
    found = _inputs(batch, {m: p.batch_keys for m, p in pairings.items()}, required=modalities)
    return {m: jnp.asarray(x) for m, x in found.items()}


@functools.lru_cache(maxsize=64)
def _takes_hidden_dim(encoder: Any) -> bool:
    params = inspect.signature(encoder).parameters
    return "hidden_dim" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def encoder_of(
    name: str, pairing: ModalityPairing, embed_dim: int, *, rngs: nnx.Rngs, hidden_dim: int | None = None
) -> nnx.Module:
    """``pairing.encoder(embed_dim, rngs=rngs)``, with ``hidden_dim=`` when one is given.

    ``hidden_dim`` (the encoder's width) is not part of the pairing protocol 1.0: a pairing
    whose ``encoder`` does not take it gets a ``ConfigError`` rather than a silently ignored width.
    """
    if hidden_dim is None:
        return pairing.encoder(embed_dim, rngs=rngs)
    if not _takes_hidden_dim(type(pairing).encoder):
        raise ConfigError(
            f"hidden_dim: got {hidden_dim}, but modality {name!r}'s pairing ({type(pairing).__name__}.encoder) "
            "takes no hidden_dim; expected hidden_dim=None (each encoder then uses its own width)"
        )
    return pairing.encoder(embed_dim, rngs=rngs, hidden_dim=hidden_dim)


def build_encoders(
    config: MultiModalConfig,
    *,
    rngs: nnx.Rngs,
    hidden_dim: int | None = None,
    modalities: Sequence[str] | None = None,
) -> dict[str, nnx.Module]:
    """One encoder per modality of ``config`` (or of ``modalities``), each to ``config.embed_dim``."""
    names = tuple(modalities) if modalities is not None else config.modalities
    encoders: dict[str, nnx.Module] = {}
    for name in names:
        encoders[name] = encoder_of(name, config.pairing(name), config.embed_dim, rngs=rngs, hidden_dim=hidden_dim)
    return encoders
