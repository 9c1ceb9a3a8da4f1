"""``PackedImageDataset``: images packed by ``modalax.pack``, decoded like the folder's.

A packed image folder holds each file's encoded bytes; records are decoded by ``ImageDecoding``
with the decode options stored in the index, so values equal reading the folder. Generated
image datasets are packed as their arrays.
"""

from __future__ import annotations

from modalax.plugin import PackedDataset, PackedIndex
from modalax_image.datasets.base import ImageDataset
from modalax_image.datasets.folder import ImageDecoding

__all__ = ["PackedImageDataset"]


class PackedImageDataset(ImageDecoding, PackedDataset, ImageDataset):
    """Image records of a packed folder (``create_dataset("image", "packed", root=DIR)``).

    ``config`` defaults to the one the data was packed with; another size or representation
    decodes packed files to it (stored arrays must already match it). Records are ``images``
    (float32 in [0, 1]) plus the stored fields (``labels``); ``class_names`` come from the index.
    """

    def check_fields(self, index: PackedIndex) -> None:
        hint = "stored arrays are not resized: pack with this config, or pass the packed one"
        self.expect_array(index, "images", self.config.image_shape, "<f4", hint)
