"""Examples the conformance kit runs the ``image.*`` kernels and operators on (registered in ``plugin.py``).

A kernel's example is ``() -> (args, kwargs)``: a small batched call, arrays with a leading
batch axis in ``args`` and the static settings real callers use in ``kwargs``; the kit jits the
kernel on it and checks each record's output against the kernel run on that record alone. An
operator's example is ``() -> (config, batch)``. The images are records of the plugin's own
generated datasets (gradients, checkerboards, circles, noise; digit glyphs with labels), as
float32 in [0, 1] and as the uint8 a decoder gives, so every record differs from the others.

``mixup``, ``cutmix`` and ``mix_labels`` mix each record with a partner of the same batch, so
their output depends on the batch by design: they are registered with ``batch_axis="mixed"``
and the kit jits them on their example without the per-record comparison. Kernels without an
example: ``digit_segments`` takes no batch (a constant table) and ``render_glyph`` draws one
glyph (callers ``vmap`` it).

Imported only when the kit runs (it imports jax); cost: one small generated dataset per process.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import numpy as np

import modalax
from modalax_image.config import ImageModalityConfig
from modalax_image.mix_ops import CutMixConfig, MixUpConfig

__all__ = [
    "brightness",
    "color_jitter",
    "contrast",
    "crop",
    "cutmix",
    "cutmix_operator",
    "cutout",
    "flip",
    "gaussian_noise",
    "mix_labels",
    "mixup",
    "mixup_operator",
    "normalize",
    "pixel_dropout",
    "poisson_noise",
    "resize",
    "rotate",
    "salt_and_pepper",
    "to_grayscale",
]

Call = tuple[tuple[Any, ...], dict[str, Any]]

#: Records per example, and the size of the generated images (not square, so resize modes differ).
N, HEIGHT, WIDTH = 5, 40, 56
#: torchvision's ImageNet statistics, the mean/std most callers normalise with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@functools.cache
def _pictures() -> np.ndarray:
    config = ImageModalityConfig(height=HEIGHT, width=WIDTH)
    ds = modalax.create_dataset("image", "synthetic", config=config, dataset_size=N, seed=0)
    out = np.asarray(ds.fetch(np.arange(N, dtype=np.int32))["images"], np.float32)
    out.setflags(write=False)
    return out


def _float() -> np.ndarray:
    """``(N, 40, 56, 3)`` float32 RGB in [0, 1]."""
    return _pictures()


def _uint8() -> np.ndarray:
    """The same images as uint8 in [0, 255], as decoded files arrive."""
    return np.round(_pictures() * 255.0).astype(np.uint8)


def _keys() -> jax.Array:
    """One key per record, as the loader gives operators."""
    return jax.random.split(jax.random.key(0), N)


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


# ------------------------------------------------------------------ kernels
def resize() -> Call:
    """Letterbox uint8 images into 32x32 with a grey fill (bilinear, antialiased, as Pillow)."""
    return (_uint8(),), {"height": 32, "width": 32, "method": "bilinear", "antialias": True, "mode": "pad", "fill": 0.5}


def normalize() -> Call:
    """uint8 images to ImageNet-normalised float32."""
    return (_uint8(),), {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}


def flip() -> Call:
    """Mirror some of the images left-right."""
    return (_float(), np.array([True, False, True, False, True])), {"direction": "horizontal"}


def crop() -> Call:
    """24x24 windows at per-image offsets inside the 40x56 images."""
    offsets = np.array([[0, 0], [16, 32], [4, 10], [9, 3], [16, 0]], np.int32)
    return (_uint8(), offsets), {"height": 24, "width": 24}


def brightness() -> Call:
    """Per-image offsets on the [0, 1] scale."""
    return (_float(), np.array([-0.2, 0.1, 0.0, 0.25, -0.05], np.float32)), {}


def contrast() -> Call:
    """Per-image contrast factors on uint8 images."""
    return (_uint8(), np.array([0.5, 1.5, 1.0, 2.0, 0.8], np.float32)), {}


def rotate() -> Call:
    """Rotations of a few degrees to a half turn, bilinear with black corners."""
    return (_float(), np.array([0.0, 15.0, -30.0, 90.0, 180.0], np.float32)), {"method": "bilinear", "fill": 0.0}


def gaussian_noise() -> Call:
    """Noise of std 0.05 from one key per image (the operator's call)."""
    return (_float(), _keys()), {"std": 0.05, "mean": 0.0}


def to_grayscale() -> Call:
    """Luma of uint8 RGB, repeated over the channels."""
    return (_uint8(),), {"keep_channels": True}


def cutout() -> Call:
    """Two boxes per image (top, left, height, width), one reaching past the border."""
    boxes = np.array(
        [
            [[0, 0, 8, 8], [30, 50, 20, 20]],
            [[10, 20, 12, 6], [0, 0, 0, 0]],
            [[5, 5, 1, 1], [20, 30, 10, 10]],
            [[0, 40, 40, 16], [12, 12, 4, 4]],
            [[35, 0, 5, 56], [0, 0, 3, 3]],
        ],
        np.int32,
    )
    return (_uint8(), boxes), {"fill": 0.5}


def pixel_dropout() -> Call:
    """Drop about 10 % of the pixels (every channel) of float images."""
    drop = _rng().random((N, HEIGHT, WIDTH)) < 0.1
    return (_float(), drop), {"fill": 0.0}


def salt_and_pepper() -> Call:
    """About 5 % salt and 5 % pepper per value on uint8 images."""
    codes = _rng().choice(3, size=(N, HEIGHT, WIDTH, 3), p=[0.9, 0.05, 0.05]).astype(np.int32)
    return (_uint8(), codes), {}


def poisson_noise() -> Call:
    """Shot noise at 50 photons per unit value, one key per image."""
    return (_float(), _keys()), {"peak": 50.0}


def color_jitter() -> Call:
    """Per-image brightness, contrast, saturation and hue on uint8 RGB (torchvision-like ranges)."""
    factors = (
        np.array([0.8, 1.2, 1.0, 0.6, 1.1], np.float32),
        np.array([1.3, 0.7, 1.0, 1.1, 0.9], np.float32),
        np.array([0.0, 1.5, 1.0, 0.5, 1.2], np.float32),
        np.array([0.1, -0.1, 0.0, 0.45, -0.3], np.float32),
    )
    return (_uint8(), *factors), {}


# ------------------------------------------------------------------ operators
@functools.cache
def _digits() -> dict[str, np.ndarray]:
    ds = modalax.create_dataset("image", "mnist_like", dataset_size=6, seed=0)
    batch = ds.fetch(np.arange(6, dtype=np.int32))
    images = np.asarray(batch["images"], np.float32)
    # a per-pixel label map (ink of the digit = its class + 1, background 0), for CutMix's masks
    masks = np.where(images[..., 0] > 0.5, np.asarray(batch["labels"])[:, None, None] + 1, 0).astype(np.int32)
    return {"images": images, "labels": np.asarray(batch["labels"], np.int32), "masks": masks}


def _partners() -> np.ndarray:
    """Each record's partner: the next record (cyclic), as the mixing operators draw a permutation."""
    return np.roll(np.arange(N, dtype=np.int32), -1)


def _lam() -> np.ndarray:
    """A mixing weight per record, 0.1 to 0.9."""
    return np.linspace(0.1, 0.9, N, dtype=np.float32)


def mixup() -> Call:
    """Each picture mixed with the next one's by its weight."""
    return (_float(), _partners(), _lam()), {}


def cutmix() -> Call:
    """Each uint8 picture gets a box of the next one's: boxes of other sizes and places, one the whole image."""
    boxes = np.array([[0, 0, 20, 28], [10, 5, 30, 40], [5, 20, 40, 56], [0, 0, HEIGHT, WIDTH], [15, 10, 25, 30]])
    return (_uint8(), _partners(), boxes[:N].astype(np.int32)), {}


def mix_labels() -> Call:
    """Integer labels one-hot over 10 classes, mixed with the next record's by its weight."""
    return (np.arange(N, dtype=np.int32) * 2, _partners(), _lam()), {"num_classes": 10}


def mixup_operator() -> tuple[MixUpConfig, dict[str, np.ndarray]]:
    """MixUp of digit glyphs with their integer labels one-hot over 10 classes."""
    d = _digits()
    return MixUpConfig(num_classes=10), {"images": d["images"], "labels": d["labels"]}


def cutmix_operator() -> tuple[CutMixConfig, dict[str, np.ndarray]]:
    """CutMix of digit glyphs (a box per record), their labels and their label maps pasted alike."""
    return CutMixConfig(num_classes=10, mode="record", auxiliary_fields=("masks",)), dict(_digits())
