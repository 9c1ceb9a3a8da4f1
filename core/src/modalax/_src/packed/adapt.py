"""What ``pack`` reads: any dataset or source as chunks of records (dicts of fields).

* a file-backed dataset (a ``FileSource``, or a dataset holding one as ``files``, as the image
  and audio folder datasets do): each file's bytes as they are on disk (field ``file``) plus
  its per-record fields (``labels``), so nothing is decoded and nothing is lost;
* a HF ``datasets.Dataset``: its columns, with ``Image()``/``Audio()`` columns as their encoded
  bytes;
* a source with ``get_records`` (modalax datasets, synthetic data, ``ArraySource``) or a dict
  of equally long arrays: the records it yields, arrays and strings;
* anything with ``__len__`` and ``__getitem__`` returning dicts (torch-style datasets, lists).

Batch-level scalars (the ``sample_rate`` of audio batches) become ``constants`` of the index.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.sources.file import VALID_KEY, FileSource

__all__ = ["FILE_FIELD", "PackPlan", "plan_for"]

#: Field holding a file's encoded bytes in packed file datasets.
FILE_FIELD = "file"

Record = dict[str, Any]


@dataclass
class PackPlan:
    """``size`` records, read ``read(lo, hi)`` at a time; ``constants`` shared by every batch."""

    size: int
    read: Callable[[int, int], list[Record]]
    constants: dict[str, Any] = field(default_factory=dict)
    decode: dict[str, Any] = field(default_factory=dict)


def _scalar(name: str, value: Any) -> Any:
    value = (
        value.item() if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0) else value
    )
    if not isinstance(value, bool | int | float | str):
        raise DataError(f"pack: batch-level field {name!r} is {type(value).__name__}; expected a number or str")
    return value


def _rows(batch: Mapping[str, Any], n: int, lo: int, constants: dict[str, Any]) -> list[Record]:
    """Split a batch of ``n`` records (``lo`` is the first one's index) into per-record dicts."""
    per: dict[str, Any] = {}
    for key, value in batch.items():
        if key == VALID_KEY:
            bad = np.flatnonzero(~np.asarray(value, bool))
            if bad.size:
                raise DataError(f"pack: record {lo + int(bad[0])} failed to decode in the source (skipped there)")
            continue
        if isinstance(value, list | tuple):
            per[key] = list(value)
        elif np.ndim(value) == 0:
            scalar = _scalar(key, value)
            if constants.setdefault(key, scalar) != scalar:
                raise DataError(f"pack: batch-level field {key!r} changes ({constants[key]!r} then {scalar!r})")
            continue
        else:
            per[key] = np.asarray(value)
        if len(per[key]) != n:
            raise DataError(f"pack: field {key!r} holds {len(per[key])} records at {lo}, expected {n}")
    return [{k: v[j] for k, v in per.items()} for j in range(n)]


def _file_source(data: Any) -> FileSource | None:
    if isinstance(data, FileSource):
        return data
    files = getattr(data, "files", None)
    return files if isinstance(files, FileSource) else None


def _files_plan(files: FileSource) -> PackPlan:
    def read(lo: int, hi: int) -> list[Record]:
        out = []
        for i in range(lo, hi):
            path = files.paths[i]
            try:
                raw = path.read_bytes()
            except OSError as exc:
                raise DataError(f"pack: cannot read {str(path)!r}: {exc.strerror or exc}") from exc
            extra = {k: np.asarray(v) for k, v in files.extra_fields(i).items()}
            out.append({FILE_FIELD: raw, **extra})
        return out

    return PackPlan(len(files), read, decode={"field": FILE_FIELD})


def _is_hf(data: Any) -> bool:
    return type(data).__module__.split(".")[0] == "datasets" and hasattr(data, "features")


def _hf_plan(data: Any) -> PackPlan:
    import datasets

    encoded = [k for k, f in data.features.items() if isinstance(f, datasets.Image | datasets.Audio)]
    for key in encoded:
        data = data.cast_column(key, type(data.features[key])(decode=False))

    def value(key: str, v: Any) -> Any:
        if key in encoded:
            if v.get("bytes") is not None:
                return v["bytes"]
            with open(v["path"], "rb") as fh:
                return fh.read()
        return v if isinstance(v, str) else np.asarray(v)

    def read(lo: int, hi: int) -> list[Record]:
        columns = data[lo:hi]
        return [{k: value(k, columns[k][j]) for k in columns} for j in range(hi - lo)]

    return PackPlan(len(data), read, decode={"field": encoded[0]} if len(encoded) == 1 else {})


def _records_plan(source: Any) -> PackPlan:
    constants: dict[str, Any] = {}
    fetch = getattr(source, "fetch", None) or source.get_records

    def read(lo: int, hi: int) -> list[Record]:
        batch = fetch(np.arange(lo, hi, dtype=np.int32))
        if not isinstance(batch, Mapping):
            raise DataError(f"pack: {type(source).__name__} returned {type(batch).__name__}, expected a dict")
        return _rows(batch, hi - lo, lo, constants)

    return PackPlan(len(source), read, constants)


def _items_plan(data: Any) -> PackPlan:
    def read(lo: int, hi: int) -> list[Record]:
        out = []
        for i in range(lo, hi):
            item = data[i]
            if not isinstance(item, Mapping):
                raise DataError(f"pack: item {i} of {type(data).__name__} is {type(item).__name__}, expected a dict")
            out.append({str(k): (v if isinstance(v, str | bytes) else np.asarray(v)) for k, v in item.items()})
        return out

    return PackPlan(len(data), read)


def plan_for(data: Any) -> PackPlan:
    """How to read ``data`` record by record (see the module docstring)."""
    files = _file_source(data)
    if files is not None:
        return _files_plan(files)
    if _is_hf(data):
        return _hf_plan(data)
    if isinstance(data, Mapping):
        from modalax._src.sources.array import ArraySource

        return _records_plan(ArraySource(data, on_device=False))
    if hasattr(data, "get_records") and hasattr(data, "__len__"):
        return _records_plan(data)
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and not isinstance(data, str | bytes):
        return _items_plan(data)
    raise ConfigError(
        f"pack: got {type(data).__name__}; expected a modalax dataset or source, a HF datasets.Dataset, a dict "
        "of arrays, or an object with __len__ and __getitem__ returning dicts"
    )
