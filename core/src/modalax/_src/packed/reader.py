"""``PackedReader``: the shards of a packed folder, read by global record index.

On open every shard listed in the index must exist, open as an ArrayRecord file, and hold the
number of records the index says; each problem is a ``DataError`` naming the shard. Readers
are opened per process (they are dropped when pickled and reopened on first use), so the
loader's worker processes and grain can share one ``PackedReader``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from modalax._src.errors import DataError
from modalax._src.packed.index import PackedIndex
from modalax._src.packed.writer import array_record_module

__all__ = ["PackedReader"]

# Random access: no read-ahead past the records asked for.
_READER_OPTIONS = "readahead_buffer_size:0"


class PackedReader:
    """Raw record bytes of a packed folder by global index (records numbered across shards in order)."""

    def __init__(self, root: str | os.PathLike[str], index: PackedIndex | None = None) -> None:
        self.root = Path(root)
        self.index = PackedIndex.read(self.root) if index is None else index
        self.paths = [self.root / s.path for s in self.index.shards]
        self.starts = self.index.starts
        self._lock = threading.Lock()
        self._readers: list[Any] = [None] * len(self.paths)
        for s in range(len(self.paths)):
            self._reader(s)  # checks every shard now, not in the middle of an epoch

    def __len__(self) -> int:
        return self.index.num_records

    def where(self, index: int) -> str:
        """``"'<shard>' record <local> (index <global>)"`` for messages."""
        s = int(np.searchsorted(self.starts, index, side="right") - 1)
        return f"{str(self.paths[s])!r} record {index - int(self.starts[s])} (index {index})"

    def _reader(self, s: int) -> Any:
        reader = self._readers[s]
        if reader is not None:
            return reader
        path, want = self.paths[s], self.index.shards[s].num_records
        if not path.is_file():
            raise DataError(f"packed shard {str(path)!r} is missing; the index lists it with {want} records")
        module = array_record_module()
        try:
            reader = module.ArrayRecordReader(str(path), _READER_OPTIONS)
            ok = reader.ok()
        except RuntimeError as exc:
            raise DataError(f"packed shard {str(path)!r}: cannot open it ({exc})") from exc
        if not ok:
            raise DataError(
                f"packed shard {str(path)!r}: not a readable ArrayRecord file (truncated or corrupt; "
                f"{path.stat().st_size} bytes); expected the shard of {want} records written by modalax.pack"
            )
        got = reader.num_records()
        if got != want:
            raise DataError(f"packed shard {str(path)!r} holds {got} records but the index says {want}")
        self._readers[s] = reader
        return reader

    def read(self, indices: np.ndarray) -> list[bytes]:
        """The records at ``indices`` (valid, non-negative global indices), in that order."""
        idx = np.asarray(indices, np.int64).reshape(-1)
        shard_of = np.searchsorted(self.starts, idx, side="right") - 1
        out: list[bytes] = [b""] * len(idx)
        with self._lock:
            for s in np.unique(shard_of).tolist():
                where = np.flatnonzero(shard_of == s)
                local = (idx[where] - self.starts[s]).tolist()
                try:
                    records = self._reader(s).read(local)
                except RuntimeError as exc:
                    raise DataError(
                        f"packed shard {str(self.paths[s])!r}: cannot read records {local[:8]}"
                        f"{' ...' if len(local) > 8 else ''} ({exc})"
                    ) from exc
                for j, record in zip(where.tolist(), records, strict=True):
                    out[j] = record
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
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
