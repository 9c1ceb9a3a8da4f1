"""Reading a reader's shards in chunks, in the loader's process or in a worker process.

A reader stream is one reader's shards of an epoch, read in order. ``ShardReader.read(token,
count, init)`` returns its next ``count`` samples, decoded, as a *chunk*: the records (columns
stacked where every record agrees, so that a worker hands them back through shared memory) and
a list of events in stream order: a record, a sample left out (``on_error="skip"``), an error
(``"raise"``), the end of a shard (with its number of samples). A chunk runs on into the next
shard, so a reader never waits at a shard's end for the loader to ask for the next one. Errors
travel as events rather than exceptions so that the loader raises them, or counts them,
exactly where the stream reaches them, whoever read ahead. Any exception of a source becomes a
``DataError`` naming the shard and the sample.

The stream's place (shard slot, position, open shard) lives in the reader, under the
stream's ``token``: chunks of one stream go to one reader, in order, and the first carries
``init`` (the shard list and the cursor to start from: a resume reopens that shard and passes
over the samples before the position without decoding them). ``select(shard, positions)``
reads given samples (a shuffle buffer being rebuilt).

``get_records(request)`` is the entry point of a ``WorkerPool`` worker: the request is an int64
array ``[0, token, count]`` or ``[0, token, count, slot, pos, *shards]`` (read, the second form
starting the stream) or ``[1, shard, *positions]`` (select).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from modalax._src.errors import DataError
from modalax._src.streaming.source import StreamSource

__all__ = ["READ", "SELECT", "ShardReader", "pack", "unpack"]

READ, SELECT = 0, 1
Event = tuple[int, int, str, str, Any]  # (shard, position, kind, sample key, message or total)


class _Stream:
    """A reader stream's place: its shards, the slot and position of the next sample, the open shard."""

    __slots__ = ("it", "pos", "shards", "slot")

    def __init__(self, shards: list[int], slot: int, pos: int) -> None:
        self.shards, self.slot, self.pos = shards, slot, pos
        self.it: Iterator[Any] | None = None

    def close(self) -> None:
        close = getattr(self.it, "close", None)
        if close is not None:
            close()
        self.it = None


def pack(records: list[dict[str, Any]], events: list[Event]) -> dict[str, Any]:
    """A chunk: ``events`` and the records, as stacked columns when every record has one structure."""
    keys = list(records[0]) if records else []
    columnar = all(list(r) == keys for r in records)
    if not columnar:
        return {"events": events, "records": records}
    columns: dict[str, Any] = {}
    for k in keys:
        values = [r[k] for r in records]
        first = values[0]
        same = isinstance(first, np.ndarray) and first.dtype.kind in "biufc"
        same = same and all(
            isinstance(v, np.ndarray) and v.shape == first.shape and v.dtype == first.dtype for v in values
        )
        columns[k] = np.stack(values) if same else values
    return {"events": events, "columns": columns, "n": len(records)}


