"""``GlyphCaptionDataset``: aligned image/caption/sound samples a person can read (``multimodal/glyphs``).

Each record draws four shared factors (glyph, colour, size, position; see ``glyph_world``) and
shows them three ways: a coloured glyph, a caption ("a small red seven at the top left") and a
tone.  ``alignment_strength`` ``a`` controls how much the modalities agree: for every modality
and factor, with probability ``a`` the modality shows the shared level, otherwise a level drawn
on its own.  At 1 every caption and sound describes its picture; at 0 they are independent.

Record ``i`` is a pure function of (seed, split, i), generated on demand, jitted and vectorised
over the batch: one uniform draw per record feeds every choice.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.typing import ArrayLike

from modalax.plugin import Batch, ConfigError, SyntheticDataset, check_probability, record_keys
from modalax_multimodal.config import DEFAULT_MODALITIES, MultiModalConfig
from modalax_multimodal.datasets.glyph_world import (
    CAPTION_LENGTH,
    COLOURS,
    FACTOR_LEVELS,
    caption,
    caption_table,
    caption_tokenizer,
    combo_index,
    glyph_segments,
    render_glyph_audio,
    render_glyph_image,
)

__all__ = ["GlyphCaptionDataset", "create_glyph_caption_dataset", "glyph_records"]

_F = len(FACTOR_LEVELS)
# uniforms per record: shared factors, then per modality (agree?, own level) per factor, then nuisances
_U_SHARED, _U_MODAL, _U_IMAGE, _U_AUDIO = 0, _F, _F + 6 * _F, _F + 6 * _F + 3
_U_TOTAL = _U_AUDIO + 2


def _levels(u: jax.Array) -> jax.Array:
    """Uniforms ``(..., 4)`` -> factor levels ``(..., 4)`` int32."""
    n = jnp.asarray(FACTOR_LEVELS, jnp.float32)
    return jnp.minimum(jnp.floor(u * n).astype(jnp.int32), jnp.asarray(FACTOR_LEVELS, jnp.int32) - 1)


def glyph_records(
    tables: tuple[jax.Array, ...],
    keys: jax.Array,
    strength: ArrayLike,
    *,
    image_shape: tuple[int, int, int],
    num_samples: int,
    sample_rate: int,
) -> Batch:
    """Records from one key each (pure, vectorised): draw factors, mix by ``strength``, render."""
    segments, colours, captions = tables
    u = jax.vmap(lambda k: jax.random.uniform(k, (_U_TOTAL,), jnp.float32))(keys)
    shared = _levels(u[:, _U_SHARED:_U_MODAL])
    modal = u[:, _U_MODAL:_U_IMAGE].reshape(-1, 3, 2, _F)
    agree = modal[:, :, 0] < strength
    own = _levels(modal[:, :, 1])
    factors = jnp.where(agree, shared[:, None], own)  # (B, 3, 4): image, text, audio
    image = jax.vmap(lambda f, n: render_glyph_image(segments, colours, f, n, image_shape))(
        factors[:, 0], u[:, _U_IMAGE:_U_AUDIO]
    )
    audio = jax.vmap(lambda f, n: render_glyph_audio(f, n, num_samples, sample_rate))(factors[:, 2], u[:, _U_AUDIO:])
    return {
        "image": image,
        "text": jnp.take(captions, combo_index(factors[:, 1]), axis=0),
        "audio": audio,
        "factors": shared,
        "modality_factors": factors,
        "alignment_score": jnp.broadcast_to(jnp.asarray(strength, jnp.float32), (keys.shape[0],)),
    }


@functools.partial(jax.jit, static_argnames=("image_shape", "num_samples", "sample_rate"))
def _records_jit(
    tables: tuple[jax.Array, ...],
    base_key: jax.Array,
    indices: jax.Array,
    strength: ArrayLike,
    **static: Any,
) -> Batch:
    # one executable per shape, shared by every instance, seed and strength
    return glyph_records(tables, record_keys(base_key, indices), strength, **static)


class GlyphCaptionDataset(SyntheticDataset):
    """Aligned glyph pictures, captions and tones: keys ``image``, ``text``, ``audio``, factors and strength.

    ``image`` ``(H, W, 3)`` float32 in [0, 1] (black background); ``text`` ``(12,)`` int32
    caption tokens of ``caption_tokenizer()`` (BOS, words, EOS, padding); ``audio`` ``(T,)``
    float32 in [-1, 1]; ``factors`` ``(4,)`` int32 the shared (glyph, colour, size, position);
    ``modality_factors`` ``(3, 4)`` int32 the levels the image, caption and sound actually show;
    ``alignment_score`` the strength.  ``config`` is a ``MultiModalConfig`` sized for this data,
    so ``train_contrastive`` and the encoders apply unchanged.
    """

    config: MultiModalConfig

    def __init__(
        self,
        num_samples: int = 1000,
        alignment_strength: float = 1.0,
        *,
        image_size: int = 32,
        audio_sample_rate: int = 8000,
        audio_duration: float = 0.5,
        split: str = "train",
        rngs: nnx.Rngs | int | None = None,
    ) -> None:
        owner = type(self).__name__
        check_probability(owner, "alignment_strength", alignment_strength)
        if isinstance(image_size, bool) or not isinstance(image_size, int | np.integer) or image_size < 16:
            raise ConfigError(f"{owner}.image_size: got {image_size!r}, expected an int >= 16 (pixels a side)")
        tokenizer = caption_tokenizer()
        config = MultiModalConfig(
            image_shape=(int(image_size), int(image_size), 3),
            text_vocab_size=max(len(tokenizer), 12),
            text_sequence_length=CAPTION_LENGTH,
            audio_sample_rate=audio_sample_rate,
            audio_duration=audio_duration,
            alignment_strength=alignment_strength,
            latent_dim=_F,
        )
        # the pairings validate the sizes (a ConfigError naming the option) and give the shapes
        image, audio = config.pairing("image"), config.pairing("audio")
        self.alignment_strength = float(alignment_strength)
        # the static shapes of the jitted renderer (hashable, unlike the config)
        self._shapes = (
            ("image_shape", tuple(image.sample_shape)),
            ("num_samples", int(audio.sample_shape[0])),
            ("sample_rate", int(audio.options()["sample_rate"])),
        )
        self.modalities = DEFAULT_MODALITIES
        self.tables = nnx.data(
            (
                jnp.asarray(glyph_segments()),
                jnp.asarray(np.asarray(list(COLOURS.values()), np.float32)),
                jnp.asarray(caption_table()),
            )
        )
        super().__init__(config, dataset_size=num_samples, split=split, rngs=rngs)

    @property
    def tokenizer(self) -> Any:
        """The caption tokenizer (the text plugin's word-level tokenizer): ``detokenize`` gives the words back."""
        return caption_tokenizer()

    def _static(self) -> dict[str, Any]:
        return dict(self._shapes)

    def generate_records(self, keys: jax.Array, indices: jax.Array) -> Batch:
        """Records from their keys (pure jax, vectorised; ``indices`` only name them)."""
        return glyph_records(tuple(self.tables), keys, jnp.float32(self.alignment_strength), **self._static())

    def get_records(self, indices: Any) -> Batch:
        idx = jnp.asarray(indices, dtype=jnp.int32)
        return _records_jit(tuple(self.tables), self._key, idx, np.float32(self.alignment_strength), **self._static())

    def pure_gather(self) -> tuple[Callable[[Any, Any], Batch], Any]:
        """The tables travel as arguments, so the loader's executable holds no baked-in constants."""
        base, strength, static = self._key, np.float32(self.alignment_strength), self._static()

        def gather(tables: Any, idx: Any) -> Batch:
            return glyph_records(tables, record_keys(base, jnp.asarray(idx, jnp.int32)), strength, **static)

        return gather, tuple(self.tables)

    def captions(self, tokens: Any) -> list[str]:
        """The words of caption tokens ``(B, L)`` (the inverse of the dataset's tokenization)."""
        return list(self.tokenizer.detokenize(np.asarray(tokens).reshape(-1, np.shape(tokens)[-1])))

    @staticmethod
    def describe(factors: Any) -> list[str]:
        """Captions of factor levels ``(B, 4)`` (glyph, colour, size, position)."""
        return [caption(*map(int, f)) for f in np.asarray(factors).reshape(-1, _F)]


def create_glyph_caption_dataset(
    num_samples: int = 1000,
    alignment_strength: float = 1.0,
    *,
    rngs: nnx.Rngs | int | None = None,
    seed: int | None = None,
    split: str = "train",
    image_size: int = 32,
    audio_sample_rate: int = 8000,
    audio_duration: float = 0.5,
) -> GlyphCaptionDataset:
    """A ``GlyphCaptionDataset`` (registered as ``multimodal/glyphs``); ``seed`` is a short form of ``rngs``."""
    if seed is not None and rngs is not None:
        raise ConfigError("create_glyph_caption_dataset: got both seed= and rngs=; expected one")
    return GlyphCaptionDataset(
        num_samples,
        alignment_strength,
        image_size=image_size,
        audio_sample_rate=audio_sample_rate,
        audio_duration=audio_duration,
        split=split,
        rngs=rngs if seed is None else seed,
    )
