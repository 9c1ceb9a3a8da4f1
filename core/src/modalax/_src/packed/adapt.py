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

Each record comes with the reason it stands in for one that failed (None for a good one): a
file that cannot be read, a file that does not decode when ``check_files`` (decoded once with
the source's own decoder, on a thread pool), a record the source masked out (``VALID_KEY``).
``pack`` raises on the first or stores and lists them, as its ``on_error`` says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.remote import open_path
from modalax._src.sources.file import VALID_KEY, FileSource, decode_threads

__all__ = ["FILE_FIELD", "PackPlan", "plan_for", "source_on_error"]

# "<_io.BytesIO object at 0x7f...>" in a decoder's message: the index must not depend on memory addresses
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")

#: Field holding a file's encoded bytes in packed file datasets.
FILE_FIELD = "file"

Record = dict[str, Any]
#: A record and why it stands in for one that failed (None when it did not).
Row = tuple[Record, str | None]


@dataclass
class PackPlan:
    """``size`` records, read ``rows(lo, hi)`` at a time; ``constants`` shared by every batch."""

    size: int
    rows: Callable[[int, int], list[Row]]
    constants: dict[str, Any] = field(default_factory=dict)
    decode: dict[str, Any] = field(default_factory=dict)

    def read(self, lo: int, hi: int) -> list[Record]:
        """Records ``lo:hi``; ``DataError`` for the first that failed (``rows`` hands failures over)."""
        out = []
        for record, problem in self.rows(lo, hi):
            if problem is not None:
                raise DataError(f"pack: {problem}")
            out.append(record)
        return out


def _scalar(name: str, value: Any) -> Any:
    value = (
        value.item() if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0) else value
    )
    if not isinstance(value, bool | int | float | str):
        raise DataError(f"pack: batch-level field {name!r} is {type(value).__name__}; expected a number or str")
    return value


def _rows(batch: Mapping[str, Any], n: int, lo: int, constants: dict[str, Any]) -> list[Row]:
    """Split a batch of ``n`` records (``lo`` is the first one's index) into per-record rows."""
    per: dict[str, Any] = {}
    valid = np.ones(n, bool)
    for key, value in batch.items():
        if key == VALID_KEY:
            valid = np.asarray(value, bool).reshape(-1)
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
    why = "record {} failed to decode in the source (skipped there)"
    return [({k: v[j] for k, v in per.items()}, None if valid[j] else why.format(lo + j)) for j in range(n)]


def _file_source(data: Any) -> FileSource | None:
    if isinstance(data, FileSource):
        return data
    files = getattr(data, "files", None)
    return files if isinstance(files, FileSource) else None


def source_on_error(data: Any) -> Literal["raise", "skip"]:
    """The source's own ``on_error`` (a file source's, or the dataset's), else ``"raise"``."""
    files = _file_source(data)
    own = getattr(files if files is not None else data, "on_error", None)
    return "skip" if own == "skip" else "raise"


def _files_plan(files: FileSource, owner: Any, check_files: bool) -> PackPlan:
    from modalax._src.files import FileDecoding

    decode_bytes = owner.decode_file if isinstance(owner, FileDecoding) else None

    def load(i: int) -> Row:
        path = files.paths[i]
        extra = {k: np.asarray(v) for k, v in files.extra_fields(i).items()}
        try:
            raw = path.read_bytes()  # a local Path, or a URL through the remote path helper (retried)
        except OSError as exc:
            return {FILE_FIELD: b"", **extra}, f"cannot read {str(path)!r}: {exc.strerror or exc}"
        except DataError as exc:  # a remote that kept failing, or refused the credentials
            return {FILE_FIELD: b"", **extra}, f"cannot read {str(path)!r}: {exc}"
        if check_files:
            try:
                # the bytes that are stored, through the decoder readers will use
                decoded = decode_bytes(raw) if decode_bytes is not None else files.decode(path)
                if not isinstance(decoded, dict) or not decoded:
                    raise DataError(f"decoded to {type(decoded).__name__}, expected a dict of arrays")
            except Exception as exc:
                why = _ADDRESS.sub("", f"{type(exc).__name__}: {exc}")
                return {FILE_FIELD: raw, **extra}, f"cannot decode {str(path)!r}: {why}"
        return {FILE_FIELD: raw, **extra}, None

    def read(lo: int, hi: int) -> list[Row]:
        threads = decode_threads(files.requested_threads) if check_files else 1
        if threads < 2 or hi - lo < 2:
            return [load(i) for i in range(lo, hi)]
        with ThreadPoolExecutor(threads, thread_name_prefix="modalax-pack") as pool:
            return list(pool.map(load, range(lo, hi)))

    return PackPlan(len(files), read, decode={"field": FILE_FIELD})


