"""The registered dataset types of ``multimodal``, in the one factory form every modalax plugin keeps.

``create_dataset("multimodal", TYPE, config=..., dataset_size=..., seed=...)``: the config first,
then the data where there is some, then ``split``; keyword ``seed``/``rngs``; generated data
sized by ``dataset_size``. The API reference's functions (``create_synthetic_multi_modal_dataset``,
``MultiModalPairedDataset(pairs, data, ...)``) keep their own signatures; these wrap them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from flax import nnx

from modalax.plugin import ConfigError, resolve_rngs, unknown_name_message
from modalax_multimodal.config import MultiModalConfig
from modalax_multimodal.datasets.aligned import MultiModalDataset
from modalax_multimodal.datasets.glyphs import GlyphCaptionDataset
from modalax_multimodal.datasets.paired import MultiModalPairedDataset

__all__ = ["glyphs", "paired", "synthetic"]

#: Options of the glyph world a ``glyphs`` config may set.
GLYPH_OPTIONS = ("alignment_strength", "image_size", "audio_sample_rate", "audio_duration")


def _config(owner: str, config: Any, fields: dict[str, Any]) -> MultiModalConfig:
    if config is not None and fields:
        raise ConfigError(f"{owner}: got config and the field(s) {sorted(fields)}; expected one of them")
    if config is None:
        config = fields
    if isinstance(config, Mapping):
        known = {f.name for f in dataclasses.fields(MultiModalConfig)}
        for name in config:
            if name not in known:
                raise ConfigError(f"{owner}: " + unknown_name_message("MultiModalConfig field", name, known))
        return MultiModalConfig.from_dict(config)
    if not isinstance(config, MultiModalConfig):
        raise ConfigError(f"{owner}.config: got {type(config).__name__}, expected a MultiModalConfig, a dict or None")
    return config


def synthetic(
    config: MultiModalConfig | Mapping[str, Any] | None = None,
    split: str = "train",
    *,
    dataset_size: int = 1000,
    seed: int | None = None,
    rngs: nnx.Rngs | int | None = None,
    **fields: Any,
) -> MultiModalDataset:
    """Aligned records of ``config.modalities`` (any pairable modalities) rendered from a shared latent.

    Instead of ``config``, its fields may be given as keywords (``modalities=["timeseries", "image"]``).
    """
    config = _config("multimodal/synthetic", config, fields)
    return MultiModalDataset(
        config=config, num_samples=dataset_size, split=split, rngs=resolve_rngs("multimodal/synthetic.rngs", rngs, seed)
    )


def glyphs(
    config: Mapping[str, Any] | None = None,
    split: str = "train",
    *,
    dataset_size: int = 1000,
    seed: int | None = None,
    rngs: nnx.Rngs | int | None = None,
    **options: Any,
) -> GlyphCaptionDataset:
    """Coloured glyphs with captions and tones; ``config`` (or keywords) sets any of ``GLYPH_OPTIONS``."""
    if config is not None and options:
        raise ConfigError(f"multimodal/glyphs: got config and the option(s) {sorted(options)}; expected one of them")
    if config is None:
        config = options
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"multimodal/glyphs.config: got {type(config).__name__}, expected a dict of {', '.join(GLYPH_OPTIONS)}"
        )
    options = dict(config)
    unknown = sorted(set(options) - set(GLYPH_OPTIONS))
    if unknown:
        raise ConfigError(f"multimodal/glyphs.config: unknown option(s) {unknown}; expected some of {GLYPH_OPTIONS}")
    rngs = resolve_rngs("multimodal/glyphs.rngs", rngs, seed)
    return GlyphCaptionDataset(dataset_size, split=split, rngs=rngs, **options)


def paired(
    config: Any = None,
    data: Mapping[str, Any] | None = None,
    split: str = "train",
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    alignments: Any = None,
    seed: int | None = None,
    rngs: nnx.Rngs | int | None = None,
) -> MultiModalPairedDataset:
    """Your arrays of several modalities (``data={"image": ..., "text": ...}``) paired as ``pairs``."""
    if config is not None:
        raise ConfigError(f"multimodal/paired.config: got {type(config).__name__}, expected None (it has no config)")
    rngs = resolve_rngs("multimodal/paired.rngs", rngs, seed)
    return MultiModalPairedDataset(pairs, data, alignments, split=split, rngs=rngs)
