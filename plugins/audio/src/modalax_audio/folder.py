"""``AudioFolderDataset``: WAV files read lazily by index, resampled and cut to the config."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from modalax.dataset import BaseDataset
from modalax.errors import ConfigError, DataError
from modalax.sources import FileSource
from modalax_audio.config import AudioModalityConfig
from modalax_audio.datasets import AudioDataset, check_config, resolve_rngs
from modalax_audio.filters import resample_filter
from modalax_audio.resample import resample_poly
from modalax_audio.wav import read_wav

__all__ = ["AudioFolderDataset", "fit_to_config"]


@lru_cache(maxsize=1)
def _resampler() -> Any:
    return jax.jit(resample_poly, static_argnames=("up", "down"))


def fit_to_config(audio: np.ndarray, sample_rate: int, config: AudioModalityConfig) -> tuple[np.ndarray, int]:
    """Resample ``audio`` to ``config.sample_rate`` and pad (zeros) or trim it to ``n_time_steps``.

    Returns the clip and how many of its samples are real (not padding).  Only the input
    needed for the kept output is resampled, cut to a length fixed per source rate, so
    files of any length share one compiled resampler per rate.
    """
    n_out = config.n_time_steps
    target = config.sample_rate
    if sample_rate != target:
        g = math.gcd(target, sample_rate)
        up, down = target // g, sample_rate // g
        _, half = resample_filter(up, down)
        valid = min(n_out, -(-len(audio) * up // down))
        n_in = -(-n_out * down // up) + half // up + 2  # enough input for n_out outputs, plus the filter tail
        chunk = np.zeros(n_in, np.float32)
        chunk[: min(n_in, len(audio))] = audio[:n_in]
        audio = np.asarray(_resampler()(chunk, up=up, down=down))[:n_out]
    else:
        valid = min(n_out, len(audio))
    out = np.zeros(n_out, np.float32)
    out[:valid] = audio[:valid]
    return out, valid


class AudioFolderDataset(AudioDataset, FileSource):
    """WAV files under ``root`` (or an explicit ``files`` list), decoded on a thread pool.

    Each record holds ``audio`` (float32 ``(n_time_steps,)`` at ``config.sample_rate``:
    resampled with the band-limited polyphase filter, averaged to mono, zero-padded or
    trimmed to ``config.duration``, peak-normalised when ``config.normalize``), ``length``
    (samples that are real audio, not padding) and ``source_sample_rate``.  With
    ``labels=True`` a ``label`` is the index of the file's parent folder among
    ``class_names``.  Batches also carry the ``sample_rate`` (an int).  With
    ``resample=False`` a file at another rate raises ``DataError``.
    A file that cannot be decoded raises ``DataError`` naming it.
    """

    def __init__(
        self,
        config: AudioModalityConfig | None = None,
        root: str | os.PathLike[str] | None = None,
        split: str = "train",
        *,
        files: Sequence[str | os.PathLike[str]] | None = None,
        extensions: Sequence[str] = (".wav",),
        recursive: bool = True,
        resample: bool = True,
        labels: bool = False,
        num_threads: int | None = None,
        name: str = "AudioFolderDataset",
        seed: int | None = None,
        rngs: nnx.Rngs | int | None = None,
    ) -> None:
        config = check_config(config, name)
        paths = self._find(root, files, extensions, recursive, name)
        BaseDataset.__init__(self, config, split, rngs=resolve_rngs(seed, rngs, name))
        FileSource.__init__(self, paths, num_threads=num_threads)
        self.name = name
        self.root = None if root is None else Path(root)
        self.resample = bool(resample)
        self.labels = bool(labels)
        self.class_names = sorted({p.parent.name for p in self.paths})
        self._label_of = {c: i for i, c in enumerate(self.class_names)}

    traceable = False

    def get_records(self, indices: Any) -> dict[str, Any]:
        """Decoded records at ``indices`` plus the ``sample_rate`` (an int shared by the batch)."""
        return {**FileSource.get_records(self, indices), **self.host_records(indices)}

    @staticmethod
    def _find(root: Any, files: Any, extensions: Sequence[str], recursive: bool, owner: str) -> list[Path]:
        if (root is None) == (files is None):
            raise ConfigError(f"{owner}: got root={root!r} and files={files!r}; expected exactly one of them")
        if files is not None:
            paths = [Path(f) for f in files]
            if not paths:
                raise DataError(f"{owner}.files: got an empty list, expected at least one WAV file")
            return paths
        base = Path(root)
        if not base.is_dir():
            raise DataError(f"{owner}.root: {str(base)!r} is not a directory")
        exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
        pattern = "**/*" if recursive else "*"
        paths = sorted(p for p in base.glob(pattern) if p.is_file() and p.suffix.lower() in exts)
        if not paths:
            raise DataError(f"{owner}.root: no files with extensions {sorted(exts)} under {str(base)!r}")
        return paths

    def decode(self, path: Path) -> dict[str, np.ndarray]:
        audio, rate = read_wav(path)
        if rate != self.sample_rate and not self.resample:
            raise DataError(
                f"{str(path)!r}: sample rate {rate} Hz, expected {self.sample_rate} Hz "
                "(resample=False; pass resample=True to convert)"
            )
        clip, valid = fit_to_config(audio, rate, self.config)
        if self.config.normalize:
            peak = float(np.max(np.abs(clip)))
            if peak > 0:
                clip = clip / peak
        return {"audio": clip.astype(np.float32), "length": np.int32(valid), "source_sample_rate": np.int32(rate)}

    def extra_fields(self, index: int) -> dict[str, Any]:
        if not self.labels:
            return {}
        return {"label": np.int32(self._label_of[self.paths[index].parent.name])}
