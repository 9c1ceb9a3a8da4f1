"""The data-source protocol and a mixin that derives it from ``get_records(indices)``.

A source implements ``__len__`` and ``get_records(indices) -> dict[str, Array]``.  A
*traceable* source's ``get_records`` is a pure jax function of the indices (in-memory arrays,
synthetic data), so the loader fuses gathering and operators into one jitted call; other
sources (files) gather on the host.

``fingerprint() -> dict | None`` is a cheap signature of a source's records, which the loader
keeps in its state so that a resume onto changed data is refused rather than served wrongly
(the record count alone misses a renamed file). The contract:

* ``None`` (the default) means the source cannot tell cheaply; only the count is compared.
* Otherwise a JSON value: a dict with ``"kind"`` (a short name of the source type) and
  ``"count"`` (``len(source)``), the rest strings, ints, None and lists or dicts of them.
  Fingerprints compare with ``==``: equal for the same records in any process or machine
  (no ids, no absolute paths, no hash seeds), different when records moved or changed as
  the source can see it cheaply.
* Cheap: nothing is decoded. File sources stat each file once per instance (the value is
  cached and pickled with the source): relative paths, sizes and modification times. In-memory
  sources hash shapes, dtypes and a fixed sample of at most ``SAMPLE_ROWS`` rows. Views
  (``Subset``, ``Concat``) combine their index tables with their parts' fingerprints.
* Not a content hash: a file rewritten with the same size and time, or an array changed
  outside the sampled rows, keeps its fingerprint.
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

from modalax._src.errors import ConfigError, DataError, RecordIndexError
from modalax._src.sources.stack import merge_trees

Batch = dict[str, Any]
Fingerprint = dict[str, Any]

#: Rows of an in-memory source that its fingerprint hashes (evenly spaced, first and last included).
SAMPLE_ROWS = 8


def digest(*parts: bytes | str) -> str:
    """A short hex sha256 of ``parts`` (each length-prefixed, so ``("ab", "c") != ("a", "bc")``)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:32]


def sample_rows(n: int) -> np.ndarray:
    """The rows an in-memory fingerprint hashes: at most ``SAMPLE_ROWS``, evenly spaced over ``n``."""
    return np.unique(np.linspace(0, max(n - 1, 0), min(n, SAMPLE_ROWS)).astype(np.int64))


def fingerprint_of(source: Any) -> Fingerprint | None:
    """``source.fingerprint()`` when the source has one, else None."""
    method = getattr(source, "fingerprint", None)
    return method() if callable(method) else None


