"""Configuration of the multi-modal plugin: one frozen dataclass shared by data and models.

The modalities are any registered modality names; each is reached through its pairing
(``modalax.plugin.pairing_of(name, options)``), built with the options of
``modality_options[name]``.  The seed's keyword arguments (``image_shape``,
``text_vocab_size``, ...) are shorthands for options of the image, text and audio pairings.
This module imports no jax (the registry lookup it makes imports hook modules only), so the
hook module and ``modalax info multimodal`` stay light; pairings are built on first use.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modalax.plugin import (
    BaseModalityConfig,
    ConfigError,
    check_positive,
    check_probability,
    check_type,
    coerce_enum,
    list_modalities,
    plain_scalar,
    unknown_name_message,
)

if TYPE_CHECKING:
    from modalax.plugin import ModalityPairing

__all__ = [
    "DEFAULT_MODALITIES",
    "MODALITY_NAMES",
    "SHORTHANDS",
    "FusionStrategy",
    "MultiModalConfig",
    "canonical_options",
    "check_modalities",
]

#: The modalities of a sample when none are named (any registered, pairable modality may be used).
DEFAULT_MODALITIES: tuple[str, ...] = ("image", "text", "audio")
#: Former name of ``DEFAULT_MODALITIES``.
MODALITY_NAMES = DEFAULT_MODALITIES
#: Seed keyword arguments and the ``(modality, option)`` of the pairing each one sets.
SHORTHANDS: dict[str, tuple[str, str]] = {
    "image_shape": ("image", "shape"),
    "text_vocab_size": ("text", "vocab_size"),
    "text_sequence_length": ("text", "sequence_length"),
    "audio_sample_rate": ("audio", "sample_rate"),
    "audio_duration": ("audio", "duration"),
}

_OWNER = "MultiModalConfig"


class FusionStrategy(enum.Enum):
    """How embeddings of several modalities are combined into one."""

    EARLY = "early"
    CONCAT = "concat"
    MEAN = "mean"
    WEIGHTED = "weighted"
    ATTENTION = "attention"
    HIERARCHICAL = "hierarchical"


def _canonical(value: Any) -> Any:
    """Sequences as tuples, mappings as dicts, numpy scalars as Python ones (JSON round trips compare equal)."""
    value = plain_scalar(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return tuple(_canonical(v) for v in value)
    return value


def check_modalities(owner: str, modalities: Any, *, allow_empty: bool = False) -> tuple[str, ...]:
    """Registered modality names as a tuple (``ConfigError`` for unknown names or duplicates)."""
    known = [m for m in list_modalities() if m != "multimodal"]
    if isinstance(modalities, str) or not isinstance(modalities, Sequence):
        raise ConfigError(f"{owner}.modalities: got {modalities!r}, expected a list of modality names from {known}")
    names = tuple(modalities)
    if not names and not allow_empty:
        raise ConfigError(f"{owner}.modalities: got an empty list, expected at least one of {known}")
    for name in names:
        if not isinstance(name, str) or name not in known:
            raise ConfigError(f"{owner}.modalities: " + unknown_name_message("modality", name, known))
    if len(set(names)) != len(names):
        raise ConfigError(f"{owner}.modalities: got {list(names)}, expected each modality once")
    return names


def canonical_options(owner: str, options: Any) -> dict[str, dict[str, Any]]:
    """``{modality: {option: value}}`` checked for shape and registered modality names."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ConfigError(f"{owner}.modality_options: got {options!r}, expected {{modality: {{option: value}}}}")
    known = list_modalities()
    out: dict[str, dict[str, Any]] = {}
    for name, opts in options.items():
        if name not in known:
            raise ConfigError(f"{owner}.modality_options: " + unknown_name_message("modality", name, known))
        if not isinstance(opts, Mapping) or any(not isinstance(k, str) for k in opts):
            raise ConfigError(
                f"{owner}.modality_options[{name!r}]: got {opts!r}, expected a dict of option names to values"
            )
        out[name] = _canonical(opts)
    return out


