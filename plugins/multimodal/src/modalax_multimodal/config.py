"""Configuration of the multi-modal plugin: one frozen dataclass shared by data and models.

This module imports no jax, so the hook module and ``modalax info multimodal`` stay light.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modalax.plugin import (
    BaseModalityConfig,
    ConfigError,
    check_positive,
    check_probability,
    check_type,
    coerce_enum,
    unknown_name_message,
)

__all__ = [
    "DATA_KEYS",
    "MODALITY_NAMES",
    "RESERVED_TOKENS",
    "TEXT_LEVELS",
    "FusionStrategy",
    "MultiModalConfig",
    "check_modalities",
]

#: Modalities a multi-modal sample can carry, in canonical order.
MODALITY_NAMES: tuple[str, ...] = ("image", "text", "audio")
#: Batch keys that hold each modality: this plugin's keys first, then the single-modality plugins' keys.
DATA_KEYS: dict[str, tuple[str, ...]] = {
    "image": ("image", "images"),
    "text": ("text", "text_tokens"),
    "audio": ("audio",),
}
#: Token ids 0..3 are pad, unk, bos and eos, as in the text plugin; synthetic text never uses them.
RESERVED_TOKENS = 4
#: Quantisation levels of each text position (see ``kernels.render_text``).
TEXT_LEVELS = 8

_OWNER = "MultiModalConfig"


class FusionStrategy(enum.Enum):
    """How embeddings of several modalities are combined into one."""

    EARLY = "early"
    CONCAT = "concat"
    MEAN = "mean"
    WEIGHTED = "weighted"
    ATTENTION = "attention"


def check_modalities(owner: str, modalities: Any, *, allow_empty: bool = False) -> tuple[str, ...]:
    """Validate a list of modality names; returns it as a tuple (duplicates are an error)."""
    if isinstance(modalities, str) or not isinstance(modalities, Sequence):
        raise ConfigError(f"{owner}.modalities: got {modalities!r}, expected a list of names from {MODALITY_NAMES}")
    names = tuple(modalities)
    if not names and not allow_empty:
        raise ConfigError(f"{owner}.modalities: got an empty list, expected at least one of {MODALITY_NAMES}")
    for name in names:
        if name not in MODALITY_NAMES:
            raise ConfigError(f"{owner}.modalities: " + unknown_name_message("modality", name, MODALITY_NAMES))
    if len(set(names)) != len(names):
        raise ConfigError(f"{owner}.modalities: got {list(names)}, expected each modality once")
    return names


@dataclass(frozen=True)
class MultiModalConfig(BaseModalityConfig):
    """Shapes of an aligned image/text/audio sample, its alignment, and model sizes.

    ``alignment_strength`` ``a`` mixes a shared latent ``z`` with a per-modality nuisance
    ``n_m`` as ``sqrt(a) z + sqrt(1 - a) n_m`` before each modality is rendered: at 0 the
    modalities are independent of ``z`` and of each other, at 1 each is a function of ``z``.
    ``render_seed`` fixes the rendering maps (the "world"); the dataset seed only picks samples.
    """

    modalities: tuple[str, ...] = MODALITY_NAMES
    image_shape: tuple[int, int, int] = (32, 32, 3)
    text_vocab_size: int = 1000
    text_sequence_length: int = 50
    audio_sample_rate: int = 16000
    audio_duration: float = 1.0
    alignment_strength: float = 0.8
    latent_dim: int = 32
    render_seed: int = 0
    embed_dim: int = 64
    fusion: FusionStrategy = FusionStrategy.ATTENTION
    num_heads: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "modalities", check_modalities(_OWNER, self.modalities))
        shape = self.image_shape
        if (
            not isinstance(shape, Sequence)
            or len(shape) != 3
            or any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 for s in shape)
        ):
            raise ConfigError(f"{_OWNER}.image_shape: got {shape!r}, expected (height, width, channels) positive ints")
        object.__setattr__(self, "image_shape", tuple(shape))
        check_positive(_OWNER, "text_vocab_size", self.text_vocab_size)
        if self.text_vocab_size < RESERVED_TOKENS + TEXT_LEVELS:
            raise ConfigError(
                f"{_OWNER}.text_vocab_size: got {self.text_vocab_size}, expected >= {RESERVED_TOKENS + TEXT_LEVELS} "
                f"({RESERVED_TOKENS} reserved ids plus {TEXT_LEVELS} levels)"
            )
        check_positive(_OWNER, "text_sequence_length", self.text_sequence_length)
        check_positive(_OWNER, "audio_sample_rate", self.audio_sample_rate)
        check_positive(_OWNER, "audio_duration", self.audio_duration, integer=False)
        if self.audio_num_samples < 16:
            raise ConfigError(
                f"{_OWNER}.audio_duration: got {self.audio_duration} s at {self.audio_sample_rate} Hz "
                f"({self.audio_num_samples} samples), expected at least 16 samples"
            )
        check_probability(_OWNER, "alignment_strength", self.alignment_strength)
        check_positive(_OWNER, "latent_dim", self.latent_dim)
        check_type(_OWNER, "render_seed", self.render_seed, int, "an int")
        check_positive(_OWNER, "embed_dim", self.embed_dim)
        object.__setattr__(self, "fusion", coerce_enum(_OWNER, "fusion", self.fusion, FusionStrategy))
        check_positive(_OWNER, "num_heads", self.num_heads)
        if self.embed_dim % self.num_heads:
            raise ConfigError(
                f"{_OWNER}.num_heads: got {self.num_heads}, expected a divisor of embed_dim={self.embed_dim}"
            )

    @property
    def audio_num_samples(self) -> int:
        """Samples per clip: ``round(audio_sample_rate * audio_duration)``."""
        return round(self.audio_sample_rate * self.audio_duration)
