"""Which shards a process and each of its readers read in an epoch: pure functions of (seed, epoch).

A stream has no random access, so an epoch is ordered at two levels instead of by one
permutation of records. The shards are permuted per epoch from ``(seed, epoch)`` (numpy's
PCG64 seeded by ``SeedSequence([seed, epoch, salt])``, the same in every process); process
``p`` of ``P`` takes every ``P``-th shard of that order, and its ``R`` readers every ``R``-th
shard of the process's list. Each shard is thus read by exactly one reader of one process.
Records are then interleaved across the readers and pass a seeded shuffle buffer
(``modalax._src.streaming.buffer``). Cost: O(number of shards) per epoch.

Processes hold different numbers of records whenever shard sizes differ, and a stream does not
know its size. ``batches_in_epoch`` decides the count every process yields when it can be
known without communication (``epoch_batches``): from declared shard sizes (every process
pads with masked batches up to the largest, or with ``drop_last`` stops at the smallest and
counts what it drops), or from a fixed ``batches_per_epoch``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from modalax._src.errors import ConfigError

__all__ = ["EpochPlan", "check_split", "epoch_batches", "names_digest", "plan_epoch", "process_records", "shard_order"]

_SHARD_SALT = 0x5348  # keeps the shard order apart from the record order of a DataLoader with the same seed


def shard_order(num_shards: int, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    """The order in which the shards are read in ``epoch`` (int64; the identity without shuffling)."""
    if not shuffle:
        return np.arange(num_shards, dtype=np.int64)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(epoch), _SHARD_SALT])))
    return rng.permutation(num_shards).astype(np.int64)


@dataclass(frozen=True)
class EpochPlan:
    """The shards of one process in one epoch, and how its readers share them."""

    epoch: int
    shards: tuple[int, ...]  # this process's shards, in reading order
    readers: tuple[tuple[int, ...], ...]  # reader r reads shards[r::num_readers], in order


def plan_epoch(
    num_shards: int, seed: int, epoch: int, shuffle: bool, process_index: int, process_count: int, readers: int
) -> EpochPlan:
    """Process ``process_index``'s shards of ``epoch``, dealt to ``readers`` readers."""
    mine = tuple(int(s) for s in shard_order(num_shards, seed, epoch, shuffle)[process_index::process_count])
    return EpochPlan(epoch, mine, tuple(mine[r::readers] for r in range(readers)))


def process_records(
    sizes: Sequence[int], num_shards: int, seed: int, epoch: int, shuffle: bool, count: int
) -> list[int]:
    """Records each of ``count`` processes reads in ``epoch`` when shard ``i`` holds ``sizes[i]``."""
    order = shard_order(num_shards, seed, epoch, shuffle)
    size = np.asarray(sizes, np.int64)
    return [int(size[order[p::count]].sum()) for p in range(count)]


def epoch_batches(per_process: Sequence[int], local_batch: int, drop_last: bool) -> int:
    """Batches every process yields when process ``p`` reads ``per_process[p]`` records."""
    if drop_last:
        return min(n // local_batch for n in per_process)
    return max(-(-n // local_batch) for n in per_process)


def names_digest(names: Sequence[str]) -> int:
    """A CRC32 of the shard names in order: a saved state names the shard list it belongs to."""
    return zlib.crc32("\n".join(names).encode())


def check_split(num_shards: int, process_count: int) -> None:
    """``ConfigError`` when some process would get no shard at all."""
    if num_shards < process_count:
        raise ConfigError(
            f"StreamingLoader: {num_shards} shard(s) for {process_count} processes; expected at least one shard per "
            "process (each shard is read by exactly one process: split the data into more shards)"
        )
