"""Synthetic aligned data of any registered modalities, whose alignment is real and controlled.

Record ``i`` is a pure function of (seed, split, i): a latent ``z ~ N(0, I)`` and one nuisance
``n_m ~ N(0, I)`` per modality are drawn from the record's key (``kernels.draw_latents``),
mixed as ``u_m = sqrt(a) z + sqrt(1 - a) n_m`` and rendered by each modality's pairing
(``pairing.render(world, u_m, keys)``, its fixed world drawn once from ``render_seed``).  A
modality's draws and world depend on its name only, so sample ``i`` of the image is the same
whichever other modalities the dataset includes.  One jitted call renders a batch of every
modality; the worlds travel as arguments, so no data is baked into the executable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.typing import ArrayLike

from modalax.plugin import Batch, ConfigError, ModalityPairing, PluginError, SyntheticDataset, record_keys, resolve_rngs
from modalax_multimodal.config import DEFAULT_MODALITIES, MultiModalConfig
from modalax_multimodal.kernels import aligned_inputs, draw_latents
from modalax_multimodal.pairings import modality_id, world_of

__all__ = [
    "MultiModalDataset",
    "RESERVED_FIELDS",
    "create_multimodal_dataset",
    "create_synthetic_multi_modal_dataset",
    "render_records",
]

#: Fields every aligned record carries besides the modalities' own.
RESERVED_FIELDS = ("latent", "alignment_score")

Pairs = tuple[tuple[str, ModalityPairing], ...]


def _checked(name: str, pairing: ModalityPairing, x: Any, batch: int) -> jax.Array:
    """A pairing's render output, checked against its declared shape and dtype (at trace time)."""
    want = (batch, *pairing.sample_shape)
    if tuple(x.shape) != want or x.dtype != jnp.dtype(pairing.dtype):
        raise PluginError(
            f"modality {name!r}: {type(pairing).__name__}.render returned {x.dtype}{tuple(x.shape)}, "
            f"expected {pairing.dtype}{want} (batch, *sample_shape) as the pairing declares"
        )
    return x


def render_records(
    pairs: Pairs, worlds: tuple[Any, ...], keys: jax.Array, strength: ArrayLike, *, latent_dim: int
) -> Batch:
    """Aligned records from one key each: draw ``z`` and the nuisances, mix, render (pure, vectorised)."""
    z, nuisance, render_keys = draw_latents(keys, latent_dim, tuple(modality_id(n) for n, _ in pairs))
    out: Batch = {}
    for m, ((name, pairing), world) in enumerate(zip(pairs, worlds, strict=True)):
        u = aligned_inputs(z, nuisance[:, m], strength)
        out[pairing.field] = _checked(name, pairing, pairing.render(world, u, render_keys[:, m]), keys.shape[0])
    out["latent"] = z
    out["alignment_score"] = jnp.broadcast_to(jnp.asarray(strength, jnp.float32), (keys.shape[0],))
    return out


@functools.partial(jax.jit, static_argnames=("pairs", "latent_dim"))
def _records_jit(
    worlds: tuple[Any, ...],
    base_key: jax.Array,
    indices: jax.Array,
    strength: ArrayLike,
    *,
    pairs: Pairs,
    latent_dim: int,
) -> Batch:
    # one executable per (pairings, shapes), shared by every dataset instance, seed and strength
    return render_records(pairs, worlds, record_keys(base_key, indices), strength, latent_dim=latent_dim)


def _check_fields(pairs: Pairs) -> None:
    seen: dict[str, str] = {}
    for name, pairing in pairs:
        if pairing.field in RESERVED_FIELDS or pairing.field in seen:
            other = seen.get(pairing.field, "the dataset itself")
            raise ConfigError(
                f"MultiModalConfig.modalities: modality {name!r} writes field {pairing.field!r}, which {other} "
                f"writes too; expected distinct fields (the dataset adds {list(RESERVED_FIELDS)})"
            )
        seen[pairing.field] = repr(name)


