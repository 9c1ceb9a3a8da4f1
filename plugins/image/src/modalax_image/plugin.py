"""Hook module of the ``image`` plugin: registers records only; imports no jax.

Everything is named by ``"module:attr"`` strings, so nothing heavy is imported until a
modality, dataset, kernel or operator is first used.
"""

from __future__ import annotations

from modalax.plugin import (
    AdapterRecord,
    DatasetRecord,
    KernelRecord,
    ModalityRecord,
    OperatorRecord,
    Register,
    hookimpl,
)

#: The modalax plugin API this plugin is built against (checked by discovery).
MODALAX_PLUGIN_API = "1.0"

_PKG = "modalax_image"

KERNELS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "resize": (
        "resize",
        ("height", "width", "method", "antialias", "mode", "fill"),
        "Pillow-compatible bilinear/nearest resize; stretch, pad (letterbox) or crop to the size",
    ),
    "normalize": (
        "normalize",
        ("input_range", "output_range", "mean", "std"),
        "map a value range onto another, or (x - mean[c]) / std[c] per channel",
    ),
    "flip": ("flip", ("direction",), "mirror the flagged images"),
    "crop": ("crop", ("height", "width"), "crop windows at per-image offsets"),
    "brightness": ("brightness", (), "add a per-image offset"),
    "contrast": ("contrast", (), "scale deviations from the per-channel mean"),
    "rotate": ("rotate", ("method", "fill"), "rotate about the centre as Pillow does"),
    "gaussian_noise": ("gaussian_noise", (), "add Gaussian noise from per-image keys"),
    "to_grayscale": ("to_grayscale", ("keep_channels",), "ITU-R 601-2 luma"),
}

OPERATORS: dict[str, str] = {
    "resize": "ResizeOperator",
    "normalize": "NormalizeOperator",
    "flip": "FlipOperator",
    "crop": "CropOperator",
    "brightness": "BrightnessOperator",
    "contrast": "ContrastOperator",
    "rotate": "RotateOperator",
    "gaussian_noise": "GaussianNoiseOperator",
    "grayscale": "GrayscaleOperator",
}

# Augmentations beside the basic set: kernels in ``augment_kernels``, operators in ``augment_ops``.
AUGMENT_KERNELS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "cutout": ("cutout", ("fill",), "fill per-image boxes (cutout / patch dropout)"),
    "pixel_dropout": ("pixel_dropout", ("fill",), "fill the pixels of a drop mask"),
    "salt_and_pepper": ("salt_and_pepper", (), "salt (top of range) and pepper (0) by per-pixel codes"),
    "poisson_noise": ("poisson_noise", (), "shot noise Poisson(x * peak) / peak from per-image keys"),
    "color_jitter": ("color_jitter", (), "brightness, contrast, HSV saturation and hue"),
}

AUGMENT_OPERATORS: dict[str, str] = {
    "cutout": "CutoutOperator",
    "pixel_dropout": "PixelDropoutOperator",
    "salt_and_pepper": "SaltAndPepperOperator",
    "poisson_noise": "PoissonNoiseOperator",
    "color_jitter": "ColorJitterOperator",
}

# Batch operators: they mix the records of one batch (kernels in ``mix_kernels``, operators in ``mix_ops``).
MIX_KERNELS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "mixup": ("mixup", (), "MixUp: lam * x + (1 - lam) * x[partner]"),
    "cutmix": ("cutmix", (), "CutMix: paste the partner's box"),
    "mix_labels": ("mix_labels", ("num_classes",), "mix (one-hot) labels with the partners' by lam"),
}

MIX_OPERATORS: dict[str, str] = {"mixup": "MixUpOperator", "cutmix": "CutMixOperator"}

# The conformance kit's examples (``modalax_image.examples``): every per-record kernel, and the
# operators whose default config does not fit the generated records (MixUp/CutMix need labels).
# The mixing kernels have none (a record's output depends on its partner in the batch), nor
# the glyph table and renderer (no batch axis).
_EXAMPLES = f"{_PKG}.examples"
KERNEL_EXAMPLES = frozenset(KERNELS) | frozenset(AUGMENT_KERNELS) | frozenset(MIX_KERNELS)
OPERATOR_EXAMPLES = frozenset(MIX_OPERATORS)

DATASETS: dict[str, tuple[str, str]] = {
    "synthetic": ("SyntheticImageDataset", "random/gradient/checkerboard/circles patterns, generated on demand"),
    "mnist_like": ("MNISTLikeDataset", "digit-like glyphs 0-9 with labels"),
    "folder": ("ImageFolderDataset", "image files of every format Pillow reads, class sub-folders as labels"),
}


@hookimpl
def register_modalities(register: Register) -> None:
    register(
        ModalityRecord(
            "image",
            f"{_PKG}.modality:ImageModality",
            "images (H, W, C) in [0, 1] or [-1, 1]",
            config_class=f"{_PKG}.config:ImageModalityConfig",
            previewer=f"{_PKG}.preview:preview",
            decoder=f"{_PKG}.decode:decode_image",
            extensions=f"{_PKG}.decode:pillow_extensions",
        )
    )


@hookimpl
def register_datasets(register: Register) -> None:
    for name, (cls, description) in DATASETS.items():
        register(DatasetRecord("image", name, f"{_PKG}.datasets:{cls}", description))
    packed = f"{_PKG}.packed:PackedImageDataset"
    register(DatasetRecord("image", "packed", packed, "ArrayRecord shards of modalax.pack"))


@hookimpl
def register_adapters(register: Register) -> None:
    register(
        AdapterRecord(
            "image",
            "default",
            f"{_PKG}.adapter:ImageAdapter",
            "wraps an nnx model: output_shape images in range, MSE loss",
        )
    )


def _example(name: str, names: frozenset[str], suffix: str = "") -> str | None:
    return f"{_EXAMPLES}:{name}{suffix}" if name in names else None


@hookimpl
def register_kernels(register: Register) -> None:
    for module, table in (("kernels", KERNELS), ("augment_kernels", AUGMENT_KERNELS), ("mix_kernels", MIX_KERNELS)):
        for name, (fn, static, description) in table.items():
            example = _example(name, KERNEL_EXAMPLES)
            axis = "mixed" if module == "mix_kernels" else "records"  # a mix reads each record's partner
            register(
                KernelRecord(f"image.{name}", f"{_PKG}.{module}:{fn}", static, description, example, batch_axis=axis)
            )
    # the glyph renderer and the digit skeletons, for other plugins' readable data (multimodal/glyphs)
    glyph = f"{_PKG}.datasets.mnist_like:render_glyph"
    register(KernelRecord("image.render_glyph", glyph, ("shape",), "antialiased strokes of (M, 4) unit-box segments"))
    digits = f"{_PKG}.datasets.glyphs:segment_table"
    register(KernelRecord("image.digit_segments", digits, (), "(10, M, 4) stroke segments of the digits 0-9"))


@hookimpl
def register_operators(register: Register) -> None:
    for name, cls in OPERATORS.items():
        register(OperatorRecord("image", name, f"{_PKG}.operators:{cls}"))
    for name, cls in AUGMENT_OPERATORS.items():
        register(OperatorRecord("image", name, f"{_PKG}.augment_ops:{cls}"))
    for name, cls in MIX_OPERATORS.items():
        description = "batch operator: mixes records of a batch"
        example = _example(name, OPERATOR_EXAMPLES, "_operator")
        register(OperatorRecord("image", name, f"{_PKG}.mix_ops:{cls}", description, example=example))
