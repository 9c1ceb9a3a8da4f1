"""modalax-image: the image modality plugin of modalax.

Importing this package is light (configs only); the jax-heavy names below are imported on
first access.
"""

from __future__ import annotations

from modalax.plugin import lazy_exports
from modalax_image.config import ImageModalityConfig, ImageRepresentation, ResizeMethod, ResizeMode

__version__ = "0.2.0"

_LAZY = {
    "ImageModality": "modalax_image.modality",
    "ImageAdapter": "modalax_image.adapter",
    "ImageModel": "modalax_image.adapter",
    "ImageDataset": "modalax_image.datasets",
    "SyntheticImageDataset": "modalax_image.datasets",
    "MNISTLikeDataset": "modalax_image.datasets",
    "ImageFolderDataset": "modalax_image.datasets",
    "create_image_dataset": "modalax_image.datasets",
    "decode_image": "modalax_image.decode",
    "pillow_extensions": "modalax_image.decode",
    "ImageEvaluationSuite": "modalax_image.evaluation",
    "ImageOperator": "modalax_image.operators",
    "ResizeOperator": "modalax_image.operators",
    "NormalizeOperator": "modalax_image.operators",
    "FlipOperator": "modalax_image.operators",
    "CropOperator": "modalax_image.operators",
    "BrightnessOperator": "modalax_image.operators",
    "ContrastOperator": "modalax_image.operators",
    "RotateOperator": "modalax_image.operators",
    "GaussianNoiseOperator": "modalax_image.operators",
    "GrayscaleOperator": "modalax_image.operators",
    "ImageOperatorConfig": "modalax_image.operator_configs",
    "ResizeConfig": "modalax_image.operator_configs",
    "NormalizeConfig": "modalax_image.operator_configs",
    "FlipConfig": "modalax_image.operator_configs",
    "CropConfig": "modalax_image.operator_configs",
    "BrightnessConfig": "modalax_image.operator_configs",
    "ContrastConfig": "modalax_image.operator_configs",
    "RotateConfig": "modalax_image.operator_configs",
    "GaussianNoiseConfig": "modalax_image.operator_configs",
    "GrayscaleConfig": "modalax_image.operator_configs",
    **{
        name: "modalax_image.augment_ops"
        for name in ("CutoutOperator", "PixelDropoutOperator", "SaltAndPepperOperator", "PoissonNoiseOperator")
    },
    "ColorJitterOperator": "modalax_image.augment_ops",
    **{
        name: "modalax_image.augment_configs"
        for name in ("CutoutConfig", "PixelDropoutConfig", "SaltAndPepperConfig", "PoissonNoiseConfig")
    },
    "ColorJitterConfig": "modalax_image.augment_configs",
    **{name: "modalax_image.mix_ops" for name in ("MixUpOperator", "CutMixOperator", "MixUpConfig", "CutMixConfig")},
    "IMAGENET_MEAN": "modalax_image.operator_configs",
    "IMAGENET_STD": "modalax_image.operator_configs",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = ["ImageModalityConfig", "ImageRepresentation", "ResizeMethod", "ResizeMode", *_LAZY]