@dataclass(frozen=True)
class MultiModalConfig(BaseModalityConfig):
    """The modalities of an aligned sample, their pairing options, its alignment, and model sizes.

    ``alignment_strength`` ``a`` mixes a shared latent ``z`` with a per-modality nuisance
    ``n_m`` as ``sqrt(a) z + sqrt(1 - a) n_m`` before each modality is rendered: at 0 the
    modalities are independent of ``z`` and of each other, at 1 each is a function of ``z``.
    ``render_seed`` fixes the rendering maps (the "world"); the dataset seed only picks samples.

    ``modality_options[name]`` are the options of modality ``name``'s pairing; the seed
    shorthands (``image_shape``, ``text_vocab_size``, ``text_sequence_length``,
    ``audio_sample_rate``, ``audio_duration``; None: the pairing's default) set options of the
    image, text and audio pairings (``SHORTHANDS``).  ``fusion="hierarchical"`` fuses along
    a tree whose inner nodes are ``group_dim`` wide and whose root is ``fused_dim`` wide
    (both default ``embed_dim``).
    """

    modalities: tuple[str, ...] = DEFAULT_MODALITIES
    modality_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    image_shape: tuple[int, int, int] | None = None
    text_vocab_size: int | None = None
    text_sequence_length: int | None = None
    audio_sample_rate: int | None = None
    audio_duration: float | None = None
    alignment_strength: float = 0.8
    latent_dim: int = 32
    render_seed: int = 0
    embed_dim: int = 64
    fusion: FusionStrategy = FusionStrategy.ATTENTION
    num_heads: int = 4
    group_dim: int | None = None
    fused_dim: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "modalities", check_modalities(_OWNER, self.modalities))
        options = canonical_options(_OWNER, self.modality_options)
        for shorthand, (name, option) in SHORTHANDS.items():
            value = _canonical(getattr(self, shorthand))
            if value is None:
                continue
            object.__setattr__(self, shorthand, value)
            given = options.get(name, {})
            if option in given and given[option] != value:
                raise ConfigError(
                    f"{_OWNER}.{shorthand}: got {value!r}, but modality_options[{name!r}][{option!r}] is "
                    f"{given[option]!r}; expected one of the two (the shorthand sets that option)"
                )
        object.__setattr__(self, "modality_options", options)
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
        for name in ("group_dim", "fused_dim"):
            value = getattr(self, name)
            if value is None:
                continue
            check_positive(_OWNER, name, value)
            if self.fusion is not FusionStrategy.HIERARCHICAL:
                raise ConfigError(
                    f"{_OWNER}.{name}: got {value}, but fusion is {self.fusion.value!r}; "
                    "expected None (it sizes fusion='hierarchical' only)"
                )

    def __hash__(self) -> int:
        # the option mappings are left out (dicts do not hash); equal configs still hash equal
        return hash(tuple(getattr(self, f) for f in _HASHED))

    def options_for(self, modality: str) -> dict[str, Any]:
        """The pairing options of ``modality``: ``modality_options[modality]`` plus its shorthands."""
        out = dict(self.modality_options.get(modality, {}))
        for shorthand, (name, option) in SHORTHANDS.items():
            value = getattr(self, shorthand)
            if name == modality and value is not None:
                out[option] = value
        return out

    def pairing(self, modality: str) -> ModalityPairing:
        """The pairing of ``modality`` with this config's options (built once per process)."""
        from modalax_multimodal.pairings import get_pairing

        return get_pairing(modality, self.options_for(modality), owner=_OWNER)

    def pairings(self) -> dict[str, ModalityPairing]:
        """``{modality: pairing}`` for every modality of this config, in order."""
        return {m: self.pairing(m) for m in self.modalities}


_HASHED = tuple(f for f in MultiModalConfig.__dataclass_fields__ if f != "modality_options")
