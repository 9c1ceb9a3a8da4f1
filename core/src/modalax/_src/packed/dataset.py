"""``PackedDataset``: a packed folder as a dataset, read by index and decoded on the host.

The loader's guarantees hold unchanged (a true per-epoch permutation, exact resume, each
process reading only its own records) because records are read by index. A modality's
``packed`` dataset type is one line: its ``FileDecoding`` mixin (the same decode path as its
folder dataset) plus this class. Packed files are decoded with ``decode_file`` and the decode
options stored in the index, the config defaults to the one the data was packed with, and
``pack_metadata`` describes a dataset of the modality for ``pack``; so values equal reading the
folder. Modalities without files (text) override ``decode_fields`` and ``pack_metadata``.

The argument order is every dataset's: ``PackedDataset(config, root, split)``. The 0.1 order,
a path first (``PackedDataset(out_dir)``, ``PackedDataset(out_dir, config)``), still works with a
``DeprecationWarning``: no config is a path, so it cannot be mistaken.

A modality's type opens only packs its modality wrote (a modality-less pack of arrays is not
its records). Records are checked against the pack's checksums as ``checks`` says (see
``PackedReader``). ``on_error="skip"`` does what it does for folders: a record that fails to
decode, or that ``pack`` already skipped, becomes zeros of the batch's structure flagged
invalid in ``VALID_KEY`` (the loader's mask) and is listed in ``skipped``; a corrupt record
(a checksum or structure mismatch) is never skipped.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
from flax import nnx

from modalax._src.dataset import BaseDataset
from modalax._src.discovery import warn_at_caller
from modalax._src.errors import ConfigError, DataError
from modalax._src.files import FileDecoding
from modalax._src.packed.index import PackedIndex
from modalax._src.packed.integrity import VerifyReport, verify
from modalax._src.packed.reader import Checks, PackedReader
from modalax._src.packed.record import decode_record
from modalax._src.random import resolve_rngs
from modalax._src.remote import RemotePath, as_path
from modalax._src.sources.file import VALID_KEY, check_num_threads, decode_threads

__all__ = ["PackedDataset", "describe"]

Record = dict[str, Any]


class _Failed(DataError):
    """A record that failed to decode (``on_error="skip"``), with the stored fields it keeps (labels)."""

    def __init__(self, error: DataError, stored: Record) -> None:
        super().__init__(str(error))
        self.stored = stored


class _Shards:
    """The reader, the decode thread pool and the skip bookkeeping, kept out of nnx state."""

    def __init__(self, reader: PackedReader, num_threads: int | None) -> None:
        self.reader = reader
        self.requested_threads = num_threads
        self.pool: ThreadPoolExecutor | None = None
        self.packed_skips = dict(reader.index.skipped)
        self.skipped: set[str] = set()
        self.zeros: Record | None = None
        self.lock = threading.Lock()

    @property
    def num_threads(self) -> int:
        """Decode threads of this process (see ``decode_threads``)."""
        return decode_threads(self.requested_threads)

    def map(self, fn: Any, items: list[Any]) -> list[Any]:
        if len(items) < 2 or self.num_threads < 2:
            return [fn(item) for item in items]
        if self.pool is None:
            self.pool = ThreadPoolExecutor(self.num_threads, thread_name_prefix="modalax-packed")
        return list(self.pool.map(fn, items))

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "pool": None, "lock": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.lock = threading.Lock()


class PackedDataset(FileDecoding, BaseDataset):
    """Records of a folder written by ``modalax.pack``, by index.

    ``root`` is the folder (``index.json`` and the shards). ``config`` defaults to the config
    the data was packed with (modality subclasses); this base class yields the stored fields as
    they are: arrays stacked, strings and undecoded file bytes as lists, the index's constants
    as batch-level values. Decoding runs on ``num_threads`` threads. ``checks`` is what is
    compared with the pack's checksums (``"records"``: every record served; see
    ``PackedReader``). ``on_error`` (default: what ``pack`` was told) is ``"raise"`` or
    ``"skip"``, as for folders. Bad shards, an index that disagrees with them and records that
    fail to decode raise ``DataError`` naming the shard (and the record).
    """

    traceable = False

    def __init__(
        self,
        config: Any = None,
        root: str | os.PathLike[str] | RemotePath | None = None,
        split: str = "train",
        *,
        seed: int | None = None,
        rngs: nnx.Rngs | int | None = None,
        num_threads: int | None = None,
        on_error: Literal["raise", "skip"] | None = None,
        checks: Checks = "records",
    ) -> None:
        owner = type(self).__name__
        if isinstance(config, str | os.PathLike | RemotePath) and not isinstance(root, str | os.PathLike | RemotePath):
            warn_at_caller(
                f"{owner}(root, ...) with the root first is deprecated: the first argument is the config; use "
                f"{owner}(config, root) or {owner}(root=...)",
                DeprecationWarning,
            )
            config, root = root, config
        if config is not None:
            config = self.resolve_config(config)
        if root is None:
            raise DataError(f"{owner}.root: got None, expected the folder written by modalax.pack")
        if on_error not in (None, "raise", "skip"):
            raise ConfigError(f"{owner}.on_error: got {on_error!r}, expected 'raise', 'skip' or None (as packed)")
        index = PackedIndex.read(root)
        if self.modality is not None and index.modality != self.modality:
            raise DataError(f"{str(as_path(root) / 'index.json')!r}: {_other_modality(index.modality, self.modality)}")
        config = self.config_from_index(index) if config is None else config
        super().__init__(config, split, rngs=resolve_rngs(f"{owner}.rngs", rngs, seed))
        threads = check_num_threads(owner, num_threads)
        self.root: Path | RemotePath = as_path(root)
        self.on_error: str = index.on_error if on_error is None else on_error
        self.shards = _Shards(PackedReader(root, index, checks=checks), threads)
        decode = dict(index.decode)
        self.encoded_field: str | None = decode.pop("field", None)
        self.decode_options = self.decode_options_from(decode) if self.modality is not None else decode
        self.class_names: list[str] = list(index.metadata.get("class_names", []))
        self.check_fields(index)

    # ------------------------------------------------------------ modality hooks
    @classmethod
    def config_from_index(cls, index: PackedIndex) -> Any:
        """The config to decode with when none is given: the one packed with (None without a modality)."""
        if cls.config_class is None or index.config is None:
            return None
        return cls.resolve_config(index.config)

    def check_fields(self, index: PackedIndex) -> None:
        """Raise ``DataError`` for a stored field this dataset's config does not expect (none here)."""

    def expect_array(
        self, index: PackedIndex, field: str, shape: tuple[int, ...], dtype: str | None, hint: str
    ) -> None:
        """``DataError`` naming ``index.json`` when a stored ``field`` is not an array of ``shape``
        (and ``dtype``, a numpy dtype string, when given); absent fields pass."""
        info = index.fields.get(field)
        if info is None:
            return
        same_shape = info.shape is None or tuple(info.shape) == shape
        if info.kind != "array" or (dtype is not None and info.dtype != dtype) or not same_shape:
            expected = f"{'' if dtype is None else str(np.dtype(dtype)) + ' '}{shape}"
            raise DataError(
                f"{str(self.root / 'index.json')!r}: field {field!r} is stored as {info.kind} {info.dtype} "
                f"{info.shape}; the config expects {expected} ({hint})"
            )

    def decode_fields(self, record: Record, where: str) -> Record:
        """One stored record to the record the dataset yields: its encoded file decoded with ``decode_file``."""
        field = self.encoded_field
        if self.modality is None or field is None or field not in record:
            return record
        raw = record.pop(field)
        if not isinstance(raw, bytes):
            raise DataError(f"field {field!r} is {type(raw).__name__}, expected the encoded file's bytes")
        return {**record, **self.decode_file(raw)}

    @classmethod
    def pack_metadata(cls, data: Any, out_dir: Path) -> dict[str, Any] | None:
        """For ``pack``: None unless ``data`` is of this modality, else a dict of JSON values with any of
        ``config`` (the modality config), ``decode`` (decode options), ``constants`` (batch-level
        values) and ``metadata`` (class names, ...); files may be written into ``out_dir``.

        The default describes any dataset of this class's ``modality`` (a ``FileDecoding``
        subclass with the same ``modality``, or a dataset whose config is a ``config_class``).
        """
        if cls.modality is None or cls.config_class is None:
            return None
        same = isinstance(data, FileDecoding) and data.modality == cls.modality
        if not same and not isinstance(getattr(data, "config", None), cls.config_class):
            return None
        return describe(data)

    # ------------------------------------------------------------------ reading
    @property
    def index(self) -> PackedIndex:
        """The parsed ``index.json``."""
        return self.shards.reader.index

    def __len__(self) -> int:
        return len(self.shards.reader)

    def fingerprint(self) -> dict[str, Any]:
        """The pack's content identity from its index (no data read): see ``PackedIndex.fingerprint``."""
        return self.index.fingerprint()

    def verify(self) -> VerifyReport:
        """Read the whole pack and compare it with its checksums (``modalax pack --verify``)."""
        return verify(self.root)

    @property
    def skipped(self) -> list[str]:
        """Records replaced by masked-out stand-ins so far (``on_error="skip"``), sorted."""
        return sorted(self.shards.skipped)

    def note_skipped(self, paths: Sequence[str]) -> None:
        """Add records a worker process's copy of this dataset skipped to ``skipped``."""
        with self.shards.lock:
            self.shards.skipped.update(paths)

    def _one(self, item: tuple[int, bytes]) -> Record | _Failed:
        i, data = item
        where = f"packed {self.shards.reader.where(i)}"
        record = decode_record(data, where)  # a corrupt record is never skipped
        packed_skip = self.shards.packed_skips.get(i)
        try:
            if packed_skip is not None:
                raise DataError(f"{where}: skipped when packed ({packed_skip})")
            try:
                return self.decode_fields(record, where)
            except DataError as exc:
                raise DataError(f"{where}: {exc}") from exc
            except Exception as exc:
                raise DataError(f"{where}: cannot decode ({type(exc).__name__}: {exc})") from exc
        except DataError as exc:
            if self.on_error == "raise":
                if packed_skip is not None:
                    raise DataError(f"{exc}; read it with on_error='skip' to mask it out") from None
                raise
            return _Failed(exc, {k: v for k, v in record.items() if k != self.encoded_field})

    def get_records(self, indices: Any) -> dict[str, Any]:
        idx = [int(i) for i in self.checked_indices(indices)]
        if not idx:
            first = self.get_records(np.zeros(1, np.int64))
            return {
                k: (v[:0] if isinstance(v, np.ndarray) and v.ndim else ([] if isinstance(v, list) else v))
                for k, v in first.items()
            }
        read = self.shards.reader.read(np.asarray(idx))
        records = self.shards.map(self._one, list(zip(idx, read, strict=True)))
        valid = np.array([not isinstance(r, _Failed) for r in records])
        if not valid.all():
            records = self._stand_ins(records, idx)
        out = {**self._stack(records, idx), **self.index.constants}
        if self.on_error == "skip":
            out[VALID_KEY] = valid
        return out

    def _stand_ins(self, records: list[Record | _Failed], idx: list[int]) -> list[Record]:
        """Failed records (``on_error="skip"``) as zeros of the batch's structure, noted in ``skipped``."""
        zeros = self._zeros(records)
        out = []
        for i, record in zip(idx, records, strict=True):
            if not isinstance(record, _Failed):
                out.append(record)
                continue
            where = self.shards.reader.where(i)
            with self.shards.lock:
                first = where not in self.shards.skipped
                self.shards.skipped.add(where)
            if first:
                warnings.warn(f"skipping packed {where} (on_error='skip'): {record}", RuntimeWarning, stacklevel=4)
            stand_in = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in zeros.items()}
            kept = {k: v for k, v in record.stored.items() if k in zeros and np.shape(v) == np.shape(zeros[k])}
            out.append({**stand_in, **kept})  # the stored fields (labels) stay, as the folder's do
        return out

    def _zeros(self, records: list[Record | _Failed]) -> Record:
        """A stand-in of a good record's structure (one of this batch, else the pack's first good one)."""
        if self.shards.zeros is None:
            good = next((r for r in records if not isinstance(r, _Failed)), None)
            i = 0
            while good is None and i < len(self):
                found = self._one((i, self.shards.reader.read(np.array([i]))[0]))
                good = None if isinstance(found, _Failed) else found
                i += 1
            if good is None:
                raise DataError(f"packed {str(self.root)!r}: no record decodes; expected at least one to skip around")
            self.shards.zeros = {
                k: type(v)() if isinstance(v, str | bytes) else np.zeros_like(np.asarray(v)) for k, v in good.items()
            }
        return self.shards.zeros

    def element_spec(self) -> dict[str, Any]:
        """The record structure the loader yields (without the skip mode's validity flag)."""
        spec = super().element_spec()
        spec.pop(VALID_KEY, None)
        return spec

    def _stack(self, records: list[Record], idx: list[int]) -> dict[str, Any]:
        first = records[0]
        out: dict[str, Any] = {}
        for j, record in enumerate(records):
            if record.keys() != first.keys():
                raise DataError(
                    f"packed {self.shards.reader.where(idx[j])}: fields {sorted(record)}, expected {sorted(first)} "
                    f"like {self.shards.reader.where(idx[0])}"
                )
        for key, value in first.items():
            column = [r[key] for r in records]
            if isinstance(value, str | bytes):
                out[key] = column
                continue
            shapes = {np.shape(v) for v in column}
            if len(shapes) > 1:
                j = next(j for j, v in enumerate(column) if np.shape(v) != np.shape(value))
                raise DataError(
                    f"packed {self.shards.reader.where(idx[j])}: field {key!r} of shape {np.shape(column[j])}, "
                    f"expected {np.shape(value)} like the other records of the batch"
                )
            out[key] = np.stack(column)
        return out


def _other_modality(packed: str | None, wanted: str) -> str:
    if packed is None:
        return (
            f"packed without a modality (a modality-less pack of arrays, modality None), expected {wanted!r}: its "
            f"fields are not {wanted} records; open it with modalax.PackedDataset(root=...), or pack a {wanted} "
            f"dataset (or pass pack(..., modality={wanted!r}))"
        )
    return (
        f"packed as modality {packed!r}, expected {wanted!r} (open it with create_dataset({packed!r}, 'packed', ...))"
    )


def describe(data: Any) -> dict[str, Any]:
    """``pack`` metadata of a dataset of some modality: its config, decode options and class names."""
    config = getattr(data, "config", None)
    meta: dict[str, Any] = {} if config is None or not hasattr(config, "to_dict") else {"config": config.to_dict()}
    options = getattr(data, "decode_options", None) if isinstance(data, FileDecoding) else None
    if options:
        meta["decode"] = dict(options)
    names = getattr(data, "class_names", None)
    if names:
        meta["metadata"] = {"class_names": list(names)}
    return meta
