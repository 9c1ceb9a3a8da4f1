"""Subsets, concatenations and random splits of sources, as pure index maps.

A view stores only integers: ``Subset`` an index table into its source, ``Concat`` the
offsets of its parts. Record ``i`` of a view is record ``f(i)`` of a source, so it is still a
pure function of its index and the loader's exactly-once epochs, resume and sharding hold.
A ``Subset`` of a traceable source (arrays on the device, synthetic data) stays traceable: the
index table goes to the device once and the gather fuses into the loader's jitted step.
``random_split`` draws one permutation from ``seed`` (numpy's PCG64, as the loader's epochs),
so every process computes the same split. A view's ``fingerprint()`` combines its index table
with its parts' fingerprints (see ``sources.base``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.random import check_seed
from modalax._src.sources.base import Batch, Fingerprint, IndexedSource, digest, fingerprint_of
from modalax._src.sources.foreign import as_source

__all__ = ["Concat", "Subset", "random_split"]


class Subset(IndexedSource):
    """Records ``indices[0], indices[1], ...`` of ``source`` (any order, repeats allowed)."""

    def __init__(self, source: Any, indices: Sequence[int] | np.ndarray) -> None:
        self.source = as_source(source)
        table = np.asarray(indices)
        if table.ndim != 1 or (table.size and table.dtype.kind not in "iu"):
            raise ConfigError(f"Subset.indices: got {table.dtype} of shape {table.shape}, expected a 1-D list of ints")
        n = len(self.source)
        if table.size and (table.min() < 0 or table.max() >= n):
            bad = int(table[(table < 0) | (table >= n)][0])
            raise ConfigError(f"Subset.indices: got {bad}, expected indices in [0, {n}) of the source")
        self.indices = table.astype(np.int32)
        self.traceable = bool(getattr(self.source, "traceable", False))
        self._device_table = jnp.asarray(self.indices) if self.traceable else None

    def __len__(self) -> int:
        return len(self.indices)

    def get_records(self, indices: Any) -> Batch:
        idx = self.checked_indices(indices)
        if self.traceable:
            assert self._device_table is not None  # built in __init__ whenever the source is traceable
            return self.source.get_records(jnp.take(self._device_table, jnp.asarray(idx)))
        return self.source.get_records(self.indices[idx])

    def host_records(self, indices: Any) -> dict[str, Any]:
        host = getattr(self.source, "host_records", None)
        return {} if host is None else host(self.indices[np.asarray(indices)])

    def pure_gather(self) -> tuple[Any, Any]:
        if not self.traceable:
            return super().pure_gather()
        gather, args = self.source.pure_gather()
        return (lambda a, idx: gather(a[0], jnp.take(a[1], idx))), (args, self._device_table)

    def fingerprint(self) -> Fingerprint:
        """Count, a hash of the index table and the source's fingerprint (None when it has none)."""
        table = digest(self.indices.astype("<i4").tobytes())
        return {"kind": "subset", "count": len(self), "indices": table, "source": fingerprint_of(self.source)}


class Concat(IndexedSource):
    """The records of ``sources`` one after the other (read on the host)."""

    traceable = False

    def __init__(self, sources: Sequence[Any]) -> None:
        if isinstance(sources, str) or not isinstance(sources, Sequence) or not sources:
            raise ConfigError(f"Concat.sources: got {sources!r}, expected a non-empty list of sources")
        self.sources = [as_source(s) for s in sources]
        self.offsets = np.cumsum([0] + [len(s) for s in self.sources])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def fingerprint(self) -> Fingerprint:
        """Count and the parts' fingerprints in order (None for a part that has none)."""
        return {"kind": "concat", "count": len(self), "parts": [fingerprint_of(s) for s in self.sources]}

    def get_records(self, indices: Any) -> Batch:
        idx = np.asarray(self.checked_indices(indices), np.int64)
        part = np.searchsorted(self.offsets, idx, side="right") - 1
        pieces: list[tuple[np.ndarray, Batch]] = []
        for p in np.unique(part):
            rows = np.nonzero(part == p)[0]
            source = self.sources[p]
            records = dict(source.get_records(idx[rows] - self.offsets[p]))
            host = getattr(source, "host_records", None)
            if getattr(source, "traceable", False) and host is not None:
                records.update(host(idx[rows] - self.offsets[p]))
            pieces.append((rows, records))
        return _interleave(pieces, len(idx))


def _interleave(pieces: list[tuple[np.ndarray, Batch]], size: int) -> Batch:
    keys = set(pieces[0][1])
    for _, records in pieces[1:]:
        if set(records) != keys:
            raise DataError(
                f"Concat: parts have different fields {sorted(keys)} and {sorted(records)}; expected one set"
            )
    out: Batch = {}
    for key in keys:
        first = np.asarray(pieces[0][1][key])
        column = np.empty((size, *first.shape[1:]), first.dtype if first.dtype.kind not in "USO" else object)
        for rows, records in pieces:
            value = np.asarray(records[key])
            if value.shape[1:] != first.shape[1:]:
                raise DataError(
                    f"Concat: field {key!r} has shape {value.shape[1:]} in one part and {first.shape[1:]} in another"
                )
            column[rows] = value
        out[key] = column
    return out


def random_split(source: Any, sizes: Sequence[float | int], seed: int = 0) -> list[Subset]:
    """Disjoint random ``Subset`` s covering ``source``: ``sizes`` as fractions (summing to 1) or counts."""
    seed = check_seed("random_split.seed", seed)
    source = as_source(source)
    n = len(source)
    values = list(sizes)
    if not values or any(isinstance(v, bool) or not isinstance(v, int | float | np.number) or v < 0 for v in values):
        raise ConfigError(f"random_split.sizes: got {sizes!r}, expected non-negative fractions or counts")
    if all(isinstance(v, int | np.integer) for v in values):
        counts = [int(v) for v in values]
        if sum(counts) != n:
            raise ConfigError(f"random_split.sizes: counts {counts} sum to {sum(counts)}, expected {n}")
    else:
        if abs(sum(values) - 1.0) > 1e-6:
            raise ConfigError(f"random_split.sizes: fractions {values} sum to {sum(values)}, expected 1")
        counts = [int(np.floor(v * n)) for v in values]
        for i in range(n - sum(counts)):  # remainders one by one, round robin, as torch does
            counts[i % len(counts)] += 1
    perm = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x5B117]))).permutation(n)
    bounds = np.cumsum([0, *counts])
    return [Subset(source, np.sort(perm[a:b])) for a, b in itertools.pairwise(bounds)]