@runtime_checkable
class DataSource(Protocol):
    """What the loader needs from a source (the documented ``DataSourceModule``)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Batch: ...

    def get_batch_at(self, start: Any, size: int, key: Any = None) -> Batch: ...

    def element_spec(self) -> dict[str, jax.ShapeDtypeStruct]: ...


def _element(batch: Mapping[str, Any], j: int) -> Batch:
    out: Batch = {}
    for k, v in batch.items():
        if isinstance(v, Mapping):
            out[k] = _element(v, j)
        else:
            out[k] = v[j] if isinstance(v, list | tuple) or np.ndim(v) else v
    return out


def _check_size(size: Any) -> int:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size <= 0:
        raise ConfigError(f"get_batch_at.size: got {size!r}, expected a positive Python int")
    return int(size)


class IndexedSource:
    """Mixin: the data-source protocol on top of ``__len__`` and ``get_records``."""

    #: True when ``get_records`` is a pure jax function of (traced) indices.
    traceable: bool = False

    @abstractmethod
    def __len__(self) -> int:
        """Number of records."""

    @abstractmethod
    def get_records(self, indices: Any) -> Batch:
        """The records at ``indices`` (1-D ints), stacked on a leading axis."""

    def host_records(self, indices: Any) -> dict[str, Any]:
        """Non-array fields of the records at ``indices`` (raw strings); none by default.

        Traceable sources return arrays from ``get_records`` only; fields such as raw text
        come from here, on the host, and the loader attaches them to batches.
        """
        return {}

    def fingerprint(self) -> Fingerprint | None:
        """A cheap signature of the records (see the module docstring); None: cannot tell."""
        return None

    def fetch(self, indices: Any) -> Batch:
        """``get_records`` plus ``host_records``: every field of the records at ``indices``."""
        batch = dict(self.get_records(indices))
        if self.traceable:
            batch = merge_trees(batch, self.host_records(np.asarray(indices)))
        return batch

    def pure_gather(self) -> tuple[Callable[[Any, Any], Batch], Any]:
        """``(fn, args)`` with ``fn(args, indices) == get_records(indices)`` and ``fn`` pure.

        Arrays go in ``args`` so that jitting ``fn`` never bakes data into the executable.
        """
        return (lambda _args, idx: self.get_records(idx)), ()

    def checked_indices(self, indices: Any) -> Any:
        """Concrete ``indices`` as int32 with negatives wrapped (``-1`` is the last record);
        ``RecordIndexError`` naming the first one outside ``[-n, n)``. Traced indices pass as they
        are (inside the loader's step they are in range by construction)."""
        if isinstance(indices, jax.core.Tracer):
            return indices
        idx = np.asarray(indices)
        if idx.dtype.kind not in "iu" and idx.size:
            raise DataError(f"{type(self).__name__}.get_records: got indices of dtype {idx.dtype}, expected integers")
        idx = idx.astype(np.int64).reshape(-1)
        n = len(self)
        bad = idx[(idx < -n) | (idx >= n)]
        if bad.size:
            raise RecordIndexError(
                f"{type(self).__name__}.get_records: index {int(bad[0])} is out of range; expected -{n} <= index < {n}"
            )
        return (idx % max(n, 1)).astype(np.int32)

    def _checked_index(self, index: Any) -> int:
        n = len(self)
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"index: got {type(index).__name__} {index!r}, expected an int")
        i = int(index)
        if i < -n or i >= n:
            raise RecordIndexError(
                f"index: got {i}, expected -{n} <= index < {n} ({type(self).__name__} of {n} records)"
            )
        return i % n

    def __getitem__(self, index: int) -> Batch:
        """One record (no batch axis)."""
        i = self._checked_index(index)
        return self.element_of(self.fetch(np.asarray([i], dtype=np.int32)), 0)

    def element_of(self, batch: Batch, j: int) -> Batch:
        """Record ``j`` of a fetched batch (subclasses may rename fields, e.g. ``texts`` -> ``text``).

        Batch-level scalars (a sample rate, say) are shared by every record and kept as they are;
        nested dicts follow the same rule at every depth, so ``record["meta"]["id"]`` has no
        batch axis either.
        """
        return _element(batch, j)

    def get_sample(self, index: int) -> Batch:
        """Seed name for ``self[index]``; raises IndexError when out of range."""
        return self[index]

    def get_batch_at(self, start: Any, size: int, key: Any = None) -> Batch:
        """``size`` records from position ``start``; stateless.

        Positions wrap modulo ``len(self)``.  With ``key``, positions index a permutation
        of the records drawn from ``key``.  Traceable sources accept a traced ``start``.
        """
        size = _check_size(size)
        n = len(self)
        if self.traceable:
            pos = (jnp.asarray(start, jnp.int32) + jnp.arange(size, dtype=jnp.int32)) % n
            idx = pos if key is None else jnp.take(jax.random.permutation(key, n), pos)
            return self.get_records(idx.astype(jnp.int32))
        if isinstance(start, jax.core.Tracer):
            raise ConfigError(f"get_batch_at.start: {type(self).__name__} reads on the host and needs a concrete int")
        rows = (int(start) + np.arange(size)) % n
        if key is not None:
            rows = np.asarray(jax.random.permutation(key, n))[rows]
        return self.get_records(rows.astype(np.int64))

    def element_spec(self) -> dict[str, jax.ShapeDtypeStruct]:
        """Shape and dtype of one record, per key."""
        if self.traceable:
            out = jax.eval_shape(self.get_records, jax.ShapeDtypeStruct((1,), jnp.int32))
        else:
            if len(self) == 0:
                raise DataError(f"{type(self).__name__}: empty source has no element spec")
            out = self.get_records(np.asarray([0]))
        return {
            k: jax.ShapeDtypeStruct(tuple(v.shape[1:]), v.dtype)
            for k, v in out.items()
            if hasattr(v, "shape") and hasattr(v, "dtype")
        }
