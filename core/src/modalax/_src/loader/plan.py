"""Which records go in which batch: pure functions of (seed, epoch, position).

Kept free of jax so the index arithmetic can be property-tested quickly.  Batch ``b`` of an
epoch holds positions ``[b*B, (b+1)*B)`` of that epoch's permutation; shard ``p`` of ``P``
takes the ``p``-th of ``P`` equal slices of it, so the shards of one global batch together
are exactly the single-process batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modalax._src.errors import ConfigError
from modalax._src.loader.order import EpochOrder

#: Record indices travel to the device as int32.
_MAX_RECORDS = 2**31 - 1


def epoch_permutation(num_records: int, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    """The order of records in ``epoch``, materialised: ``EpochOrder(...)[0 .. num_records-1]``.

    A true permutation from (seed, epoch) when shuffling, the same in every process and on
    every platform.  The loader itself never materialises it: it maps only the positions of
    the batches it is about to produce (``modalax._src.loader.order``).
    """
    return EpochOrder(num_records, seed, epoch, shuffle).materialize()


@dataclass(frozen=True)
class BatchPlan:
    """Batch geometry of a loader over ``num_records`` records."""

    num_records: int
    batch_size: int
    drop_last: bool
    num_shards: int = 1
    shard_index: int = 0

    def __post_init__(self) -> None:
        for name in ("num_records", "batch_size", "num_shards"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
                raise ConfigError(f"DataLoader.{name}: got {value!r}, expected a positive int")
        if self.num_records > _MAX_RECORDS:
            raise ConfigError(
                f"DataLoader.num_records: got {self.num_records:,} records, expected at most {_MAX_RECORDS:,}: "
                "record indices reach the jitted step as int32 (jax's default integer)"
            )
        if not 0 <= self.shard_index < self.num_shards:
            raise ConfigError(
                f"DataLoader.shard_index: got {self.shard_index!r}, expected 0 <= shard_index < {self.num_shards}"
            )
        if self.batch_size % self.num_shards:
            raise ConfigError(
                f"DataLoader.batch_size: got {self.batch_size}, expected a multiple of num_shards={self.num_shards} "
                "(batch_size is the global batch, split evenly across shards)"
            )
        if self.drop_last and self.num_records < self.batch_size:
            raise ConfigError(
                f"DataLoader.batch_size: got {self.batch_size} with drop_last=True over {self.num_records} "
                "records, which yields no batch; expected batch_size <= number of records"
            )

    @property
    def local_batch_size(self) -> int:
        """Records per batch on this shard."""
        return self.batch_size // self.num_shards

    @property
    def batches_per_epoch(self) -> int:
        """Global batches in one epoch."""
        full, rest = divmod(self.num_records, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def local_indices_block(self, perm: np.ndarray | EpochOrder, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Record indices of this shard's part of batches ``lo .. hi-1``, and their validity masks.

        Both ``(hi - lo, local_batch_size)``.  Positions past the end of the epoch (padding of a
        last partial batch) wrap to its start and are masked False, so shapes stay fixed.
        """
        starts = np.arange(lo, hi, dtype=np.int64)[:, None] * self.batch_size + self.shard_index * self.local_batch_size
        pos = starts + np.arange(self.local_batch_size, dtype=np.int64)
        return perm[pos % self.num_records], pos < self.num_records

    def local_indices(self, perm: np.ndarray | EpochOrder, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """Record indices of this shard's part of ``batch``, and its validity mask."""
        idx, mask = self.local_indices_block(perm, batch, batch + 1)
        return idx[0], mask[0]
