"""A base for file-backed sources: read lazily by index, decoded on a thread pool.

Every file must decode to one structure (the same keys, and per key one shape and dtype): a
batch is a stack, and a key that one file adds or lacks would otherwise be dropped or fail
deep inside numpy. The first record decoded fixes the structure (``template``); a file that
disagrees raises ``DataError`` naming it and the difference.

``on_error="skip"`` turns an undecodable file into a record of zeros with that structure,
flagged in the reserved field ``VALID_KEY``; the loader folds the flag into the batch
``mask``, so batch shapes never change and a training step can ignore the record.

``fingerprint()`` stats every file once (the first call; the value is kept and pickled with the
source): a hash of the paths relative to their common folder, sizes and modification times,
in record order, so a renamed, replaced, touched, added or removed file changes it while a
tree moved whole elsewhere keeps it. Paths may be URLs (``modalax._src.remote``): a remote
file is read whole with one request (retried) and its bytes decoded; its fingerprint stamp is
its size and ETag or modification time, from the folder listing when it came from one.
"""

from __future__ import annotations

import os
import threading
import warnings
from abc import abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.remote import RemotePath, as_path
from modalax._src.sources.base import Batch, Fingerprint, IndexedSource, digest

__all__ = ["VALID_KEY", "WORKER_ENV", "FileSource", "decode_threads", "file_fingerprint"]

#: Reserved record field: False for a record that stands in for a file that failed to decode.
VALID_KEY = "__valid__"

#: Set in the environment of a loader's worker processes (``DataLoader(workers=N)``).
WORKER_ENV = "MODALAX_WORKER_PROCESS"

Spec = dict[str, tuple[tuple[int, ...], np.dtype[Any]]]


def _spec(record: dict[str, Any]) -> Spec:
    return {k: (np.shape(v), np.asarray(v).dtype) for k, v in record.items()}


def _difference(spec: Spec, expected: Spec) -> str | None:
    if spec.keys() != expected.keys():
        extra, missing = sorted(spec.keys() - expected.keys()), sorted(expected.keys() - spec.keys())
        return f"fields {sorted(spec)} (extra {extra}, missing {missing}), expected {sorted(expected)}"
    for key, (shape, dtype) in spec.items():
        if (shape, dtype) != expected[key]:
            want_shape, want_dtype = expected[key]
            return (
                f"field {key!r} of shape {shape} {dtype}, expected {want_shape} {want_dtype} "
                "like the other files (configure a resize/crop or a fixed length)"
            )
    return None


def _remote_fingerprint(paths: Sequence[Path | RemotePath]) -> Fingerprint:
    names = [str(p) for p in paths]
    base = os.path.commonprefix(names).rpartition("/")[0]  # noqa: RUF071 - a common URL prefix, cut at a "/"
    parts: list[str] = []
    for path, name in zip(paths, names, strict=True):
        try:
            st = path.stat()
            stamp = f"{st.st_size}:{getattr(st, 'stamp', st.st_mtime_ns)}"
        except (OSError, DataError) as exc:
            stamp = f"missing:{type(exc).__name__}"
        parts.append(f"{name[len(base) :]}\0{stamp}")
    return {"kind": "files", "count": len(names), "digest": digest(*parts)}


def file_fingerprint(paths: Sequence[Path | RemotePath]) -> Fingerprint:
    """``{"kind": "files", "count", "digest"}`` over the paths relative to their common folder, in order,
    with each file's size and modification time (ns); a file that cannot be stat-ed hashes as missing."""
    if paths and any(isinstance(p, RemotePath) for p in paths):
        return _remote_fingerprint(paths)
    names = [str(p) for p in paths]
    base = os.path.commonpath([os.path.dirname(os.path.abspath(n)) for n in names]) if names else ""
    parts: list[str] = []
    for name in names:
        try:
            st = os.stat(name)
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError as exc:
            stamp = f"missing:{exc.errno}"
        parts.append(f"{os.path.relpath(os.path.abspath(name), base)}\0{stamp}")
    return {"kind": "files", "count": len(names), "digest": digest(*parts)}


