"""A base for file-backed sources: read lazily by index, decoded on a thread pool."""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from modalax.errors import DataError
from modalax.sources.base import Batch, IndexedSource


class FileSource(IndexedSource):
    """Subclasses implement ``decode(path) -> dict[str, np.ndarray]`` for one file.

    Decoding runs on a thread pool (Pillow, ``wave`` and numpy release the GIL for the heavy
    parts), so reading a batch overlaps file I/O and decoding.  Any failure to decode raises
    ``DataError`` naming the file.
    """

    traceable = False

    def __init__(self, paths: Sequence[str | os.PathLike[str]], *, num_threads: int | None = None) -> None:
        self.paths = [Path(p) for p in paths]
        self.num_threads = num_threads or min(8, (os.cpu_count() or 1) * 2)
        self._pool: ThreadPoolExecutor | None = None

    def __len__(self) -> int:
        return len(self.paths)

    @abstractmethod
    def decode(self, path: Path) -> dict[str, np.ndarray]:
        """Decode one file into a record."""

    def extra_fields(self, index: int) -> dict[str, Any]:
        """Per-record fields not stored in the file (for example a label from the folder)."""
        return {}

    def _read(self, index: int) -> dict[str, np.ndarray]:
        path = self.paths[index]
        try:
            record = self.decode(path)
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"cannot decode {str(path)!r}: {type(exc).__name__}: {exc}") from exc
        record.update(self.extra_fields(index))
        return record

    def get_records(self, indices: Any) -> Batch:
        idx = [int(i) for i in np.asarray(indices).reshape(-1)]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.num_threads, thread_name_prefix="modalax-decode")
        records = list(self._pool.map(self._read, idx)) if len(idx) > 1 else [self._read(i) for i in idx]
        out: Batch = {}
        for key in records[0]:
            shapes = {np.shape(r[key]) for r in records}
            if len(shapes) != 1:
                bad = [
                    str(self.paths[i])
                    for i, r in zip(idx, records, strict=True)
                    if np.shape(r[key]) != np.shape(records[0][key])
                ]
                raise DataError(
                    f"field {key!r}: files decode to different shapes {sorted(shapes)}; "
                    f"expected one shape (first differing file: {bad[0]!r}); configure a resize/crop"
                )
            out[key] = np.stack([r[key] for r in records])
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_pool"] = None
        return state
