"""``ImageFolderDataset``: image files read lazily by index with Pillow (``decode_image``)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from flax import nnx

from modalax.plugin import ConfigError, DataError, FileSource, normalize_extensions, scan_class_folders, split_folder
from modalax_image.config import ImageModalityConfig
from modalax_image.datasets.base import ImageDataset
from modalax_image.decode import DEFAULT_BACKGROUND, check_background, decode_image, pillow_extensions

__all__ = ["ImageFolderDataset"]

ClassNames = Sequence[str] | Mapping[str, int] | None
OnError = Literal["raise", "skip"]
_OWNER = "ImageFolderDataset"


class _ImageFiles(FileSource):
    """The files of an image dataset: ``decode_image`` per file, the label from a table."""

    def __init__(
        self,
        paths: Sequence[Path],
        labels: Sequence[int] | None,
        config: ImageModalityConfig,
        decode_options: dict[str, Any],
        num_threads: int | None,
        on_error: OnError,
    ) -> None:
        super().__init__(paths, num_threads=num_threads, on_error=on_error)
        self.labels = None if labels is None else np.asarray(labels, np.int32)
        self.config = config
        self.decode_options = decode_options

    def decode(self, path: Path) -> dict[str, np.ndarray]:
        return decode_image(path, self.config, **self.decode_options)

    def extra_fields(self, index: int) -> dict[str, Any]:
        return {} if self.labels is None else {"labels": self.labels[index]}


def _check_labels(labels: Any, n: int, class_names: list[str]) -> list[int]:
    values = np.asarray(labels)
    if values.shape != (n,):
        raise DataError(f"{_OWNER}.from_files.labels: got shape {values.shape}, expected ({n},), one label per path")
    if n and (values.dtype.kind not in "iu" or values.dtype == np.bool_):
        raise DataError(f"{_OWNER}.from_files.labels: got dtype {values.dtype}, expected integer class indices")
    bad = [int(v) for v in values if v < 0 or v > np.iinfo(np.int32).max or (class_names and v >= len(class_names))]
    if bad:
        limit = f"< {len(class_names)} (the class_names)" if class_names else "a non-negative int32"
        raise DataError(f"{_OWNER}.from_files.labels: got {bad[0]} ({len(bad)} bad in all), expected labels {limit}")
    return [int(v) for v in values]


class ImageFolderDataset(ImageDataset):
    """Images of a folder, decoded lazily with Pillow on a thread pool and resized to the config.

    Records are ``images`` (float32 in [0, 1], see ``decode_image``) and, when ``root`` has
    class sub-folders, ``labels``: the **top-level** sub-folder of the split folder is the
    class of every file below it; ``class_names`` (a list, label = position, or a
    ``class_to_idx`` mapping) fixes the indices so that every split agrees. ``split`` picks
    ``root/<split>``; a missing split folder is a ``DataError`` (except ``"train"`` when
    ``root`` has no split folders: then ``root`` is the training set; ``split=None`` reads
    ``root``). ``extensions`` defaults to every extension Pillow decodes. A file that cannot be
    decoded raises ``DataError`` naming it; ``on_error="skip"`` masks it out instead and lists
    it in ``skipped``.
    """

    traceable = False

    def __init__(
        self,
        config: ImageModalityConfig | None = None,
        root: str | os.PathLike[str] | None = None,
        split: str | None = "train",
        *,
        rngs: nnx.Rngs | int | None = None,
        extensions: Sequence[str] | None = None,
        class_names: ClassNames = None,
        exif_transpose: bool = True,
        background: Sequence[int] = DEFAULT_BACKGROUND,
        num_threads: int | None = None,
        on_error: OnError = "raise",
        _files: tuple[list[Path], list[int] | None, list[str]] | None = None,
    ) -> None:
        super().__init__(config, "train" if split is None else split, rngs=rngs)
        if _files is not None:
            paths, labels, names = _files
            self.root: Path | None = None
        else:
            if root is None:
                raise DataError(f"{_OWNER}.root: got None, expected a folder of image files")
            exts = pillow_extensions() if extensions is None else normalize_extensions(extensions, owner=_OWNER)
            self.root = split_folder(root, split, owner=_OWNER)
            scan = scan_class_folders(
                self.root, exts, owner=_OWNER, class_names=class_names, unlabelled_option="from_files(paths)"
            )
            paths, labels, names = scan.paths, scan.labels, scan.class_names
        if not isinstance(exif_transpose, bool):
            raise ConfigError(f"{_OWNER}.exif_transpose: got {exif_transpose!r}, expected a bool")
        options = {"exif_transpose": exif_transpose, "background": check_background(_OWNER, background)}
        self.class_names: list[str] = list(names)
        table = dict(class_names) if isinstance(class_names, Mapping) and _files is None else None
        self._class_to_idx = table or {name: i for i, name in enumerate(self.class_names)}
        self.files = _ImageFiles(paths, labels, self.config, options, num_threads, on_error)

    @classmethod
    def from_files(
        cls,
        paths: Sequence[str | os.PathLike[str]],
        labels: Sequence[int] | np.ndarray | None = None,
        config: ImageModalityConfig | None = None,
        *,
        class_names: Sequence[str] | None = None,
        rngs: nnx.Rngs | int | None = None,
        exif_transpose: bool = True,
        background: Sequence[int] = DEFAULT_BACKGROUND,
        num_threads: int | None = None,
        on_error: OnError = "raise",
    ) -> ImageFolderDataset:
        """A dataset of explicit files (any order), with ``labels`` (one int per path) or none.

        Every path must be an existing file; labels must be non-negative ints (below
        ``len(class_names)`` when class names are given).
        """
        if isinstance(paths, str | os.PathLike) or not isinstance(paths, Sequence | np.ndarray):
            raise ConfigError(f"{_OWNER}.from_files.paths: got {type(paths).__name__}, expected a list of paths")
        files = [Path(p) for p in paths]
        if not files:
            raise DataError(f"{_OWNER}.from_files.paths: got an empty list, expected at least one image file")
        missing = [p for p in files if not p.is_file()]
        if missing:
            raise DataError(
                f"{_OWNER}.from_files.paths: {str(missing[0])!r} is not a file ({len(missing)} missing in all); "
                "expected existing image files"
            )
        if isinstance(class_names, str | Mapping):
            raise ConfigError(f"{_OWNER}.from_files.class_names: got {class_names!r}, expected a list of names")
        names = [] if class_names is None else [str(c) for c in class_names]
        if labels is None and names:
            raise ConfigError(f"{_OWNER}.from_files.class_names: got {names} without labels, expected labels too")
        checked = None if labels is None else _check_labels(labels, len(files), names)
        return cls(
            config,
            split=None,
            rngs=rngs,
            exif_transpose=exif_transpose,
            background=background,
            num_threads=num_threads,
            on_error=on_error,
            _files=(files, checked, names),
        )

    @property
    def paths(self) -> list[Path]:
        """The image files, in record order."""
        return self.files.paths

    @property
    def labelled(self) -> bool:
        """Whether records carry ``labels``."""
        return self.files.labels is not None

    @property
    def class_to_idx(self) -> dict[str, int]:
        """Class name to label index (empty when unlabelled or no names were given)."""
        return dict(self._class_to_idx)

    @property
    def skipped(self) -> list[str]:
        """Files replaced by masked-out records so far (``on_error="skip"``), sorted."""
        return self.files.skipped

    def note_skipped(self, paths: Sequence[str]) -> None:
        """Add files a worker process's copy of this dataset skipped to ``skipped``."""
        self.files.note_skipped(paths)

    def __len__(self) -> int:
        return len(self.files)

    def get_records(self, indices: Any) -> dict[str, Any]:
        return self.files.get_records(indices)

    def element_spec(self) -> dict[str, Any]:
        """The record structure the loader yields (without the skip mode's validity flag)."""
        return self.files.element_spec()