def check_num_threads(owner: str, value: Any) -> int | None:
    """``value`` when it is a positive int or None, else ``ConfigError``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ConfigError(f"{owner}.num_threads: got {value!r}, expected a positive int or None")
    return int(value)


def decode_threads(requested: int | None) -> int:
    """Threads a source decodes a batch on: ``requested``, else 1 in a worker process, else 2 per core (<= 8).

    In a worker process the processes are the parallelism: more threads there only contend for
    the worker's GIL and the machine's cores (measured in ``benchmarks/bench_workers.py``). The
    default is resolved where decoding runs, so a source pickled to a worker picks its own.
    """
    if requested is not None:
        return requested
    if os.environ.get(WORKER_ENV) == "1":
        return 1
    return min(8, (os.cpu_count() or 1) * 2)


class FileSource(IndexedSource):
    """Subclasses implement ``decode(path) -> dict[str, np.ndarray]`` for one file.

    Decoding runs on a thread pool (Pillow, libsndfile and numpy release the GIL for the heavy
    parts), so reading a batch overlaps file I/O and decoding. A failure to decode raises
    ``DataError`` naming the file, unless ``on_error="skip"`` (see the module docstring); the
    skipped files are listed in ``skipped``.
    """

    traceable = False

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str] | RemotePath],
        *,
        num_threads: int | None = None,
        on_error: Literal["raise", "skip"] = "raise",
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise ConfigError(f"{type(self).__name__}.on_error: got {on_error!r}, expected 'raise' or 'skip'")
        self.paths: list[Any] = [as_path(p) for p in paths]
        self.requested_threads = check_num_threads(type(self).__name__, num_threads)
        self.on_error = on_error
        self.template: Spec | None = None
        self._skipped: set[str] = set()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._fingerprint: Fingerprint | None = None

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def num_threads(self) -> int:
        """Decode threads of this process (see ``decode_threads``)."""
        return decode_threads(self.requested_threads)

    @property
    def skipped(self) -> list[str]:
        """Paths of the files replaced by invalid records so far (``on_error="skip"``), sorted."""
        return sorted(self._skipped)

    def note_skipped(self, paths: Sequence[str]) -> None:
        """Add files another copy of this source skipped (a worker process's) to ``skipped``."""
        with self._lock:
            self._skipped.update(paths)

    @abstractmethod
    def decode(self, path: Path) -> dict[str, np.ndarray]:
        """Decode one file into a record."""

    def extra_fields(self, index: int) -> dict[str, Any]:
        """Per-record fields not stored in the file (for example a label from the folder)."""
        return {}

    def _decode(self, index: int) -> dict[str, np.ndarray]:
        path = self.paths[index]
        try:
            record = self.decode(path)
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"cannot decode {str(path)!r}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(record, dict) or not record:
            owner = type(self).__name__
            raise DataError(f"{owner}.decode({str(path)!r}) returned {record!r}, expected a dict of arrays")
        record.update(self.extra_fields(index))
        return record

    def _read(self, index: int) -> dict[str, np.ndarray] | DataError:
        try:
            return self._decode(index)
        except DataError as exc:
            if self.on_error == "raise":
                raise
            return exc

    def _fix_template(self, records: list[Any], idx: list[int]) -> Spec:
        if self.template is None:
            good = next((r for r in records if isinstance(r, dict)), None)
            if good is None:  # every file of this batch failed: find the structure elsewhere
                good = next((r for r in map(self._read, range(len(self))) if isinstance(r, dict)), None)
            if good is None:
                raise DataError(f"{type(self).__name__}: no file decodes (first: {str(self.paths[0])!r})")
            spec = _spec(good)
            with self._lock:
                self.template = self.template or spec
        return self.template

    def _stand_in(self, index: int, error: DataError, template: Spec) -> dict[str, np.ndarray]:
        path = str(self.paths[index])
        with self._lock:
            first = path not in self._skipped
            self._skipped.add(path)
        if first:
            warnings.warn(f"skipping {path!r} (on_error='skip'): {error}", RuntimeWarning, stacklevel=4)
        record = {k: np.zeros(shape, dtype) for k, (shape, dtype) in template.items()}
        record.update({k: np.asarray(v) for k, v in self.extra_fields(index).items()})
        return record

    def get_records(self, indices: Any) -> Batch:
        idx = [int(i) for i in self.checked_indices(indices)]
        if not idx:
            template = self._fix_template([], [])
            batch = {k: np.zeros((0, *shape), dtype) for k, (shape, dtype) in template.items()}
            return {**batch, VALID_KEY: np.zeros(0, bool)} if self.on_error == "skip" else batch
        threads = self.num_threads
        if len(idx) < 2 or threads < 2:
            records = [self._read(i) for i in idx]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(threads, thread_name_prefix="modalax-decode")
            records = list(self._pool.map(self._read, idx))
        template = self._fix_template(records, idx)
        valid = np.ones(len(idx), bool)
        decoded: list[dict[str, np.ndarray]] = []
        for j, (i, record) in enumerate(zip(idx, records, strict=True)):
            if isinstance(record, DataError):
                decoded.append(self._stand_in(i, record, template))
                valid[j] = False
                continue
            problem = _difference(_spec(record), template)
            if problem is not None:
                raise DataError(f"{str(self.paths[i])!r} decodes to {problem}")
            decoded.append(record)
        out: Batch = {k: np.stack([r[k] for r in decoded]) for k in template}
        if self.on_error == "skip":
            out[VALID_KEY] = valid
        return out

    def element_spec(self) -> dict[str, Any]:
        spec = super().element_spec()
        spec.pop(VALID_KEY, None)
        return spec

    def fingerprint(self) -> Fingerprint:
        """Count and a hash of the files' relative paths, sizes and mtimes (one ``stat`` each, once)."""
        known = getattr(self, "_fingerprint", None)  # sources pickled before fingerprints lack it
        if known is None:
            known = self._fingerprint = file_fingerprint(self.paths)
        return known

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_pool"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
