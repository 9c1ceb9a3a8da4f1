"""The multi-modal datasets: latent-aligned synthetic data, glyph captions, and paired user data."""

from modalax_multimodal.datasets.aligned import (
    MultiModalDataset,
    create_multimodal_dataset,
    create_synthetic_multi_modal_dataset,
    render_records,
)
from modalax_multimodal.datasets.glyphs import GlyphCaptionDataset, create_glyph_caption_dataset, glyph_records
from modalax_multimodal.datasets.paired import MultiModalPairedDataset
from modalax_multimodal.kernels import draw_latents

__all__ = [
    "GlyphCaptionDataset",
    "MultiModalDataset",
    "MultiModalPairedDataset",
    "create_glyph_caption_dataset",
    "create_multimodal_dataset",
    "create_synthetic_multi_modal_dataset",
    "draw_latents",
    "glyph_records",
    "render_records",
]
