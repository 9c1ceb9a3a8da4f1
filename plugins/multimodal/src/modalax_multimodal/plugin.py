"""Hook module of the ``multimodal`` plugin: registers records only (imports no jax)."""

from __future__ import annotations

from modalax.plugin import (
    AdapterRecord,
    CommandRecord,
    DatasetRecord,
    KernelRecord,
    ModalityRecord,
    OperatorRecord,
    Register,
    hookimpl,
)

#: The modalax plugin API this plugin is built against (checked by discovery).
MODALAX_PLUGIN_API = "1.0"

_PKG = "modalax_multimodal"


@hookimpl
def register_modalities(register: Register) -> None:
    """The ``multimodal`` modality."""
    register(
        ModalityRecord(
            "multimodal",
            f"{_PKG}.modality:MultiModalModality",
            "aligned samples of any pairable modalities, controlled alignment; fusion and cross-modal models",
            config_class=f"{_PKG}.config:MultiModalConfig",
            previewer=f"{_PKG}.preview:write_preview",
        )
    )


@hookimpl
def register_datasets(register: Register) -> None:
    """``multimodal/synthetic`` (aligned, on demand), ``multimodal/glyphs`` (readable) and ``multimodal/paired``."""
    register(
        DatasetRecord(
            "multimodal",
            "synthetic",
            f"{_PKG}.datasets.factories:synthetic",
            "any pairable modalities (default image/text/audio) rendered from a shared latent; alignment 0..1",
        )
    )
    register(
        DatasetRecord(
            "multimodal",
            "glyphs",
            f"{_PKG}.datasets.factories:glyphs",
            "coloured glyphs, captions stating glyph/colour/size/position, tones encoding them; alignment 0..1",
        )
    )
    register(
        DatasetRecord(
            "multimodal",
            "paired",
            f"{_PKG}.datasets.factories:paired",
            "explicitly paired arrays with alignment scores",
        )
    )


@hookimpl
def register_adapters(register: Register) -> None:
    """Contrastive/fusion model (default) and the three cross-modal generators."""
    for family, cls in (
        ("default", "MultiModalAdapter"),
        ("text_to_image", "TextToImageAdapter"),
        ("image_to_text", "ImageToTextAdapter"),
        ("text_to_audio", "TextToAudioAdapter"),
    ):
        register(AdapterRecord("multimodal", family, f"{_PKG}.adapters:{cls}"))


@hookimpl
def register_kernels(register: Register) -> None:
    """The shared-latent mixing, the symmetric InfoNCE loss and retrieval ranks (rendering is each pairing's)."""
    # only aligned_inputs works per record; the loss and the ranks compare the rows of a batch by design
    for name, target, axis in (
        ("aligned_inputs", "kernels:aligned_inputs", "records"),
        ("info_nce", "losses:symmetric_info_nce", "mixed"),
        ("retrieval_ranks", "evaluation:retrieval_ranks", "mixed"),
    ):
        example = f"{_PKG}.examples:{name}"
        register(KernelRecord(f"multimodal.{name}", f"{_PKG}.{target}", example=example, batch_axis=axis))


@hookimpl
def register_operators(register: Register) -> None:
    """``modality_dropout``: drop whole modalities per sample, with a presence mask."""
    register(
        OperatorRecord(
            "multimodal",
            "modality_dropout",
            f"{_PKG}.dropout:ModalityDropout",
            "drop whole modalities per sample (per-modality probability), write modality_mask",
        )
    )


@hookimpl
def register_commands(register: Register) -> None:
    register(
        CommandRecord(
            "demo",
            f"{_PKG}.demo:run",
            "the main job: aligned image+text+audio data, loader, training, pictures and sounds",
            add_arguments=f"{_PKG}.demo:add_arguments",
        )
    )
