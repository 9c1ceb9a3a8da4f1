"""``AudioFolderDataset``: audio files read lazily by index, resampled and cut to the config.

The dataset holds its files as a ``FileSource`` (composition, not inheritance: an
``nnx.Module``'s ``__getstate__`` would otherwise win over the source's and the thread pool
would fail to pickle), and decodes each with ``decode_audio``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from flax import nnx

from modalax.plugin import (
    VALID_KEY,
    BaseDataset,
    ConfigError,
    DataError,
    FileSource,
    normalize_extensions,
    scan_class_folders,
    split_folder,
)
from modalax_audio.config import AudioModalityConfig
from modalax_audio.datasets.base import AudioDataset, check_config, resolve_rngs
from modalax_audio.decode import audio_extensions, decode_audio, fit_to_config

__all__ = ["AudioFiles", "AudioFolderDataset", "fit_to_config"]


class AudioFiles(FileSource):
    """Audio files decoded by ``decode_audio`` on a thread pool, with an optional int32 ``labels`` each."""

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        config: AudioModalityConfig,
        *,
        labels: Sequence[int] | None = None,
        resample: bool = True,
        num_threads: int | None = None,
        on_error: Literal["raise", "skip"] = "raise",
    ) -> None:
        super().__init__(paths, num_threads=num_threads, on_error=on_error)
        self.config = config
        self.labels = None if labels is None else np.asarray(labels, np.int32)
        self.resample = resample

    def decode(self, path: Path) -> dict[str, np.ndarray]:
        return decode_audio(path, self.config, resample=self.resample)

    def extra_fields(self, index: int) -> dict[str, Any]:
        return {} if self.labels is None else {"labels": self.labels[index]}


def _file_labels(labels: Any, n: int, owner: str) -> list[int] | None:
    """Per-file labels given with ``files=``: None, or one non-negative int per file."""
    if labels is None or labels is False:
        return None
    if labels is True or isinstance(labels, str):
        raise ConfigError(f"{owner}.labels: got {labels!r} with files=; expected one int label per file, or None")
    values = list(labels)
    if len(values) != n:
        raise ConfigError(f"{owner}.labels: got {len(values)} labels for {n} files; expected one per file")
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
            raise ConfigError(f"{owner}.labels[{i}]: got {v!r}, expected a non-negative int")
    return [int(v) for v in values]


class AudioFolderDataset(AudioDataset):
    """Audio files under ``root`` (or an explicit ``files`` list), decoded on a thread pool.

    Every format the installed libsndfile reads is found by default (``extensions=None``:
    ``modalax_audio.audio_extensions()``).  Each record holds ``audio`` (float32
    ``(n_time_steps,)`` at ``config.sample_rate``: averaged to mono, resampled with soxr,
    zero-padded or trimmed to ``config.duration``, peak-normalised when
    ``config.normalize``), ``length`` (samples that are real audio, not padding) and
    ``source_sample_rate``; batches also carry the ``sample_rate`` (an int).

    Labels follow the one folder rule of modalax: the **top-level** sub-folder of the split
    folder is the class of every file below it.  ``labels=None`` labels when there are class
    folders, ``True`` requires them, ``False`` reads every file unlabelled; labelled records
    hold ``labels`` (int32).  ``class_names`` (a list, or a class-to-index mapping) fixes the
    indices so that splits agree.  ``split`` picks ``root/<split>`` (``"train"`` may be the
    root itself; any other missing split is a ``DataError``).  With ``files=``, ``labels``
    is None or one int per file.  ``resample=False`` makes a file at another rate a
    ``DataError``.  A file that cannot be decoded raises ``DataError`` naming it, unless
    ``on_error="skip"``: it then becomes a masked-out record, counted in ``skipped``.
    """

    traceable = False

    def __init__(
        self,
        config: AudioModalityConfig | None = None,
        root: str | os.PathLike[str] | None = None,
        split: str | None = "train",
        *,
        files: Sequence[str | os.PathLike[str]] | None = None,
        labels: bool | Sequence[int] | None = None,
        class_names: Sequence[str] | Mapping[str, int] | None = None,
        extensions: Sequence[str] | None = None,
        resample: bool = True,
        num_threads: int | None = None,
        on_error: Literal["raise", "skip"] = "raise",
        name: str = "AudioFolderDataset",
        seed: int | None = None,
        rngs: nnx.Rngs | int | None = None,
    ) -> None:
        config = check_config(config, name)
        if (root is None) == (files is None):
            raise ConfigError(f"{name}: got root={root!r} and files={files!r}; expected exactly one of them")
        if not isinstance(resample, bool):
            raise ConfigError(f"{name}.resample: got {resample!r}, expected a bool")
        if files is not None:
            if isinstance(files, str | os.PathLike):
                raise ConfigError(f"{name}.files: got the single path {str(files)!r}, expected a list of paths")
            paths = [Path(f) for f in files]
            if not paths:
                raise DataError(f"{name}.files: got an empty list, expected at least one audio file")
            file_labels, names = _file_labels(labels, len(paths), name), list(class_names or [])
            self.root: Path | None = None
        else:
            if labels is not None and not isinstance(labels, bool):
                raise ConfigError(f"{name}.labels: got {labels!r} with root=; expected None, True or False")
            exts = normalize_extensions(audio_extensions() if extensions is None else extensions, owner=name)
            assert root is not None  # exactly one of root and files, checked above
            self.root = split_folder(root, split, owner=name)
            scan = scan_class_folders(
                self.root, exts, owner=name, class_names=class_names, labelled=labels, unlabelled_option="labels=False"
            )
            paths, file_labels, names = scan.paths, scan.labels, scan.class_names
        BaseDataset.__init__(self, config, "train" if split is None else split, rngs=resolve_rngs(seed, rngs, name))
        self.name = name
        self.resample = resample
        self.class_names = names
        self.files = AudioFiles(
            paths, config, labels=file_labels, resample=resample, num_threads=num_threads, on_error=on_error
        )

    def __len__(self) -> int:
        return len(self.files)

    @property
    def paths(self) -> list[Path]:
        """The files in record order."""
        return self.files.paths

    @property
    def labelled(self) -> bool:
        """True when records hold ``labels``."""
        return self.files.labels is not None

    @property
    def skipped(self) -> list[str]:
        """Files replaced by masked-out records so far (``on_error="skip"``), sorted."""
        return self.files.skipped

    def note_skipped(self, paths: Sequence[str]) -> None:
        """Add files a worker process's copy of this dataset skipped to ``skipped``."""
        self.files.note_skipped(paths)

    def get_records(self, indices: Any) -> dict[str, Any]:
        """Decoded records at ``indices`` plus the ``sample_rate`` (an int shared by the batch)."""
        return {**self.files.get_records(indices), **self.host_records(indices)}

    def element_spec(self) -> dict[str, Any]:
        spec = super().element_spec()
        spec.pop(VALID_KEY, None)
        return spec
