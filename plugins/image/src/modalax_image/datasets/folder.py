"""``ImageFolderDataset``: image files read lazily by index with Pillow (``decode_image``).

``ImageDecoding`` is the image modality's one decode path for files: the folder dataset, the
packed dataset (``modalax_image.packed``) and foreign sources all decode a file with it, so a
file gives the same values whichever way it is read. The folder layout, labels, ``from_files``,
the thread pool and ``on_error="skip"`` come from ``modalax.plugin.FolderDataset``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modalax.plugin import ConfigError, FileDecoding, FolderDataset
from modalax_image.config import ImageModalityConfig
from modalax_image.datasets.base import ImageDataset
from modalax_image.decode import DEFAULT_BACKGROUND, check_background, decode_image, pillow_extensions

__all__ = ["ImageDecoding", "ImageFolderDataset"]


class ImageDecoding(FileDecoding):
    """Image files decoded with ``decode_image``: the config's size and representation, EXIF
    orientation (``exif_transpose``) and the colour transparent pixels are composited over
    (``background``)."""

    modality = "image"
    config_class = ImageModalityConfig
    config: ImageModalityConfig

    @classmethod
    def check_decode_options(
        cls, exif_transpose: bool = True, background: Sequence[int] = DEFAULT_BACKGROUND
    ) -> dict[str, Any]:
        if not isinstance(exif_transpose, bool):
            raise ConfigError(f"{cls.__name__}.exif_transpose: got {exif_transpose!r}, expected a bool")
        return {"exif_transpose": exif_transpose, "background": list(check_background(cls.__name__, background))}

    @classmethod
    def file_extensions(cls) -> tuple[str, ...]:
        return pillow_extensions()

    def decode_file(self, source: Path | bytes) -> dict[str, np.ndarray]:
        return decode_image(source, self.config, **self.decode_options)


class ImageFolderDataset(ImageDecoding, FolderDataset, ImageDataset):
    """Images of a folder, decoded lazily with Pillow on a thread pool and resized to the config.

    Records are ``images`` (float32 in [0, 1], see ``decode_image``) and, when ``root`` has
    class sub-folders, ``labels``: the **top-level** sub-folder of the split folder is the
    class of every file below it (torchvision's ``ImageFolder`` layout); ``class_names`` (a
    list, label = position, or a ``class_to_idx`` mapping) fixes the indices so that every
    split agrees. ``extensions`` defaults to every extension Pillow decodes. Decode options:
    ``exif_transpose=True``, ``background=(255, 255, 255)``. See ``modalax.plugin.FolderDataset``
    for ``split``, ``files``/``from_files``, ``labels`` and ``on_error``.
    """
