"""``PackedReader``: the shards of a packed folder, read by global record index and checked.

``checks`` says what is compared with the index (see ``integrity`` for the checksums):

* ``"open"``: on open, every shard listed must exist under its name, have the byte size the
  index records, open as an ArrayRecord file and hold the number of records the index says;
  the other files of the pack must exist with their sizes, the per-record CRC file must match
  its SHA-256, and the first and last record of every shard must match their CRCs (a shard of
  another pack or another position fails here, even of the same size);
* ``"records"`` (the default): the open checks, and every record read is checked against its
  CRC-32 before it is served (measured in docs/packed.md: under 1% of decoding a JPEG record);
* ``"all"``: the record checks, and ``verify`` on open (every byte hashed once; slow on big packs).

Each problem is a ``DataError`` naming the shard (and the record). A version 1 pack (modalax
0.1) has no checksums: it opens with the structural checks and a ``UserWarning`` saying so.
Readers are opened per process (dropped when pickled and reopened on first use), so the
loader's worker processes and grain can share one ``PackedReader``.

``root`` may be a URL (``s3://``, ``gs://``, ``https://``, ...): its shards are then read by
ranged requests (``RangedShard``), one per record and a batch's records together, never
downloaded whole; opening costs a size request and two small ranged reads per shard.
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.packed.index import PackedIndex
from modalax._src.packed.integrity import check_checksum_file, record_crc
from modalax._src.packed.ranged import RangedShard
from modalax._src.packed.writer import array_record_module
from modalax._src.remote import PathArg, RemotePath, as_path

__all__ = ["CHECKS", "Checks", "PackedReader", "check_checks"]

# Random access: no read-ahead past the records asked for.
_READER_OPTIONS = "readahead_buffer_size:0"
Checks = Literal["open", "records", "all"]
CHECKS = ("open", "records", "all")


def check_checks(owner: str, checks: Any) -> Checks:
    """``checks`` when it is one of ``CHECKS``, else ``ConfigError``."""
    if checks not in CHECKS:
        raise ConfigError(f"{owner}.checks: got {checks!r}, expected one of {', '.join(map(repr, CHECKS))}")
    return checks


class PackedReader:
    """Raw record bytes of a packed folder by global index (records numbered across shards in order)."""

    def __init__(self, root: PathArg, index: PackedIndex | None = None, *, checks: Checks = "records") -> None:
        self.checks = check_checks("PackedReader", checks)
        self.root: Path | RemotePath = as_path(root)
        self.index = PackedIndex.read(self.root) if index is None else index
        self.paths = [self.root / s.path for s in self.index.shards]
        self.starts = self.index.starts
        self._lock = threading.Lock()
        self._readers: list[Any] = [None] * len(self.paths)
        self._crcs: np.ndarray | None = None
        if not self.index.checksummed:
            warnings.warn(
                f"packed folder {str(self.root)!r} has no checksums (index version {self.index.version}, "
                "written by modalax 0.1): corrupt or mixed-up shards cannot be detected; pack it again to add them",
                UserWarning,
                stacklevel=2,
            )
        for s in range(len(self.paths)):
            self._reader(s)  # checks every shard now, not in the middle of an epoch
        self._check_files()
        self._check_ends()
        if self.checks == "all":
            from modalax._src.packed.integrity import verify

            verify(self.root)

    def __len__(self) -> int:
        return self.index.num_records

    @property
    def record_checksums(self) -> np.ndarray | None:
        """The per-record CRC-32s (uint32, in record order), or None for a pack without them."""
        name = self.index.record_checksums
        if self._crcs is None and name is not None:
            self._crcs = check_checksum_file(self.root / name, self.index.files[name].sha256, len(self))
        return self._crcs

    def where(self, index: int) -> str:
        """``"'<shard>' record <local> (index <global>)"`` for messages."""
        s = int(np.searchsorted(self.starts, index, side="right") - 1)
        return f"{str(self.paths[s])!r} record {index - int(self.starts[s])} (index {index})"

    def _check_files(self) -> None:
        for name, sums in self.index.files.items():
            path = self.root / name
            if not path.is_file():
                raise DataError(f"incomplete pack: {str(path)!r} is missing; index.json lists it ({sums.size} bytes)")
            size = path.stat().st_size
            if size != sums.size:
                raise DataError(f"{str(path)!r} is {size} bytes but index.json says {sums.size}; pack again")
        self.record_checksums  # noqa: B018 - loads and checks the CRC file now

    def _check_ends(self) -> None:
        """The first and last record of each shard against their CRCs: a shard's identity, cheaply."""
        crcs = self.record_checksums
        if crcs is None:
            return
        for s, info in enumerate(self.index.shards):
            ends = sorted({0, info.num_records - 1}) if info.num_records else []
            for local, data in zip(ends, self.read_shard(s, ends), strict=True):
                want = int(crcs[int(self.starts[s]) + local])
                if record_crc(data) != want:
                    raise DataError(
                        f"packed shard {str(self.paths[s])!r}: record {local} has crc32 {record_crc(data):#010x} but "
                        f"index.json recorded {want:#010x}; the shard is corrupt, belongs to another pack or to "
                        "another position (expected the shard packed with this index): pack again"
                    )

    def _reader(self, s: int) -> Any:
        reader = self._readers[s]
        if reader is not None:
            return reader
        path, info = self.paths[s], self.index.shards[s]
        want = info.num_records
        if not path.is_file():
            present = sum(p.is_file() for p in self.paths)
            raise DataError(
                f"incomplete pack: shard {str(path)!r} is missing ({present} of {len(self.paths)} shards present); "
                f"the index lists it with {want} records: pack again into a new folder"
            )
        size = path.stat().st_size
        if info.size is not None and size != info.size:
            raise DataError(
                f"packed shard {str(path)!r} is {size} bytes but index.json says {info.size}; it was truncated, "
                "rewritten or replaced after packing (expected the shard packed with this index): pack again"
            )
        if isinstance(path, RemotePath):
            reader = RangedShard(path, size)
            if reader.num_records() != want:
                raise DataError(
                    f"packed shard {str(path)!r} holds {reader.num_records()} records but the index says {want} "
                    "(an incomplete pack or a shard of another pack): pack again"
                )
            self._readers[s] = reader
            return reader
        module = array_record_module()
        try:
            reader = module.ArrayRecordReader(str(path), _READER_OPTIONS)
            ok = reader.ok()
        except RuntimeError as exc:
            raise DataError(f"packed shard {str(path)!r}: cannot open it ({exc})") from exc
        if not ok:
            raise DataError(
                f"packed shard {str(path)!r}: not a readable ArrayRecord file (truncated or corrupt; "
                f"{size} bytes); expected the shard of {want} records written by modalax.pack"
            )
        got = reader.num_records()
        if got != want:
            raise DataError(
                f"packed shard {str(path)!r} holds {got} records but the index says {want} "
                "(an incomplete pack or a shard of another pack): pack again"
            )
        self._readers[s] = reader
        return reader

    def read_shard(self, s: int, local: list[int]) -> list[bytes]:
        """Records ``local`` (positions inside shard ``s``) as stored, unchecked."""
        with self._lock:
            reader = self._reader(s)
            try:
                return list(reader.read(local))
            except RuntimeError as exc:
                error = exc
            bad = local[0]
            for i in local:  # name the first record that fails (ArrayRecord's own chunk hashes)
                try:
                    reader.read([i])
                except RuntimeError as exc:
                    bad, error = i, exc
                    break
        raise DataError(
            f"packed {self.where(int(self.starts[s]) + bad)}: cannot read it ({error}); the shard is corrupt: "
            f"run `modalax pack --verify {self.root}`, then pack again"
        ) from error

    def read(self, indices: np.ndarray) -> list[bytes]:
        """The records at ``indices`` (valid, non-negative global indices), in that order, checked."""
        idx = np.asarray(indices, np.int64).reshape(-1)
        shard_of = np.searchsorted(self.starts, idx, side="right") - 1
        out: list[bytes] = [b""] * len(idx)
        for s in np.unique(shard_of).tolist():
            where = np.flatnonzero(shard_of == s)
            records = self.read_shard(s, (idx[where] - self.starts[s]).tolist())
            for j, record in zip(where.tolist(), records, strict=True):
                out[j] = record
        crcs = self.record_checksums if self.checks != "open" else None
        if crcs is not None:
            for j, i in enumerate(idx.tolist()):
                if record_crc(out[j]) != int(crcs[i]):
                    raise DataError(
                        f"packed {self.where(i)}: crc32 {record_crc(out[j]):#010x} but index.json recorded "
                        f"{int(crcs[i]):#010x}; the record is corrupt or not the one packed at this index "
                        f"(run `modalax pack --verify {self.root}`, then pack again)"
                    )
        return out

    def close(self) -> None:
        """Close the open shard files (they reopen on the next read)."""
        with self._lock:
            for reader in self._readers:
                if reader is not None:
                    reader.close()
            self._readers = [None] * len(self.paths)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_readers"] = [None] * len(self.paths)
        state["_lock"] = None
        state["_crcs"] = None  # reloaded (and its SHA-256 checked) where it is used
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
