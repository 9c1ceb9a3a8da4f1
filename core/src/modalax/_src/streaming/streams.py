"""The loader's side of reading: one ``ReaderStream`` per reader, interleaved in a fixed order.

A reader stream walks its shards in order, asking for chunks of ``chunk`` samples and keeping
``ahead`` chunks requested before they are needed. Where a chunk is read does not change
what it holds: ``LocalFetcher`` reads it in this process when it is needed, ``PoolFetcher``
sends it to the worker process that owns the reader (one ``WorkerPool`` of one process per
worker, so each shard is read by one process, in order, and its open file is reused). The
stream's position (``cursor``: shard slot and sample position of the next sample) advances
only as records are taken, so it is the place a restored stream starts from, whatever was
read ahead.

``Interleave`` takes one record from each stream in turn (a stream that ends leaves the
turn): a fixed order that depends on the streams' contents only, never on timing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modalax._src.errors import DataError
from modalax._src.streaming.reader import READ, ShardReader, unpack

__all__ = ["Interleave", "Item", "LocalFetcher", "PoolFetcher", "ReaderStream"]


@dataclass(frozen=True)
class Item:
    """A record and its identity: global shard index and position in the shard, and its sample key."""

    record: dict[str, Any]
    shard: int
    pos: int
    key: str


class _Lazy:
    """A chunk read in this process when its result is asked for (in request order)."""

    def __init__(self, reader: ShardReader, request: np.ndarray) -> None:
        self.reader, self.request = reader, request

    def result(self) -> dict[str, Any]:
        return self.reader.get_records(self.request)

    def cancel(self) -> None:
        pass


class LocalFetcher:
    """Chunks read in the loader's process."""

    def __init__(self, reader: ShardReader) -> None:
        self.reader = reader

    def submit(self, reader_index: int, request: np.ndarray) -> Any:
        del reader_index
        return _Lazy(self.reader, request)

    def close(self) -> None:
        self.reader.close()


class PoolFetcher:
    """Chunks read by worker processes: reader ``r``'s chunks all go to worker ``r % workers``."""

    def __init__(self, pools: Sequence[Any]) -> None:
        self.pools = list(pools)

    def submit(self, reader_index: int, request: np.ndarray) -> Any:
        return self.pools[reader_index % len(self.pools)].submit(request)

    def close(self) -> None:
        pass  # the pools live with the loader


class ReaderStream:
    """Reader ``index``'s records of an epoch: its ``shards`` in order, from ``cursor`` on.

    ``token`` names the stream in the reader that reads it (unique over the loader's life).
    """

    def __init__(
        self,
        index: int,
        shards: Sequence[int],
        fetcher: Any,
        *,
        token: int,
        chunk: int,
        ahead: int,
        sizes: Sequence[int] | None,
        on_skip: Callable[[int, int, str, str], None],
        where: Callable[[int], str],
        cursor: tuple[int, int] = (0, 0),
    ) -> None:
        self.index, self.shards, self.fetcher, self.token = index, list(shards), fetcher, token
        self.chunk, self.ahead, self.sizes = chunk, max(1, ahead), sizes
        self.on_skip, self.where = on_skip, where
        self.slot, self.pos = cursor
        self._started = False
        self._ready: deque[tuple[int, int, str, str, Any]] = deque()
        self._pending: deque[Any] = deque()

    @property
    def cursor(self) -> tuple[int, int]:
        """(slot in ``shards``, position in that shard) of the next sample."""
        return self.slot, self.pos

    def _request(self) -> None:
        while len(self._pending) < self.ahead:
            head = [READ, self.token, self.chunk]
            if not self._started:  # the first request starts the stream at the cursor
                head += [self.slot, self.pos, *self.shards]
                self._started = True
            self._pending.append(self.fetcher.submit(self.index, np.asarray(head, np.int64)))

    def _receive(self) -> None:
        handle = self._pending.popleft()
        try:
            chunk = handle.result()
        except DataError as exc:  # a worker that died or a source that raised outside a sample
            ahead = [self.where(s) for s in self.shards[self.slot : self.slot + 4]]
            more = f" and {len(self.shards) - self.slot - 4} more" if len(self.shards) - self.slot > 4 else ""
            raise DataError(
                f"reader {self.index}: reading from position {self.pos} of {ahead[0]} on (a chunk runs on into the "
                f"reader's next shards: {', '.join(ahead[1:]) or 'none'}{more}) failed: {exc}"
            ) from exc
        records = iter(unpack(chunk))
        for shard, pos, kind, key, payload in chunk["events"]:
            if kind == "lost":
                raise DataError(f"{self.where(self.shards[self.slot])}: {payload}")
            self._ready.append((shard, pos, kind, key, next(records) if kind == "rec" else payload))

    def take(self) -> Item | None:
        """The next record, or None when every shard is read; ``DataError`` where one is met (raise mode)."""
        while True:
            while self._ready:
                shard, pos, kind, key, payload = self._ready.popleft()
                if kind == "rec":
                    self.pos = pos + 1
                    return Item(payload, shard, pos, key)
                if kind == "skip":
                    self.pos = pos + 1
                    self.on_skip(shard, pos, key, payload)
                elif kind == "error":
                    raise DataError(payload)
                else:  # the end of the shard
                    self._check_size(shard, payload)
                    self.slot, self.pos = self.slot + 1, 0
            if self.slot >= len(self.shards):
                self.close()
                return None
            self._request()
            self._receive()
            self._request()  # keep `ahead` chunks reading while this one is consumed

    def _check_size(self, shard: int, total: int) -> None:
        if self.sizes is None or total < 0 or total == self.sizes[shard]:
            return
        raise DataError(
            f"{self.where(shard)} holds {total} samples, but shard_sizes declares {self.sizes[shard]}; expected the "
            "declared count (fix shard_sizes, or count again with source.count_samples())"
        )

    def close(self) -> None:
        """Drop the chunks requested ahead."""
        while self._pending:
            self._pending.popleft().cancel()
        self._ready.clear()


class Interleave:
    """One record from each active stream in turn; ``active`` and ``turn`` are its state."""

    def __init__(self, streams: Sequence[ReaderStream], active: Sequence[int] | None = None, turn: int = 0) -> None:
        self.streams = list(streams)
        self.active = list(range(len(streams))) if active is None else list(active)
        self.turn = turn

    def next(self) -> Item | None:
        """The next record of the interleaved streams, or None when all have ended."""
        while self.active:
            r = self.active[self.turn]
            item = self.streams[r].take()
            if item is None:
                del self.active[self.turn]
                if self.turn >= len(self.active):
                    self.turn = 0
                continue
            self.turn = (self.turn + 1) % len(self.active)
            return item
        return None

    def close(self) -> None:
        for stream in self.streams:
            stream.close()
