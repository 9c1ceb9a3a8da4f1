"""``AudioFolderDataset``: audio files read lazily by index, resampled and cut to the config.

``AudioDecoding`` is the audio modality's one decode path for files: the folder dataset, the
packed dataset (``modalax_audio.packed``), ``AudioFiles`` and foreign sources decode a file with
``decode_audio`` through it, so a file gives the same values whichever way it is read. The
folder layout, labels, ``files=``, the thread pool and ``on_error="skip"`` come from
``modalax.plugin.FolderDataset``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from modalax.plugin import ConfigError, FileDecoding, FileSource, FolderDataset, check_type
from modalax_audio.config import AudioModalityConfig, check_config
from modalax_audio.datasets.base import AudioDataset
from modalax_audio.decode import audio_extensions, decode_audio, fit_to_config

__all__ = ["AudioDecoding", "AudioFiles", "AudioFolderDataset", "fit_to_config"]


def _check_resample(owner: str, resample: Any) -> bool:
    if not isinstance(resample, bool):
        raise ConfigError(f"{owner}.resample: got {resample!r}, expected a bool")
    return resample


class AudioDecoding(FileDecoding):
    """Audio files decoded with ``decode_audio`` (soundfile, soxr) to the config's rate and
    duration; ``resample=False`` makes a file at another rate a ``DataError``."""

    modality = "audio"
    config_class = AudioModalityConfig
    config: AudioModalityConfig

    @classmethod
    def check_decode_options(cls, resample: bool = True, **unknown: Any) -> dict[str, Any]:
        if unknown:
            raise ConfigError(
                f"{cls.__name__}: unknown option(s) {', '.join(map(repr, sorted(unknown)))}; expected the decode "
                "option resample (and the folder's arguments)"
            )
        return {"resample": _check_resample(cls.__name__, resample)}

    @classmethod
    def file_extensions(cls) -> tuple[str, ...]:
        return audio_extensions()

    def decode_file(self, source: Path | bytes) -> dict[str, np.ndarray]:
        name = "the packed file" if isinstance(source, bytes) else None
        return decode_audio(source, self.config, name=name, **self.decode_options)

    @property
    def resample(self) -> bool:
        """Whether files at another sample rate are resampled (else they are a ``DataError``)."""
        return bool(self.decode_options.get("resample", True))


class AudioFolderDataset(AudioDecoding, FolderDataset, AudioDataset):
    """Audio files under ``root`` (or an explicit ``files`` list), decoded on a thread pool.

    ``AudioFolderDataset(config=None, root=None, split="train", *, files=None, labels=None,
    class_names=None, extensions=None, num_threads=None, on_error="raise", resample=True,
    name="AudioFolderDataset", seed=None, rngs=None)``. Every format the installed libsndfile
    reads is found by default (``extensions=None``: ``modalax_audio.audio_extensions()``). Each
    record holds ``audio`` (float32 ``(n_time_steps,)`` at ``config.sample_rate``: averaged to
    mono, resampled with soxr, zero-padded or trimmed to ``config.duration``, peak-normalised
    when ``config.normalize``), ``length`` (samples that are real audio, not padding) and
    ``source_sample_rate``; batches also carry the ``sample_rate`` (an int). Labels, splits,
    ``class_names``, ``files=`` and ``on_error`` follow ``modalax.plugin.FolderDataset`` (the
    one folder rule of modalax: torchvision's layout). ``name`` labels the dataset in
    ``get_data_statistics``.
    """

    def __init__(
        self,
        config: AudioModalityConfig | None = None,
        root: str | os.PathLike[str] | None = None,
        split: str | None = "train",
        *,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        FolderDataset.__init__(self, config, root, split, **kwargs)
        self.name = type(self).__name__ if name is None else check_type(type(self).__name__, "name", name, str, "a str")


class AudioFiles(FileSource):
    """A source of audio files (any order) decoded by ``decode_audio``, with an optional int32 ``labels`` each.

    ``AudioFiles(paths, config, *, labels=None, resample=True, num_threads=None, on_error="raise")``:
    the files of ``AudioFolderDataset`` without the folder scan, split or seed (a plain source
    for ``modalax.DataLoader``). Records equal the folder dataset's for the same files.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        config: AudioModalityConfig | None = None,
        *,
        labels: Sequence[int] | None = None,
        resample: bool = True,
        num_threads: int | None = None,
        on_error: Literal["raise", "skip"] = "raise",
    ) -> None:
        super().__init__(paths, num_threads=num_threads, on_error=on_error)
        self.config = check_config(config, "AudioFiles")
        self.resample = _check_resample("AudioFiles", resample)
        if labels is not None and np.shape(labels) != (len(self.paths),):
            raise ConfigError(
                f"AudioFiles.labels: got shape {np.shape(labels)}, expected ({len(self.paths)},), one label per file"
            )
        self.labels = None if labels is None else np.asarray(labels, np.int32)

    def decode(self, path: Path) -> dict[str, np.ndarray]:
        return decode_audio(path, self.config, resample=self.resample)

    def extra_fields(self, index: int) -> dict[str, Any]:
        return {} if self.labels is None else {"labels": self.labels[index]}
