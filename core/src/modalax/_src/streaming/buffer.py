"""A seeded shuffle buffer: the record-level shuffle a stream can afford.

The buffer holds ``size`` records. Each record that arrives once it is full takes the slot of
a record drawn uniformly from the buffer, which leaves; at the end of the stream the rest
leave in a random order. A record thus moves at most a geometric distance from where the
stream had it: a *local* shuffle, not a permutation of the epoch (a stream cannot have that
without holding the epoch). Combined with a per-epoch shard order it is what streaming
loaders offer; the buffer's size trades memory (``size`` decoded records) for mixing.

Draw ``n`` of an epoch is a pure function of ``(seed, epoch, process, n)``: splitmix64's
finaliser applied to a per-epoch key plus ``n`` times the golden ratio, reduced modulo the
number of candidates (a bias below ``size / 2**64``). So the order depends on the arriving
sequence only, never on when workers deliver, and the buffer's state is the identities of
the records it holds, in slot order, and the number of draws made: plain JSON, which rebuilds
the buffer by reading those records again (``modalax._src.streaming.loader``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np

__all__ = ["ShuffleBuffer", "draw"]

T = TypeVar("T")
_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_BUFFER_SALT = 0x534255  # keeps the buffer's draws apart from the shard order's


def _mix(x: int) -> int:
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def draw(key: int, n: int, bound: int) -> int:
    """Draw ``n`` of the sequence of ``key``: an int in ``[0, bound)``."""
    return _mix((key + n * _GOLDEN) & _MASK) % bound


class ShuffleBuffer(Generic[T]):
    """Items of one process's stream in one epoch, shuffled within ``size`` slots.

    ``size <= 1`` passes items through in order. ``ident(item)`` gives an item's
    ``(shard, position)``; they are kept in a parallel array, so that ``identities()`` (the
    state, with ``draws``) costs a copy, not a pass over the items.
    """

    def __init__(
        self, size: int, seed: int, epoch: int, process_index: int, ident: Callable[[T], tuple[int, int]]
    ) -> None:
        self.size = int(size)
        seeds = np.random.SeedSequence([int(seed), int(epoch), int(process_index), _BUFFER_SALT])
        self.key = int(seeds.generate_state(1, np.uint64)[0])
        self.ident = ident
        self.items: list[T] = []
        self.ids = np.zeros((max(self.size, 1), 2), np.int64)
        self.draws = 0

    def push(self, item: T) -> T | None:
        """Add ``item``; the item that leaves in exchange, or None while the buffer fills."""
        if self.size <= 1:
            return item
        n = len(self.items)
        if n < self.size:
            self.items.append(item)
            self.ids[n] = self.ident(item)
            return None
        j = draw(self.key, self.draws, self.size)
        self.draws += 1
        out, self.items[j] = self.items[j], item
        self.ids[j] = self.ident(item)
        return out

    def pop(self) -> T | None:
        """At the end of the stream: a random item that leaves, or None when empty."""
        n = len(self.items)
        if not n:
            return None
        j = draw(self.key, self.draws, n)
        self.draws += 1
        out = self.items[j]
        self.items[j] = self.items[-1]
        self.ids[j] = self.ids[n - 1]
        self.items.pop()
        return out

    def identities(self) -> np.ndarray:
        """``(held, 2)`` int64 identities of the held items, in slot order."""
        return self.ids[: len(self.items)].copy()

    def restore(self, items: list[T], draws: int) -> None:
        """Take the state saved by a buffer of the same seed, epoch and process."""
        self.items, self.draws = list(items), int(draws)
        for j, item in enumerate(self.items):
            self.ids[j] = self.ident(item)

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"ShuffleBuffer(size={self.size}, held={len(self.items)}, draws={self.draws})"
