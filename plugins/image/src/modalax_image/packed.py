"""``PackedImageDataset``: images packed by ``modalax.pack``, decoded by ``decode_image``.

A packed image folder holds each file's encoded bytes; records are decoded with the same
``decode_image`` call (config, EXIF orientation, background) as ``ImageFolderDataset``, so
values equal reading the folder. Generated image datasets are packed as their arrays.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flax import nnx

from modalax.plugin import DataError, PackedDataset, PackedIndex
from modalax_image.config import ImageModalityConfig
from modalax_image.datasets.base import ImageDataset
from modalax_image.decode import DEFAULT_BACKGROUND, decode_image, pillow_extensions

__all__ = ["PackedImageDataset"]


class PackedImageDataset(PackedDataset, ImageDataset):
    """Image records of a packed folder (``create_dataset("image", "packed", root=DIR)``).

    ``config`` defaults to the one the data was packed with; another size or representation
    decodes packed files to it (stored arrays must already match it). Records are ``images``
    (float32 in [0, 1]) plus the stored fields (``labels``); ``class_names`` come from the index.
    """

    modality = "image"

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        config: ImageModalityConfig | dict[str, Any] | None = None,
        split: str = "train",
        *,
        rngs: nnx.Rngs | int | None = None,
        num_threads: int | None = None,
    ) -> None:
        super().__init__(root, config, split, rngs=rngs, num_threads=num_threads)
        decode = self.index.decode
        self.encoded_field: str | None = decode.get("field")
        self.decode_options: dict[str, Any] = {
            "exif_transpose": bool(decode.get("exif_transpose", True)),
            "background": tuple(decode.get("background", DEFAULT_BACKGROUND)),
        }
        self.class_names: list[str] = list(self.index.metadata.get("class_names", []))

    @classmethod
    def config_from_index(cls, index: PackedIndex) -> ImageModalityConfig | None:
        return None if index.config is None else ImageModalityConfig.from_dict(index.config)

    @classmethod
    def file_extensions(cls) -> tuple[str, ...]:
        """Extensions of the files a folder of this modality holds (for ``modalax pack FOLDER``)."""
        return pillow_extensions()

    def check_fields(self, index: PackedIndex) -> None:
        hint = "stored arrays are not resized: pack with this config, or pass the packed one"
        self.expect_array(index, "images", self.config.image_shape, "<f4", hint)

    def decode_fields(self, record: dict[str, Any], where: str) -> dict[str, Any]:
        field = self.encoded_field
        if field is None or field not in record:
            return record
        raw = record.pop(field)
        if not isinstance(raw, bytes):
            raise DataError(f"field {field!r} is {type(raw).__name__}, expected the encoded file's bytes")
        return {**record, **decode_image(raw, self.config, **self.decode_options)}

    @classmethod
    def pack_metadata(cls, data: Any, out_dir: Path) -> dict[str, Any] | None:
        if not isinstance(data, ImageDataset):
            return None
        meta: dict[str, Any] = {"config": data.config.to_dict()}
        options = getattr(getattr(data, "files", None), "decode_options", None)
        if isinstance(data, PackedImageDataset):
            options = data.decode_options
        if options is not None:
            meta["decode"] = {"exif_transpose": options["exif_transpose"], "background": list(options["background"])}
        names = getattr(data, "class_names", None)
        if names:
            meta["metadata"] = {"class_names": list(names)}
        return meta
