"""One epoch of one process's stream: readers interleaved, a shuffle buffer, batches of records.

``EpochRun`` is the record-level half of the streaming loader, free of jax: it yields
``(items, real)`` per local batch (``real`` records, the rest of the batch padding) and, after
each, the position a restored run would continue from (``position()``). Batches are cut from
the buffer's output in order; the last partial batch is padded (``drop_last=False``) or
dropped and counted. When every process must yield the same number of batches
(``target``), a process that runs out pads with masked batches, and one that reaches the
target first stops and counts what it leaves (see ``modalax._src.streaming.plan``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modalax._src.errors import DataError
from modalax._src.streaming.buffer import ShuffleBuffer
from modalax._src.streaming.plan import EpochPlan
from modalax._src.streaming.reader import SELECT, unpack
from modalax._src.streaming.streams import Interleave, Item, ReaderStream

__all__ = ["EpochRun", "Tally"]


@dataclass
class Tally:
    """What a run left out so far: skipped samples (messages, count) and dropped records."""

    skipped: list[str] = field(default_factory=list)
    skipped_count: int = 0
    dropped: int = 0
    max_messages: int = 1000

    def skip(self, message: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < self.max_messages:
            self.skipped.append(message)


class EpochRun:
    """Process-local batches of one epoch from ``position`` on (see the module docstring)."""

    def __init__(
        self,
        plan: EpochPlan,
        position: dict[str, Any],
        *,
        fetcher: Any,
        where: Callable[[int], str],
        sizes: Sequence[int] | None,
        local_batch: int,
        drop_last: bool,
        target: int | None,
        buffer: ShuffleBuffer[Item],
        chunk: int,
        ahead: int,
        tally: Tally,
        tokens: Iterator[int],
    ) -> None:
        self.plan, self.fetcher, self.where, self.sizes = plan, fetcher, where, sizes
        self.local_batch, self.drop_last, self.target = local_batch, drop_last, target
        self.buffer, self.tally = buffer, tally
        self.batch, self.records = position["batch"], position["records"]
        self.streams = [
            ReaderStream(
                r,
                shards,
                fetcher,
                token=next(tokens),
                chunk=chunk,
                ahead=ahead,
                sizes=sizes,
                on_skip=self._on_skip,
                where=where,
                cursor=tuple(position["streams"][r]),
            )
            for r, shards in enumerate(plan.readers)
        ]
        self.interleave = Interleave(self.streams, position["active"], position["turn"])
        if position["buffer"] or position["draws"]:
            self.buffer.restore(self._read_back(position["buffer"]), position["draws"])

    def _on_skip(self, shard: int, pos: int, key: str, message: str) -> None:
        del shard, pos, key
        self.tally.skip(message)

    def _read_back(self, identities: Sequence[tuple[int, int]]) -> list[Item]:
        """The buffered records of a saved position, read again (one request per shard)."""
        by_shard: dict[int, list[int]] = {}
        for shard, pos in identities:
            by_shard.setdefault(shard, []).append(pos)
        owner = {s: r for r, shards in enumerate(self.plan.readers) for s in shards}
        handles = {
            s: self.fetcher.submit(owner.get(s, 0), np.asarray([SELECT, s, *sorted(p)], np.int64))
            for s, p in by_shard.items()
        }
        found: dict[tuple[int, int], Item] = {}
        for shard, handle in handles.items():
            chunk = handle.result()
            records = iter(unpack(chunk))
            for _, pos, kind, key, payload in chunk["events"]:
                if kind != "rec":
                    raise DataError(f"cannot restore the shuffle buffer: {payload}")
                found[(shard, pos)] = Item(next(records), shard, pos, key)
        return [found[(s, p)] for s, p in identities]

    def position(self) -> dict[str, Any]:
        """Where a restored run continues: cursors, interleave turn, buffered identities, counts."""
        return {
            "epoch": self.plan.epoch,
            "batch": self.batch,
            "records": self.records,
            "streams": [s.cursor for s in self.streams],
            "active": list(self.interleave.active),
            "turn": self.interleave.turn,
            "buffer": self.buffer.identities(),
            "draws": self.buffer.draws,
        }

    def _next(self) -> Item | None:
        while True:
            item = self.interleave.next()
            if item is None:
                return self.buffer.pop()
            out = self.buffer.push(item)
            if out is not None:
                return out

    def batches(self) -> Iterator[tuple[list[Item], int]]:
        """``(items, real)`` per batch; the run's position is ``position()`` after each."""
        rows: list[Item] = []
        try:
            while self.target is None or self.batch < self.target:
                item = self._next()
                if item is None:
                    break
                rows.append(item)
                if len(rows) == self.local_batch:
                    yield from self._emit(rows, len(rows))
                    rows = []
            else:
                self._leftover()
            if rows and self.drop_last and self.target is None:
                self.tally.dropped += len(rows)
            elif rows:
                yield from self._emit(rows, len(rows))
            if self.target is not None:
                while self.batch < self.target:
                    yield from self._emit([], 0)
        finally:
            self.interleave.close()

    def _emit(self, rows: list[Item], real: int) -> Iterator[tuple[list[Item], int]]:
        self.batch += 1
        self.records += real
        yield rows, real

    def _leftover(self) -> None:
        """The target is reached: count what this process leaves out (exactly when sizes are known)."""
        peeked = self._next()
        if peeked is None:
            return
        held = len(self.buffer) + 1
        unread: int | None = None
        if self.sizes is not None:
            unread = 0
            for stream in self.streams:
                slot, pos = stream.cursor
                rest = stream.shards[slot:]
                unread += sum(self.sizes[s] for s in rest) - (pos if rest else 0)
        self.tally.dropped += held + (unread or 0)
        left = "an unknown number of unread samples" if unread is None else f"{unread} unread samples"
        warnings.warn(
            f"epoch {self.plan.epoch}: this process stopped at {self.target} batches (every process yields as "
            f"many) and left {held} records it had read and {left} of its shards out",
            RuntimeWarning,
            stacklevel=2,
        )
