"""A HF ``datasets.Dataset`` as a source: Arrow slices per batch, media decoded on the host.

Plain columns are read as numpy through ``with_format("numpy")`` (one Arrow slice per batch,
no Python per value). ``Image()`` and ``Audio()`` columns are read undecoded (their bytes or
path, ``decode=False``) and decoded here: images with Pillow to float32 in [0, 1] (``H, W, C``;
16-bit images scaled by 65535), audio with soundfile to mono float32, resampled with soxr
when the feature fixes a ``sampling_rate``. Decoding here rather than through ``datasets``
keeps the values equal to modalax's own folder datasets and needs no torch (``datasets``
4+ decodes audio with torchcodec).

When a dataset has exactly one image column it is served as ``images`` (and one audio column
as ``audio``, with ``audio_length``), the keys of the modality plugins; with several, each
keeps its name. Records of one batch must share a shape: ``image_size=(H, W)`` resizes
(bilinear) and ``audio_length=N`` pads or trims, else differing shapes are a ``DataError``.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.sources.base import Batch, IndexedSource

__all__ = ["HFSource", "is_hf_dataset"]


def is_hf_dataset(obj: Any) -> bool:
    """Whether ``obj`` is a ``datasets.Dataset`` (without importing ``datasets``)."""
    module = sys.modules.get("datasets")
    return module is not None and isinstance(obj, module.Dataset)


def _open(value: Any) -> Any:
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
        return io.BytesIO(data) if data is not None else path
    return value


def decode_image(value: Any, size: tuple[int, int] | None, where: str) -> np.ndarray:
    """One HF image cell (``{"bytes", "path"}``) as float32 ``(H, W, C)`` in [0, 1]."""
    from PIL import Image

    try:
        with Image.open(_open(value)) as opened:
            opened.load()
            img: Image.Image = opened
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                img, scale = img.convert("I"), 65535.0
            elif img.mode not in ("L", "RGB", "RGBA"):
                img, scale = img.convert("RGBA" if "A" in img.mode or "transparency" in img.info else "RGB"), 255.0
            else:
                scale = 255.0
            if size is not None and img.size != (size[1], size[0]):
                img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            array = np.asarray(img, dtype=np.float32) / np.float32(scale)
    except Exception as exc:
        raise DataError(f"{where}: cannot decode the image: {type(exc).__name__}: {exc}") from exc
    return array[..., None] if array.ndim == 2 else array


def decode_audio(value: Any, rate: int | None, length: int | None, where: str) -> tuple[np.ndarray, int, int]:
    """One HF audio cell as ``(mono float32 samples, sample rate, real length)``."""
    try:
        import soundfile
    except ImportError as exc:
        raise ConfigError(f"{where}: decoding Audio() columns needs soundfile (`pip install soundfile`)") from exc
    try:
        samples, source_rate = soundfile.read(_open(value), dtype="float32", always_2d=True)
    except Exception as exc:
        raise DataError(f"{where}: cannot decode the audio: {type(exc).__name__}: {exc}") from exc
    samples = samples.mean(axis=1)
    if rate is not None and source_rate != rate:
        import soxr

        samples, source_rate = soxr.resample(samples, source_rate, rate).astype(np.float32), rate
    real = len(samples) if length is None else min(length, len(samples))
    if length is not None:
        samples = np.pad(samples[:length], (0, length - real))
    return samples, int(source_rate), real


class HFSource(IndexedSource):
    """Records of a HF ``datasets.Dataset`` (see the module docstring)."""

    traceable = False

    def __init__(
        self,
        dataset: Any,
        *,
        columns: Sequence[str] | None = None,
        image_size: tuple[int, int] | None = None,
        audio_length: int | None = None,
    ) -> None:
        import datasets

        features = dataset.features
        names = list(columns) if columns is not None else list(features)
        unknown = [c for c in names if c not in features]
        if unknown:
            raise ConfigError(f"HFSource.columns: got {unknown}, expected columns of the dataset {list(features)}")
        self.images = [c for c in names if isinstance(features[c], datasets.Image)]
        self.audios = [c for c in names if isinstance(features[c], datasets.Audio)]
        self.rates = {c: features[c].sampling_rate for c in self.audios}
        plain = [c for c in names if c not in self.images and c not in self.audios]
        media = self.images + self.audios
        self.dataset = dataset
        self._plain = dataset.select_columns(plain).with_format("numpy") if plain else None
        raw = dataset.select_columns(media) if media else None
        if raw is not None:
            for c in self.images:
                raw = raw.cast_column(c, datasets.Image(decode=False))
            for c in self.audios:
                raw = raw.cast_column(c, datasets.Audio(decode=False))
        self._media = raw
        self.image_size = image_size
        self.audio_length = audio_length

    def __len__(self) -> int:
        return len(self.dataset)

    def _key(self, column: str, kind: str) -> str:
        group = self.images if kind == "images" else self.audios
        return kind if len(group) == 1 else column

    def get_records(self, indices: Any) -> Batch:
        idx = [int(i) for i in self.checked_indices(indices)]
        out: Batch = {}
        if self._plain is not None:
            out.update({k: np.asarray(v) for k, v in self._plain[idx].items()})
        if self._media is None:
            return out
        cells = self._media[idx]
        for c in self.images:
            arrays = [decode_image(v, self.image_size, f"HF column {c!r} row {i}") for v, i in zip(cells[c], idx)]
            out[self._key(c, "images")] = _stack(arrays, c, idx, "image_size=(H, W)")
        for c in self.audios:
            decoded = [
                decode_audio(v, self.rates[c], self.audio_length, f"HF column {c!r} row {i}")
                for v, i in zip(cells[c], idx)
            ]
            key = self._key(c, "audio")
            out[key] = _stack([d[0] for d in decoded], c, idx, "audio_length=N")
            out[f"{key}_length"] = np.asarray([d[2] for d in decoded], np.int32)
            out[f"{key}_sample_rate"] = np.asarray([d[1] for d in decoded], np.int32)
        return out


def _stack(arrays: list[np.ndarray], column: str, idx: list[int], option: str) -> np.ndarray:
    shapes = [a.shape for a in arrays]
    if len(set(shapes)) != 1:
        j = next(j for j, s in enumerate(shapes) if s != shapes[0])
        raise DataError(
            f"HF column {column!r}: row {idx[j]} decodes to shape {shapes[j]} but row {idx[0]} to {shapes[0]}; "
            f"expected one shape per batch (pass modalax._src.sources.HFSource(dataset, {option}))"
        )
    return np.stack(arrays)
