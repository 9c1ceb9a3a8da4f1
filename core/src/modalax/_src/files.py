"""Datasets of encoded files, for any modality: one decode path, read from folders or packed shards.

A modality that reads files (images, audio clips, point clouds, ...) writes one mixin on
``FileDecoding``: its config class, the decode options it takes and ``decode_file(source)``,
which turns a path or the file's bytes into a record. ``FolderDataset`` (files under a folder,
or a list of files) and ``PackedDataset`` (the same files packed into shards) both call it, and
so does any foreign source that hands over encoded files, so one file gives the same values
whichever door it comes through. A plugin's folder dataset is then one line::

    class PointCloudFolderDataset(PointCloudDecoding, FolderDataset): ...

Reading costs what ``FileSource`` costs: decoding on a thread pool, nothing read until asked.
``root`` and ``files`` may be URLs (``modalax._src.remote``): a remote file is read whole, with
one request, and its bytes decoded, so every decoder works on every filesystem.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from flax import nnx

from modalax._src.dataset import BaseDataset
from modalax._src.errors import ConfigError, DataError
from modalax._src.random import resolve_rngs
from modalax._src.remote import RemotePath, as_path
from modalax._src.sources.file import VALID_KEY, FileSource, check_num_threads
from modalax._src.sources.folders import normalize_extensions, scan_class_folders, split_folder

__all__ = ["FileDecoding", "FolderDataset"]

OnError = Literal["raise", "skip"]
ClassNames = Sequence[str] | Mapping[str, int] | None


class FileDecoding:
    """The one decode path of a modality that reads files (a mixin of its file-backed datasets).

    Subclasses set ``modality`` and ``config_class`` and implement ``decode_file``; those with
    decode options override ``check_decode_options`` (keyword arguments with defaults, returning
    the validated options as JSON values, which packed shards store beside the data).
    """

    #: The modality whose files this class decodes.
    modality: ClassVar[str | None] = None
    #: The modality's config class (``config=None`` means its defaults).
    config_class: ClassVar[type | None] = None
    #: Options given to ``decode_file`` besides the config (set by ``check_decode_options``).
    decode_options: dict[str, Any]
    config: Any

    def decode_file(self, source: Path | bytes) -> dict[str, np.ndarray]:
        """One file (its path, or its bytes) as a record of arrays, decoded with this dataset's config."""
        raise NotImplementedError(f"{type(self).__name__} must implement decode_file(source)")

    @classmethod
    def file_extensions(cls) -> tuple[str, ...]:
        """Extensions (``".png"``) of the files the decoder reads: the folder default and what ``pack`` takes."""
        return ()

    @classmethod
    def check_decode_options(cls, **options: Any) -> dict[str, Any]:
        """Validated decode options (JSON values); ``ConfigError`` for unknown or bad ones."""
        if options:
            raise ConfigError(
                f"{cls.__name__}: unknown option(s) {', '.join(map(repr, sorted(options)))}; it takes no decode options"
            )
        return {}

    @classmethod
    def decode_options_from(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """``check_decode_options(**options)``; an unknown option is a ``ConfigError`` naming the known ones."""
        params = inspect.signature(cls.check_decode_options).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            known = sorted(n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
            unknown = sorted(set(options) - set(known))
            if unknown:
                expected = f"expected some of {known}" if known else "it takes no decode options"
                raise ConfigError(f"{cls.__name__}: unknown option(s) {', '.join(map(repr, unknown))}; {expected}")
        return cls.check_decode_options(**options)

    @classmethod
    def resolve_config(cls, config: Any) -> Any:
        """``config`` checked against ``config_class`` (None: its defaults; a dict: ``from_dict``)."""
        expected = cls.config_class
        if expected is None:
            return config
        if config is None:
            return expected()
        if isinstance(config, Mapping) and hasattr(expected, "from_dict"):
            return expected.from_dict(config)
        if not isinstance(config, expected):
            raise ConfigError(f"{cls.__name__}.config: got {type(config).__name__}, expected a {expected.__name__}")
        return config


class _Files(FileSource):
    """The files of a folder dataset: decoded by the dataset's ``decode_file``, labels from a table."""

    def __init__(
        self,
        owner: FileDecoding,
        paths: Sequence[Path],
        labels: Sequence[int] | None,
        num_threads: int | None,
        on_error: OnError,
    ) -> None:
        super().__init__(paths, num_threads=num_threads, on_error=on_error)
        self.owner = owner
        self.labels = None if labels is None else np.asarray(labels, np.int32)

    def decode(self, path: Path) -> dict[str, np.ndarray]:
        if not isinstance(path, RemotePath):
            return self.owner.decode_file(path)
        try:
            return self.owner.decode_file(path.read_bytes())
        except FileNotFoundError:
            raise DataError(f"{str(path)!r}: no such file") from None
        except DataError as exc:
            raise DataError(f"{str(path)!r}: {exc}") from exc

    def extra_fields(self, index: int) -> dict[str, Any]:
        return {} if self.labels is None else {"labels": self.labels[index]}


def _labels_for_files(labels: Any, n: int, names: list[str], owner: str) -> list[int] | None:
    """Labels given with ``files=``: None, or one non-negative int (below ``len(names)`` if any) per file."""
    if labels is None or labels is False:
        if names:
            raise ConfigError(f"{owner}.class_names: got {names} without labels, expected labels too")
        return None
    if labels is True or isinstance(labels, str):
        raise ConfigError(f"{owner}.labels: got {labels!r} with files=; expected one int label per file, or None")
    values = np.asarray(labels)
    if values.shape != (n,):
        raise ConfigError(f"{owner}.labels: got shape {values.shape}, expected ({n},), one label per file")
    if n and (values.dtype.kind not in "iu" or values.dtype == np.bool_):
        raise ConfigError(f"{owner}.labels: got dtype {values.dtype}, expected integer class indices")
    bad = [int(v) for v in values if v < 0 or v > np.iinfo(np.int32).max or (names and v >= len(names))]
    if bad:
        limit = f"< {len(names)} (the class_names)" if names else "a non-negative int32"
        raise ConfigError(f"{owner}.labels: got {bad[0]} ({len(bad)} bad in all), expected labels {limit}")
    return [int(v) for v in values]


def _file_list(files: Any, owner: str) -> list[Any]:
    if isinstance(files, str | os.PathLike | RemotePath) or not isinstance(files, Sequence | np.ndarray):
        raise ConfigError(f"{owner}.files: got {files!r}, expected a list of paths")
    paths = [as_path(str(f) if isinstance(f, np.str_) else f) for f in files]
    if not paths:
        raise DataError(f"{owner}.files: got an empty list, expected at least one file")
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"{owner}.files: {str(missing[0])!r} is not a file ({len(missing)} missing in all)")
    return paths


class FolderDataset(FileDecoding, BaseDataset):
    """Files of a modality under ``root`` (class sub-folders as labels) or listed in ``files``.

    The layout is torchvision's ``ImageFolder``/``DatasetFolder`` (see ``scan_class_folders``);
    ``split`` picks ``root/<split>`` (``"train"`` may be the root itself; ``None`` reads
    ``root``). ``labels=None`` labels when there are class folders, ``True`` requires them,
    ``False`` reads every file unlabelled; with ``files=`` it is None or one int per file.
    ``class_names`` (a list, label = position, or a class-to-index mapping) fixes the indices so
    that splits agree. ``extensions`` defaults to every extension the decoder reads. A file that
    cannot be decoded raises ``DataError`` naming it; ``on_error="skip"`` masks it out instead
    and lists it in ``skipped``. A class folder with no file is a ``DataError``, as in torchvision,
    unless ``allow_empty=True`` (its label stays reserved). Other keyword arguments are the
    modality's decode options.
    """

    traceable = False

    def __init__(
        self,
        config: Any = None,
        root: str | os.PathLike[str] | RemotePath | None = None,
        split: str | None = "train",
        *,
        files: Sequence[str | os.PathLike[str]] | None = None,
        labels: bool | Sequence[int] | np.ndarray | None = None,
        class_names: ClassNames = None,
        extensions: Sequence[str] | None = None,
        num_threads: int | None = None,
        on_error: OnError = "raise",
        allow_empty: bool = False,
        seed: int | None = None,
        rngs: nnx.Rngs | int | None = None,
        **decode_options: Any,
    ) -> None:
        owner = type(self).__name__
        check_num_threads(owner, num_threads)
        config = self.resolve_config(config)
        self.decode_options = self.decode_options_from(decode_options)
        if root is None and files is None:
            raise DataError(f"{owner}.root: got None, expected a folder of files (or files=[...])")
        if root is not None and files is not None:
            raise ConfigError(f"{owner}: got root={str(root)!r} and files=[...]; expected one of them")
        if files is not None:
            paths = _file_list(files, owner)
            if isinstance(class_names, str | Mapping):
                raise ConfigError(f"{owner}.class_names: got {class_names!r} with files=, expected a list of names")
            names = [str(c) for c in class_names or []]
            file_labels = _labels_for_files(labels, len(paths), names, owner)
            self.root: Path | RemotePath | None = None
            table: dict[str, int] | None = None
        else:
            if labels is not None and not isinstance(labels, bool):
                raise ConfigError(f"{owner}.labels: got {labels!r} with root=; expected None, True or False")
            exts = self.file_extensions() if extensions is None else extensions
            self.root = split_folder(root, split, owner=owner)  # type: ignore[arg-type]
            scan = scan_class_folders(
                self.root,
                normalize_extensions(exts, owner=owner),
                owner=owner,
                class_names=class_names,
                labelled=labels,
                unlabelled_option="labels=False",
                allow_empty=allow_empty,
            )
            paths, file_labels, names = scan.paths, scan.labels, scan.class_names
            table = dict(class_names) if isinstance(class_names, Mapping) else None
        super().__init__(config, "train" if split is None else split, rngs=resolve_rngs(f"{owner}.rngs", rngs, seed))
        self.class_names: list[str] = list(names)
        self._class_to_idx = table or {name: i for i, name in enumerate(self.class_names)}
        self.files = _Files(self, paths, file_labels, num_threads, on_error)

    @classmethod
    def from_files(
        cls,
        paths: Sequence[str | os.PathLike[str]],
        labels: Sequence[int] | np.ndarray | None = None,
        config: Any = None,
        **kwargs: Any,
    ) -> FolderDataset:
        """A dataset of explicit files (any order) with ``labels`` (one int per path) or none."""
        return cls(config, files=paths, labels=labels, split=None, **kwargs)

    @property
    def paths(self) -> list[Any]:
        """The files, in record order."""
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

    def fingerprint(self) -> Any:
        """The files' cheap content signature (names, sizes, mtimes), for the loader's resume check."""
        return self.files.fingerprint()

    def get_records(self, indices: Any) -> dict[str, Any]:
        return {**self.files.get_records(indices), **self.host_records(np.asarray(indices))}

    def element_spec(self) -> dict[str, Any]:
        """The record structure the loader yields (without the skip mode's validity flag)."""
        spec = super().element_spec()
        spec.pop(VALID_KEY, None)
        return spec