def _is_hf(data: Any) -> bool:
    return type(data).__module__.split(".")[0] == "datasets" and hasattr(data, "features")


def _hf_plan(data: Any) -> PackPlan:
    import datasets

    from modalax._src.sources.arrow import arrow_column

    encoded = [k for k, f in data.features.items() if isinstance(f, datasets.Image | datasets.Audio)]
    for key in encoded:
        data = data.cast_column(key, type(data.features[key])(decode=False))

    def file_bytes(v: Any) -> bytes:
        if v.get("bytes") is not None:
            return bytes(v["bytes"])
        with open_path(v["path"], "rb") as fh:
            return fh.read()

    def pick(column: Any, j: int) -> Any:
        if isinstance(column, dict):  # a struct column: one nested record
            return {k: pick(v, j) for k, v in column.items()}
        value = column[j]
        return value if isinstance(value, str | bytes) else np.asarray(value)

    def read(lo: int, hi: int) -> list[Row]:
        # plain columns through Arrow, as HFSource reads them: nulls, ragged lists and values that do
        # not fit their dtype are refused naming the record, never turned into NaN or objects
        table = data.with_format("arrow")[lo:hi]
        indices = np.arange(lo, hi)
        columns = {
            k: arrow_column(table.column(k), k, "pack", indices, {}, {}) for k in table.column_names if k not in encoded
        }
        media = {k: [file_bytes(v) for v in table.column(k).to_pylist()] for k in encoded}
        return [
            ({**{k: pick(c, j) for k, c in columns.items()}, **{k: m[j] for k, m in media.items()}}, None)
            for j in range(hi - lo)
        ]

    return PackPlan(len(data), read, decode={"field": encoded[0]} if len(encoded) == 1 else {})


def _records_plan(source: Any) -> PackPlan:
    constants: dict[str, Any] = {}
    fetch = getattr(source, "fetch", None) or source.get_records

    def read(lo: int, hi: int) -> list[Row]:
        batch = fetch(np.arange(lo, hi, dtype=np.int32))
        if not isinstance(batch, Mapping):
            raise DataError(f"pack: {type(source).__name__} returned {type(batch).__name__}, expected a dict")
        return _rows(batch, hi - lo, lo, constants)

    return PackPlan(len(source), read, constants)


def _items_plan(data: Any) -> PackPlan:
    def read(lo: int, hi: int) -> list[Row]:
        out: list[Row] = []
        for i in range(lo, hi):
            item = data[i]
            if not isinstance(item, Mapping):
                raise DataError(f"pack: item {i} of {type(data).__name__} is {type(item).__name__}, expected a dict")
            out.append(({str(k): (v if isinstance(v, str | bytes) else np.asarray(v)) for k, v in item.items()}, None))
        return out

    return PackPlan(len(data), read)


def plan_for(data: Any, *, check_files: bool = False) -> PackPlan:
    """How to read ``data`` record by record (see the module docstring)."""
    files = _file_source(data)
    if files is not None:
        return _files_plan(files, data, check_files)
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
