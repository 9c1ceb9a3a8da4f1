"""modalax-multimodal: aligned data of any pairable modalities whose alignment is real, fusion and cross-modal models.

``import modalax_multimodal`` is light (the entry point imports it): jax-heavy names are
imported on first access.
"""

from __future__ import annotations

from modalax.plugin import lazy_exports

__version__ = "0.2.0"

_LAZY = {
    "DEFAULT_MODALITIES": "modalax_multimodal.config",
    "MODALITY_NAMES": "modalax_multimodal.config",
    "FusionStrategy": "modalax_multimodal.config",
    "MultiModalConfig": "modalax_multimodal.config",
    "MultiModalDataset": "modalax_multimodal.datasets",
    "create_synthetic_multi_modal_dataset": "modalax_multimodal.datasets",
    "create_multimodal_dataset": "modalax_multimodal.datasets",
    "MultiModalPairedDataset": "modalax_multimodal.datasets.paired",
    "GlyphCaptionDataset": "modalax_multimodal.datasets.glyphs",
    "create_glyph_caption_dataset": "modalax_multimodal.datasets.glyphs",
    "CaptionToImageGenerator": "modalax_multimodal.caption_to_image",
    "train_caption_to_image": "modalax_multimodal.caption_to_image",
    "MultiModalModality": "modalax_multimodal.modality",
    "EarlyFusion": "modalax_multimodal.fusion",
    "LateFusion": "modalax_multimodal.fusion",
    "MultiModalAttentionFusion": "modalax_multimodal.fusion",
    "early_fusion": "modalax_multimodal.fusion",
    "CrossModalAttention": "modalax_multimodal.cross_fusion",
    "HierarchicalFusion": "modalax_multimodal.cross_fusion",
    "ModalityDropout": "modalax_multimodal.dropout",
    "ModalityDropoutConfig": "modalax_multimodal.dropout",
    "consistency_loss": "modalax_multimodal.losses",
    "modality_quality": "modalax_multimodal.quality",
    "cross_modal_consistency": "modalax_multimodal.quality",
    "late_fusion": "modalax_multimodal.fusion",
    "build_encoders": "modalax_multimodal.encoders",
    "modality_inputs": "modalax_multimodal.encoders",
    "TextToImageGenerator": "modalax_multimodal.generators",
    "ImageToTextGenerator": "modalax_multimodal.generators",
    "TextToAudioGenerator": "modalax_multimodal.generators",
    "MultiModalModel": "modalax_multimodal.models",
    "contrastive_loss": "modalax_multimodal.losses",
    "symmetric_info_nce": "modalax_multimodal.losses",
    "retrieval_recall": "modalax_multimodal.evaluation",
    "cross_modal_retrieval": "modalax_multimodal.evaluation",
    "measure_alignment": "modalax_multimodal.evaluation",
    "MultiModalEvaluationSuite": "modalax_multimodal.evaluation",
    "train_contrastive": "modalax_multimodal.training",
    "evaluate_retrieval": "modalax_multimodal.training",
    "MultiModalAdapter": "modalax_multimodal.adapters",
    "TextToImageAdapter": "modalax_multimodal.adapters",
    "ImageToTextAdapter": "modalax_multimodal.adapters",
    "TextToAudioAdapter": "modalax_multimodal.adapters",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = sorted(_LAZY)