def unpack(chunk: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of a chunk, each its own copy (a buffered record never pins a whole chunk)."""
    if "records" in chunk:
        return list(chunk["records"])
    columns, n = chunk.get("columns", {}), chunk.get("n", 0)
    return [{k: (c[i].copy() if isinstance(c, np.ndarray) else c[i]) for k, c in columns.items()} for i in range(n)]


class ShardReader:
    """Reads chunks of reader streams of ``source`` (see the module docstring); keeps ``max_streams``."""

    def __init__(self, source: StreamSource, max_streams: int = 64) -> None:
        self.source = source
        self.max_streams = max_streams
        self._streams: OrderedDict[int, _Stream] = OrderedDict()

    def _fail(self, events: list[Event], shard: int, pos: int, exc: BaseException) -> None:
        if isinstance(exc, DataError):
            text = str(exc)
        else:
            text = f"{self.source.where(shard)}: reading stopped at position {pos} ({type(exc).__name__}: {exc})"
        if self.source.on_error == "skip":
            events.append((shard, pos, "skip", "", f"{text}; the rest of the shard is left out"))
            events.append((shard, pos, "end", "", -1))
        else:
            events.append((shard, pos, "error", "", text))

    def read(
        self, token: int, count: int, init: tuple[int, int, list[int]] | None = None
    ) -> tuple[list[dict[str, Any]], list[Event]]:
        """Records and events of the next ``count`` samples of stream ``token`` (started by ``init``)."""
        if init is not None:
            old = self._streams.pop(token, None)
            if old is not None:
                old.close()
            slot, pos, shards = init
            self._streams[token] = _Stream(list(shards), slot, pos)
            while len(self._streams) > self.max_streams:
                self._streams.popitem(last=False)[1].close()
        stream = self._streams.get(token)
        records: list[dict[str, Any]] = []
        events: list[Event] = []
        if stream is None:
            events.append((-1, -1, "lost", "", f"reader stream {token} is unknown to this reader"))
            return records, events
        passed = 0
        while passed < count and stream.slot < len(stream.shards):
            shard, pos = stream.shards[stream.slot], stream.pos
            try:
                if stream.it is None:
                    stream.it = self.source.samples(shard, pos)
                key, raw = next(stream.it)
            except StopIteration:
                events.append((shard, pos, "end", "", pos))
                stream.close()
                stream.slot, stream.pos = stream.slot + 1, 0
                continue
            except Exception as exc:
                self._fail(events, shard, pos, exc)
                stream.close()
                if self.source.on_error != "skip":
                    break
                stream.slot, stream.pos = stream.slot + 1, 0
                continue
            stream.pos += 1
            passed += 1
            if self._decode(shard, pos, key, raw, records, events):
                break
        if stream.slot >= len(stream.shards) or (events and events[-1][2] == "error"):
            self._streams.pop(token, None)
            stream.close()
        return records, events

    def _decode(
        self, shard: int, pos: int, key: str, raw: Any, records: list[dict[str, Any]], events: list[Event]
    ) -> bool:
        """Decode one sample into ``records``; True when the shard cannot go on (an error in raise mode)."""
        try:
            record = self.source.decode(key, raw, shard)
            if not isinstance(record, dict) or not record:
                raise DataError(f"{self.source.where(shard, key)}: decodes to {record!r}, expected a dict of fields")
        except Exception as exc:
            text = str(exc) if isinstance(exc, DataError) else f"{self.source.where(shard, key)}: {exc!r}"
            if self.source.on_error == "skip":
                events.append((shard, pos, "skip", key, text))
                return False
            events.append((shard, pos, "error", key, text))
            return True
        records.append(record)
        events.append((shard, pos, "rec", key, None))
        return False

    def select(self, shard: int, positions: list[int]) -> tuple[list[dict[str, Any]], list[Event]]:
        """The records at ``positions`` (ascending) of ``shard``; anything else is an error event."""
        records: list[dict[str, Any]] = []
        events: list[Event] = []
        wanted = sorted(set(positions))
        if not wanted:
            return records, events
        it = self.source.samples(shard, wanted[0])
        pos = wanted[0]
        for target in wanted:
            try:
                while pos < target:
                    next(it)
                    pos += 1
                key, raw = next(it)
                pos += 1
            except StopIteration:
                events.append((shard, target, "error", "", f"{self.source.where(shard)} ends before position {target}"))
                break
            except Exception as exc:
                events.append((shard, target, "error", "", f"{self.source.where(shard)} position {target}: {exc}"))
                break
            try:
                record = self.source.decode(key, raw, shard)
            except Exception as exc:
                text = f"{self.source.where(shard, key)} no longer decodes: {exc}"
                events.append((shard, target, "error", key, text))
                break
            records.append(record)
            events.append((shard, target, "rec", key, None))
        close = getattr(it, "close", None)
        if close is not None:
            close()
        return records, events

    def get_records(self, request: Any) -> dict[str, Any]:
        """A worker's entry point: ``[0, shard, start, count]`` reads, ``[1, shard, *positions]`` selects."""
        req = [int(v) for v in np.asarray(request).reshape(-1)]
        if req[0] == READ:
            init = (req[3], req[4], req[5:]) if len(req) > 3 else None
            return pack(*self.read(req[1], req[2], init))
        return pack(*self.select(req[1], req[2:]))

    def close(self) -> None:
        """Close the open shards."""
        for stream in self._streams.values():
            stream.close()
        self._streams.clear()

    def __getstate__(self) -> dict[str, Any]:
        return {"source": self.source, "max_streams": self.max_streams, "_streams": OrderedDict()}