class MultiModalDataset(SyntheticDataset):
    """Aligned samples: one field per modality (its pairing's ``field``), ``latent`` and ``alignment_score``.

    With the default modalities: ``image`` ``(H, W, C)`` float32 in (0, 1); ``text`` ``(L,)``
    int32 in ``[4, vocab_size)``; ``audio`` ``(T,)`` float32 in [-1, 1].  ``latent`` is the
    shared ``(latent_dim,)`` float32 ``z``; ``alignment_score`` is the float32 strength ``a``.
    ``pairings`` maps each modality to its pairing, ``worlds`` to its rendering world.
    """

    config: MultiModalConfig

    def __init__(
        self,
        modalities: Sequence[str] = DEFAULT_MODALITIES,
        num_samples: int = 1000,
        image_shape: tuple[int, int, int] | None = None,
        text_vocab_size: int | None = None,
        text_sequence_length: int | None = None,
        audio_sample_rate: int | None = None,
        audio_duration: float | None = None,
        alignment_strength: float = 0.8,
        *,
        rngs: nnx.Rngs | int | None = None,
        split: str = "train",
        latent_dim: int = 32,
        render_seed: int = 0,
        modality_options: Mapping[str, Mapping[str, Any]] | None = None,
        config: MultiModalConfig | None = None,
    ) -> None:
        if config is None:
            config = MultiModalConfig(
                # MultiModalConfig validates whatever else is passed (a clear ConfigError for a string).
                modalities=tuple(modalities) if isinstance(modalities, list | tuple) else cast(Any, modalities),
                modality_options=dict(modality_options or {}),
                image_shape=image_shape,
                text_vocab_size=text_vocab_size,
                text_sequence_length=text_sequence_length,
                audio_sample_rate=audio_sample_rate,
                audio_duration=audio_duration,
                alignment_strength=alignment_strength,
                latent_dim=latent_dim,
                render_seed=render_seed,
            )
        pairs = tuple(config.pairings().items())
        _check_fields(pairs)
        self.modalities = config.modalities
        self.alignment_strength = float(config.alignment_strength)
        self._pairs = pairs
        self.worlds = nnx.data(
            tuple(world_of(n, p, config.render_seed, config.latent_dim, owner="MultiModalConfig") for n, p in pairs)
        )
        super().__init__(config, dataset_size=num_samples, split=split, rngs=rngs)

    @property
    def num_samples(self) -> int:
        """Seed name of ``len(self)``."""
        return len(self)

    @property
    def pairings(self) -> dict[str, ModalityPairing]:
        """``{modality: pairing}`` in the order of ``modalities``."""
        return dict(self._pairs)

    @property
    def fields(self) -> dict[str, str]:
        """``{modality: record field}``."""
        return {name: p.field for name, p in self._pairs}

    @property
    def render_params(self) -> dict[str, tuple[ModalityPairing, Any]]:
        """``{modality: (pairing, world)}``: everything that renders a sample (for ``reference.py``)."""
        return {name: (p, w) for (name, p), w in zip(self._pairs, self.worlds, strict=True)}

    def _static(self) -> dict[str, Any]:
        return {"pairs": self._pairs, "latent_dim": self.config.latent_dim}

    def generate_records(self, keys: jax.Array, indices: jax.Array) -> Batch:
        """Records from their keys (pure jax, vectorised; ``indices`` only name them)."""
        return render_records(
            self._pairs,
            tuple(self.worlds),
            keys,
            jnp.float32(self.alignment_strength),
            latent_dim=self.config.latent_dim,
        )

    def get_records(self, indices: Any) -> Batch:
        idx = jnp.asarray(self.checked_indices(indices), dtype=jnp.int32)
        return _records_jit(tuple(self.worlds), self._key, idx, np.float32(self.alignment_strength), **self._static())

    def pure_gather(self) -> tuple[Callable[[Any, Any], Batch], Any]:
        """The worlds travel as arguments, so the loader's executable holds no baked-in constants."""
        base, strength, pairs, dim = self._key, np.float32(self.alignment_strength), self._pairs, self.config.latent_dim

        def gather(worlds: tuple[Any, ...], idx: Any) -> Batch:
            keys = record_keys(base, jnp.asarray(idx, jnp.int32))
            return render_records(pairs, worlds, keys, strength, latent_dim=dim)

        return gather, tuple(self.worlds)

    def latents(self, indices: Any) -> tuple[jax.Array, jax.Array]:
        """The draws behind records ``indices``: ``latent (B, d)`` and ``nuisance (B, M, d)`` (modalities in order)."""
        idx = jnp.asarray(indices, dtype=jnp.int32)
        ids = tuple(modality_id(n) for n, _ in self._pairs)
        z, nuisance, _ = draw_latents(record_keys(self._key, idx), self.config.latent_dim, ids)
        return z, nuisance


def create_synthetic_multi_modal_dataset(
    modalities: Sequence[str] = DEFAULT_MODALITIES,
    num_samples: int = 1000,
    alignment_strength: float = 0.8,
    *,
    rngs: nnx.Rngs | int | None = None,
    image_shape: tuple[int, int, int] | None = None,
    text_vocab_size: int | None = None,
    text_sequence_length: int | None = None,
    audio_sample_rate: int | None = None,
    audio_duration: float | None = None,
    split: str = "train",
    latent_dim: int = 32,
    render_seed: int = 0,
    modality_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> MultiModalDataset:
    """A ``MultiModalDataset`` (the documented signature); ``alignment_strength`` 0 = independent, 1 = aligned.

    The image/text/audio keywords are shorthands for options of those pairings (None: the
    pairing's default: 32x32x3 images, 1,000 ids, 50 tokens, 1 s at 16 kHz);
    ``modality_options={"name": {...}}`` sets any modality's options.
    """
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
        modality_options=modality_options,
    )


def create_multimodal_dataset(
    modalities: Sequence[str],
    num_samples: int = 1000,
    alignment_strength: float = 0.8,
    *,
    modality_options: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int | None = None,
    rngs: nnx.Rngs | int | None = None,
    split: str = "train",
    latent_dim: int = 32,
    render_seed: int = 0,
) -> MultiModalDataset:
    """Aligned data of any registered modalities that implement the pairing protocol.

    ``create_multimodal_dataset(["timeseries", "image"], 1000, 0.8, modality_options={"timeseries":
    {"length": 64}})``: each modality is rendered by its own pairing from a shared latent.
    """
    return MultiModalDataset(
        modalities,
        num_samples,
        alignment_strength=alignment_strength,
        rngs=resolve_rngs("create_multimodal_dataset.rngs", rngs, seed),
        split=split,
        latent_dim=latent_dim,
        render_seed=render_seed,
        modality_options=modality_options,
    )
