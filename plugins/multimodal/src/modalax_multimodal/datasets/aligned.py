"""Synthetic aligned image/text/audio data whose alignment is real and controlled.

Record ``i`` is a pure function of (seed, split, i): a latent ``z ~ N(0, I)`` and one nuisance
``n_m ~ N(0, I)`` per modality are drawn from the record's key, mixed as
``u_m = sqrt(a) z + sqrt(1 - a) n_m`` and rendered by the fixed maps of ``kernels.py``.  The
nuisances of all three modalities are always drawn, so sample ``i`` of a dataset is the
same whichever modalities it includes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.typing import ArrayLike

from modalax.plugin import Batch, SyntheticDataset, record_keys
from modalax_multimodal.config import MODALITY_NAMES, MultiModalConfig
from modalax_multimodal.kernels import (
    RenderParams,
    aligned_inputs,
    make_render_params,
    render_audio,
    render_image,
    render_text,
)

__all__ = ["MultiModalDataset", "create_synthetic_multi_modal_dataset", "draw_latents", "render_records"]


def draw_latents(keys: jax.Array, latent_dim: int) -> tuple[jax.Array, jax.Array]:
    """Per-record ``latent (B, d)`` and ``nuisance (B, 3, d)`` (image, text, audio) from one key each."""

    def one(key: jax.Array) -> tuple[jax.Array, jax.Array]:
        k_z, k_n = jax.random.split(key)
        return jax.random.normal(k_z, (latent_dim,)), jax.random.normal(k_n, (len(MODALITY_NAMES), latent_dim))

    return jax.vmap(one)(keys)


def render_records(
    maps: tuple[Any, Any, Any], keys: jax.Array, strength: ArrayLike, *, modalities: tuple[str, ...], latent_dim: int
) -> Batch:
    """Aligned records from one key each: draw ``z`` and the nuisances, mix, render (pure, vectorised)."""
    image_basis, (audio_basis, envelope), (directions, edges, table) = maps
    z, nuisance = draw_latents(keys, latent_dim)
    out: Batch = {}
    for m, name in enumerate(MODALITY_NAMES):
        if name not in modalities:
            continue
        u = aligned_inputs(z, nuisance[:, m], strength)
        if name == "image":
            out["image"] = render_image(u, image_basis)
        elif name == "text":
            out["text"] = render_text(u, directions, edges, table)
        else:
            out["audio"] = render_audio(u, audio_basis, envelope)
    out["latent"] = z
    out["alignment_score"] = jnp.broadcast_to(jnp.asarray(strength, jnp.float32), (keys.shape[0],))
    return out


@functools.partial(jax.jit, static_argnames=("modalities", "latent_dim"))
def _records_jit(
    maps: tuple[Any, Any, Any],
    base_key: jax.Array,
    indices: jax.Array,
    strength: ArrayLike,
    *,
    modalities: tuple[str, ...],
    latent_dim: int,
) -> Batch:
    # one executable per (shapes, modalities), shared by every dataset instance, seed and strength
    keys = record_keys(base_key, indices)
    return render_records(maps, keys, strength, modalities=modalities, latent_dim=latent_dim)


class _Maps(nnx.Module):
    """The dense rendering maps, held as nnx data so datasets stay ordinary nnx modules."""

    def __init__(self, params: RenderParams, config: MultiModalConfig) -> None:
        mods = config.modalities
        self.image = params.image_basis() if "image" in mods else jnp.zeros((0,))
        self.audio = params.audio_basis(config.audio_sample_rate) if "audio" in mods else jnp.zeros((0, 1))
        self.envelope = params.audio_envelope if "audio" in mods else jnp.zeros((0,))
        self.text = nnx.data((params.text_directions, params.text_edges, params.text_table))


class MultiModalDataset(SyntheticDataset):
    """Aligned samples with keys ``image``, ``text``, ``audio`` (those requested), ``latent``, ``alignment_score``.

    ``image`` is ``(H, W, C)`` float32 in (0, 1); ``text`` is ``(L,)`` int32 in
    ``[4, text_vocab_size)``; ``audio`` is ``(T,)`` float32 in [-1, 1]; ``latent`` is the shared
    ``(latent_dim,)`` float32 ``z``; ``alignment_score`` is the float32 strength ``a``.
    """

    config: MultiModalConfig

    def __init__(
        self,
        modalities: Sequence[str] = MODALITY_NAMES,
        num_samples: int = 1000,
        image_shape: tuple[int, int, int] = (32, 32, 3),
        text_vocab_size: int = 1000,
        text_sequence_length: int = 50,
        audio_sample_rate: int = 16000,
        audio_duration: float = 1.0,
        alignment_strength: float = 0.8,
        *,
        rngs: nnx.Rngs | int | None = None,
        split: str = "train",
        latent_dim: int = 32,
        render_seed: int = 0,
        config: MultiModalConfig | None = None,
    ) -> None:
        if config is None:
            config = MultiModalConfig(
                # MultiModalConfig validates whatever else is passed (a clear ConfigError for a string).
                modalities=tuple(modalities) if isinstance(modalities, list | tuple) else cast(Any, modalities),
                image_shape=image_shape,
                text_vocab_size=text_vocab_size,
                text_sequence_length=text_sequence_length,
                audio_sample_rate=audio_sample_rate,
                audio_duration=audio_duration,
                alignment_strength=alignment_strength,
                latent_dim=latent_dim,
                render_seed=render_seed,
            )
        self.modalities = config.modalities
        self.alignment_strength = float(config.alignment_strength)
        self.render_params = nnx.data(make_render_params(config))
        self.maps = _Maps(self.render_params, config)
        super().__init__(config, dataset_size=num_samples, split=split, rngs=rngs)

    @property
    def num_samples(self) -> int:
        """Seed name of ``len(self)``."""
        return len(self)

    def _map_args(self) -> tuple[Any, Any, Any]:
        return (self.maps.image, (self.maps.audio, self.maps.envelope), tuple(self.maps.text))

    def _static(self) -> dict[str, Any]:
        return {"modalities": self.modalities, "latent_dim": self.config.latent_dim}

    def generate_records(self, keys: jax.Array, indices: jax.Array) -> Batch:
        """Records from their keys (pure jax, vectorised; ``indices`` only name them)."""
        return render_records(self._map_args(), keys, jnp.float32(self.alignment_strength), **self._static())

    def get_records(self, indices: Any) -> Batch:
        idx = jnp.asarray(indices, dtype=jnp.int32)
        return _records_jit(self._map_args(), self._key, idx, np.float32(self.alignment_strength), **self._static())

    def pure_gather(self) -> tuple[Callable[[Any, Any], Batch], Any]:
        """The maps travel as arguments, so the loader's executable holds no baked-in constants."""
        base, strength, static = self._key, np.float32(self.alignment_strength), self._static()

        def gather(args: tuple[Any, Any, Any], idx: Any) -> Batch:
            return render_records(args, record_keys(base, jnp.asarray(idx, jnp.int32)), strength, **static)

        return gather, self._map_args()

    def latents(self, indices: Any) -> tuple[jax.Array, jax.Array]:
        """The draws behind records ``indices``: ``latent (B, d)`` and ``nuisance (B, 3, d)``."""
        idx = jnp.asarray(indices, dtype=jnp.int32)
        return draw_latents(record_keys(self._key, idx), self.config.latent_dim)


def create_synthetic_multi_modal_dataset(
    modalities: Sequence[str] = MODALITY_NAMES,
    num_samples: int = 1000,
    alignment_strength: float = 0.8,
    *,
    rngs: nnx.Rngs | int | None = None,
    image_shape: tuple[int, int, int] = (32, 32, 3),
    text_vocab_size: int = 1000,
    text_sequence_length: int = 50,
    audio_sample_rate: int = 16000,
    audio_duration: float = 1.0,
    split: str = "train",
    latent_dim: int = 32,
    render_seed: int = 0,
) -> MultiModalDataset:
    """A ``MultiModalDataset`` (seed 04 signature); ``alignment_strength`` 0 = independent, 1 = aligned."""
    return MultiModalDataset(
        modalities,
        num_samples,
        image_shape,
        text_vocab_size,
        text_sequence_length,
        audio_sample_rate,
        audio_duration,
        alignment_strength,
        rngs=rngs,
        split=split,
        latent_dim=latent_dim,
        render_seed=render_seed,
    )
