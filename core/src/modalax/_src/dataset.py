"""``BaseDataset``: the nnx dataset base of the API reference, built on the data-source protocol."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import numpy as np
from flax import nnx

from modalax._src.config import BaseModalityConfig
from modalax._src.errors import ConfigError
from modalax._src.random import dataset_key, record_keys, resolve_rngs, split_id
from modalax._src.sources.base import Batch, IndexedSource

_ITER_CHUNK = 256


class BaseDataset(nnx.Module, IndexedSource):
    """Abstract base of modality datasets.

    Subclasses implement ``__len__`` and ``get_records(indices)``; iteration, ``get_batch``,
    ``get_sample``/``__getitem__``, ``get_batch_at`` and ``element_spec`` follow.  Set
    ``traceable = True`` when ``get_records`` is a pure jax function of the indices.
    """

    def __init__(
        self, config: BaseModalityConfig | None = None, split: str = "train", *, rngs: nnx.Rngs | int | None = None
    ) -> None:
        split_id(split)  # validates the name
        self.config = config
        self.split = split
        self.rngs = resolve_rngs(f"{type(self).__name__}.rngs", rngs)
        self._draws = 0

    def dataset_key(self, salt: str = "") -> jax.Array:
        """The key this dataset's randomness derives from: (seed, split, salt)."""
        return dataset_key(self.rngs, self.split, salt)

    def get_records(self, indices: Any) -> Batch:
        """Records at ``indices``; the default stacks ``self._get_one(i)`` (slow path)."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_records(indices) to be batched and loaded")

    def __iter__(self) -> Iterator[Batch]:
        """Samples in index order, fetched in vectorised chunks."""
        n = len(self)
        for start in range(0, n, _ITER_CHUNK):
            idx = np.arange(start, min(n, start + _ITER_CHUNK), dtype=np.int32)
            chunk = self.fetch(idx)
            for j in range(len(idx)):
                yield self.element_of(chunk, j)

    def get_batch(self, batch_size: int) -> Batch:
        """A batch of records drawn uniformly (with replacement) from this dataset.

        Each call advances a counter, so successive calls differ but a fresh dataset with
        the same seed repeats the same sequence.  Use ``DataLoader`` for epochs.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ConfigError(f"get_batch.batch_size: got {batch_size!r}, expected a positive int")
        key = jax.random.fold_in(self.dataset_key("get_batch"), self._draws)
        self._draws += 1
        idx = jax.random.randint(key, (batch_size,), 0, len(self), dtype=np.int32)
        return self.fetch(idx if self.traceable else np.asarray(idx))

    def get_data_statistics(self) -> dict[str, Any]:
        """Size, split and per-key shape/dtype."""
        return {
            "size": len(self),
            "split": self.split,
            "fields": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in self.element_spec().items()},
        }


class SyntheticDataset(BaseDataset):
    """A dataset whose record ``i`` is a pure function of (seed, split, i).

    Subclasses implement ``generate_records(keys, indices)``: pure jax, vectorised over the
    batch, with one key per record.  Nothing is stored, so ``dataset_size`` can be huge, and
    splits never share a sample (their keys differ).
    """

    traceable = True

    def __init__(
        self,
        config: BaseModalityConfig | None = None,
        dataset_size: int = 1000,
        split: str = "train",
        *,
        rngs: nnx.Rngs | int | None = None,
    ) -> None:
        super().__init__(config, split, rngs=rngs)
        if isinstance(dataset_size, bool) or not isinstance(dataset_size, int) or dataset_size <= 0:
            raise ConfigError(f"{type(self).__name__}.dataset_size: got {dataset_size!r}, expected a positive int")
        self.dataset_size = dataset_size
        self._key = self.dataset_key()
        self._compile_generator()

    def _compile_generator(self) -> None:
        # Keys are folded inside the jit: outside it, one fold_in per record is a dispatch each.
        self._generate = jax.jit(lambda key, idx: self.generate_records(record_keys(key, idx), idx))

    def __getstate__(self) -> dict[str, Any]:
        # A jitted closure does not pickle; it is rebuilt on load (worker processes, grain).
        state = super().__getstate__()
        return {k: v for k, v in state.items() if k != "_generate"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._compile_generator()

    def __len__(self) -> int:
        return self.dataset_size

    def generate_records(self, keys: jax.Array, indices: jax.Array) -> Batch:
        """Records for ``indices`` from their ``keys``; pure jax, vectorised."""
        raise NotImplementedError(f"{type(self).__name__} must implement generate_records(keys, indices)")

    def get_records(self, indices: Any) -> Batch:
        return self._generate(self._key, jax.numpy.asarray(self.checked_indices(indices), dtype=jax.numpy.int32))
