"""Sources used by the loader tests."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np

from modalax import ArraySource, FileSource, SyntheticDataset
from modalax._src.loader import order as order_module


def epoch_order(materialized: bool) -> AbstractContextManager[Any]:
    """Shuffle with the drawn permutation (as below 2^24 records) or per position (as above)."""
    return mock.patch.object(order_module, "MATERIALIZE_MAX", order_module.MATERIALIZE_MAX if materialized else 0)


class NoiseDataset(SyntheticDataset):
    """Record i: 4 normal draws from key(seed, split, i), plus its index."""

    def generate_records(self, keys: jax.Array, indices: jax.Array) -> dict[str, jax.Array]:
        x = jax.vmap(lambda k: jax.random.normal(k, (4,)))(keys)
        return {"x": x, "id": indices}


class NpyFolder(FileSource):
    """One ``.npy`` file per record."""

    def decode(self, path: Path) -> dict[str, np.ndarray]:
        return {"x": np.load(path, allow_pickle=False)}

    def extra_fields(self, index: int) -> dict[str, Any]:
        return {"id": np.int32(index)}


class FailingSource(ArraySource):
    """Raises on any batch that contains record ``bad``."""

    def __init__(self, n: int, bad: int) -> None:
        super().__init__({"id": np.arange(n)}, on_device=False)
        self.bad = bad

    def get_records(self, indices: Any) -> dict[str, Any]:
        if self.bad in np.asarray(indices):
            raise RuntimeError(f"record {self.bad} is unreadable")
        return super().get_records(indices)


def ids_source(n: int) -> ArraySource:
    """Host-side source whose only field is the record index."""
    return ArraySource({"id": np.arange(n, dtype=np.int32)}, on_device=False)


def valid_ids(batch: dict[str, Any]) -> np.ndarray:
    """The record ids of a batch that are not padding."""
    ids = np.asarray(batch["id"])
    return ids[np.asarray(batch["mask"])] if "mask" in batch else ids


def digest(batches: list[dict[str, Any]]) -> str:
    """sha256 of every array of every batch, in order."""
    import hashlib

    h = hashlib.sha256()
    for b in batches:
        for k in sorted(b):
            h.update(k.encode())
            h.update(np.ascontiguousarray(np.asarray(b[k])).tobytes())
    return h.hexdigest()


def shifted(x: jnp.ndarray) -> jnp.ndarray:
    return x + 1
