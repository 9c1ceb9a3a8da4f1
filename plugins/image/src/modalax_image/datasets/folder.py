"""``ImageFolderDataset``: PNG/JPEG files read lazily by index with Pillow."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from flax import nnx

from modalax.errors import DataError
from modalax.sources import FileSource
from modalax_image.config import ImageModalityConfig, ResizeMethod
from modalax_image.datasets.base import ImageDataset

__all__ = ["IMAGE_EXTENSIONS", "ImageFolderDataset", "scan_folder"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def _images_under(folder: Path, extensions: Sequence[str]) -> list[Path]:
    exts = {e.lower() for e in extensions}
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in exts)


def scan_folder(
    root: Path, extensions: Sequence[str] = IMAGE_EXTENSIONS
) -> tuple[list[Path], list[int] | None, list[str]]:
    """``(paths, labels, class_names)`` of a folder.

    With sub-folders that hold images, each sub-folder is a class (sorted names give labels
    0, 1, ...) and files directly in ``root`` are ignored; otherwise the files of ``root``
    are an unlabelled dataset (``labels`` None).
    """
    if not root.is_dir():
        raise DataError(f"ImageFolderDataset.root: got {str(root)!r}, expected an existing folder")
    classes = [d for d in sorted(root.iterdir()) if d.is_dir() and _images_under(d, extensions)]
    if classes:
        paths: list[Path] = []
        labels: list[int] = []
        for label, folder in enumerate(classes):
            files = _images_under(folder, extensions)
            paths += files
            labels += [label] * len(files)
        return paths, labels, [d.name for d in classes]
    exts = {e.lower() for e in extensions}
    paths = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in exts)
    if not paths:
        raise DataError(
            f"ImageFolderDataset: no {'/'.join(extensions)} files in {str(root)!r}; "
            "expected image files or class sub-folders of them"
        )
    return paths, None, []


class _ImageFiles(FileSource):
    """Decodes one file: convert to the config's mode, resize with Pillow, scale to [0, 1]."""

    def __init__(
        self, paths: Sequence[Path], labels: Sequence[int] | None, config: ImageModalityConfig, num_threads: int | None
    ) -> None:
        super().__init__(paths, num_threads=num_threads)
        self.labels = None if labels is None else np.asarray(labels, np.int32)
        self.config = config

    def decode(self, path: Path) -> dict[str, np.ndarray]:
        from PIL import Image

        cfg = self.config
        with Image.open(path) as img:
            img = img.convert(cfg.representation.pil_mode)
            if img.size != (cfg.width, cfg.height):
                # uint8 resize (rounding <= 0.5/255) is what Pillow does for these modes;
                # bilinear here equals the image.resize kernel, antialiasing included.
                method = (
                    Image.Resampling.BILINEAR
                    if cfg.resize_method == ResizeMethod.BILINEAR
                    else Image.Resampling.NEAREST
                )
                img = img.resize((cfg.width, cfg.height), method)
            array = np.asarray(img, dtype=np.float32) / np.float32(255.0)
        if array.ndim == 2:
            array = array[..., None]
        return {"images": array}

    def extra_fields(self, index: int) -> dict[str, Any]:
        return {} if self.labels is None else {"labels": self.labels[index]}


class ImageFolderDataset(ImageDataset):
    """Images of a folder, decoded lazily with Pillow on a thread pool and resized to the config.

    Records are ``images`` (float32 in [0, 1]) and, when ``root`` has class sub-folders,
    ``labels`` (index of the sorted class names, see ``class_names``).  When ``root/<split>``
    exists it is used (``root/train/cat/001.png``); otherwise ``root`` serves every split.
    A file that cannot be decoded raises ``DataError`` naming it.
    """

    traceable = False

    def __init__(
        self,
        config: ImageModalityConfig | None = None,
        root: str | os.PathLike[str] | None = None,
        split: str = "train",
        *,
        rngs: nnx.Rngs | int | None = None,
        extensions: Sequence[str] = IMAGE_EXTENSIONS,
        num_threads: int | None = None,
    ) -> None:
        super().__init__(config, split, rngs=rngs)
        if root is None:
            raise DataError("ImageFolderDataset.root: got None, expected a folder of PNG/JPEG files")
        base = Path(root)
        folder = base / split if (base / split).is_dir() else base
        paths, labels, self.class_names = scan_folder(folder, tuple(extensions))
        self.root = folder
        self.files = _ImageFiles(paths, labels, self.config, num_threads)

    @property
    def paths(self) -> list[Path]:
        """The image files, in record order."""
        return self.files.paths

    @property
    def labelled(self) -> bool:
        """Whether records carry ``labels`` (class sub-folders)."""
        return self.files.labels is not None

    def __len__(self) -> int:
        return len(self.files)

    def get_records(self, indices: Any) -> dict[str, Any]:
        return self.files.get_records(indices)
