"""A HF ``datasets.IterableDataset`` (``load_dataset(..., streaming=True)``) as a stream.

Shards are the dataset's own (``n_shards``: its files, or the lists in a generator's
``gen_kwargs``); shard ``i`` is read as ``dataset.shard(num_shards=n_shards, index=i)``, so
the loader's shard order, process split and readers apply. Skipping to a position iterates
the rows before it (HF has no cheaper way into a stream).

Columns are decoded here, not by ``datasets``: ``Image()`` and ``Audio()`` columns are read
undecoded (``decode=False``: the file's bytes, or its path) and decoded by the image and audio
modalities' registered decoders, as the tar shards and the folder datasets are, so one file
gives the same values through every door (and ``datasets`` 4+ would need torch for audio).
Other columns become numpy arrays of their feature's dtype (text stays ``str``).
``decode={column: ...}`` overrides a column's decoder (see ``modalax._src.streaming.decode``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.streaming.decode import FieldDecoding
from modalax._src.streaming.iterable import _leaf
from modalax._src.streaming.source import OnError, Sample, StreamSource, skip_to

__all__ = ["HFStreamSource", "is_hf_iterable"]


def is_hf_iterable(obj: Any) -> bool:
    """Whether ``obj`` is a ``datasets.IterableDataset`` (without importing ``datasets``)."""
    module = sys.modules.get("datasets")
    return module is not None and isinstance(obj, module.IterableDataset)


def _dtype(feature: Any) -> np.dtype[Any] | None:
    inner = getattr(feature, "feature", feature)  # List / Sequence of a Value
    name = getattr(inner, "dtype", None)
    try:
        dtype = np.dtype(name) if isinstance(name, str) else None
    except TypeError:
        return None
    return dtype if dtype is not None and dtype.kind in "biuf" else None


def _plain(value: Any, feature: Any) -> Any:
    if isinstance(value, Mapping):
        sub = feature if isinstance(feature, Mapping) else {}
        return {k: _plain(v, sub.get(k)) for k, v in value.items()}
    dtype = _dtype(feature)
    if dtype is not None and value is not None:
        try:
            return np.asarray(value, dtype)
        except (TypeError, ValueError):
            pass
    return _leaf(value)


def _cell(value: Any) -> Any:
    """An undecoded media cell's bytes, else its path."""
    if isinstance(value, Mapping):
        data = value.get("bytes")
        return data if data is not None else value.get("path")
    return value


class HFStreamSource(StreamSource):
    """Rows of a ``datasets.IterableDataset`` (see the module docstring)."""

    def __init__(
        self,
        dataset: Any,
        *,
        columns: Sequence[str] | None = None,
        decode: Mapping[str, Any] | None = None,
        configs: Mapping[str, Any] | None = None,
        rename: Mapping[str, str] | None = None,
        shard_sizes: Any = None,
        on_error: OnError = "raise",
    ) -> None:
        import datasets

        owner = type(self).__name__
        if not isinstance(dataset, datasets.IterableDataset):
            raise ConfigError(f"{owner}.dataset: got {type(dataset).__name__}, expected a datasets.IterableDataset")
        features = dataset.features
        if columns is not None:
            known = list(features) if features is not None else None
            unknown = [c for c in columns if known is not None and c not in known]
            if unknown:
                raise ConfigError(f"{owner}.columns: got {unknown}, expected columns of the dataset {known}")
            dataset = dataset.select_columns(list(columns))
            features = dataset.features
        media: dict[str, str] = {}
        for name, feature in (features or {}).items():
            kind = (
                "image"
                if isinstance(feature, datasets.Image)
                else "audio"
                if isinstance(feature, datasets.Audio)
                else None
            )
            if kind is None:
                continue
            media[name] = kind
            undecoded = datasets.Image(decode=False) if kind == "image" else datasets.Audio(decode=False)
            dataset = dataset.cast_column(name, undecoded)
        n = int(dataset.n_shards)
        label = getattr(getattr(dataset, "info", None), "dataset_name", None) or "IterableDataset"
        super().__init__([f"{label} shard {i} of {n}" for i in range(n)], shard_sizes=shard_sizes, on_error=on_error)
        self.dataset = dataset
        self.features = dict(features or {})
        self.media = media
        self.decoding = FieldDecoding(owner, {**media, **dict(decode or {})}, configs, rename, by_extension=False)

    def samples(self, shard: int, start: int = 0) -> Iterator[Sample]:
        n = self.num_shards
        part = self.dataset if n == 1 else self.dataset.shard(num_shards=n, index=shard)
        return skip_to(((f"row {i}", row) for i, row in enumerate(part)), start)

    def decode(self, key: str, raw: Any, shard: int) -> dict[str, Any]:
        where = self.where(shard, key)
        coded = {c: _cell(v) for c, v in raw.items() if self.decoding.decoder(c) is not None}
        out = self.decoding.record(coded, where) if coded else {}
        for column, value in raw.items():
            if column not in coded:
                name = self.decoding.rename.get(column, column)
                if name in out:
                    raise DataError(
                        f"{where}: column {column!r} and a decoded column both give the record key {name!r}; "
                        "expected one column per key (rename={...})"
                    )
                out[name] = _plain(value, self.features.get(column))
        return out
