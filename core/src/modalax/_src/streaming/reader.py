"""Reading chunks of shards, in the loader's process or in a worker process.

``ShardReader.read(shard, start, count)`` returns the samples at positions ``[start,
start + count)`` of a shard, decoded, as a *chunk*: the records (columns stacked where every
record agrees, so that a worker hands them back through shared memory) and a list of events in
position order: a record, a sample left out (``on_error="skip"``), an error (``"raise"``), the
end of the shard (with its number of samples). Errors travel as events rather than
exceptions so that the loader raises them, or counts them, exactly where the stream reaches
them, whoever read ahead. Any exception of a source becomes a ``DataError`` naming the shard
and the sample.

A reader keeps the shards it is reading open, positioned where the last chunk ended, so the
chunks of a shard read in order cost one pass; a chunk from elsewhere reopens the shard and
passes over the samples before ``start`` without decoding them (the cost of a resume). A shard
read to its end is remembered with its size, so requests past the end cost nothing.
``select(shard, positions)`` reads given samples (a shuffle buffer being rebuilt).

``get_records(request)`` is the entry point of a ``WorkerPool`` worker: the request is an int64
array ``[0, shard, start, count]`` (read) or ``[1, shard, *positions]`` (select).
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
Event = tuple[int, str, str, Any]  # (position, kind, sample key, message or total)


class _Open:
    """A shard being read: its iterator, the next position, and once done its size (-1: unreadable on)."""

    __slots__ = ("done", "it", "pos", "total")

    def __init__(self, it: Iterator[Any] | None, pos: int) -> None:
        self.it, self.pos, self.done, self.total = it, pos, False, -1


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
    """Reads chunks of ``source``'s shards (see the module docstring); keeps ``max_open`` shards open."""

    def __init__(self, source: StreamSource, max_open: int = 8) -> None:
        self.source = source
        self.max_open = max_open
        self._open: OrderedDict[int, _Open] = OrderedDict()

    def _fail(self, events: list[Event], pos: int, key: str, exc: BaseException, shard: int) -> None:
        if isinstance(exc, DataError):
            text = str(exc)
        else:
            text = f"{self.source.where(shard)}: reading stopped at position {pos} ({type(exc).__name__}: {exc})"
        if self.source.on_error == "skip":
            events.append((pos, "skip", key, f"{text}; the rest of the shard is left out"))
            events.append((pos, "end", "", -1))
        else:
            events.append((pos, "error", key, text))

    def _entry(self, shard: int, start: int) -> _Open:
        entry = self._open.pop(shard, None)
        if entry is not None and (entry.pos == start or (entry.done and start >= entry.pos)):
            return entry
        if entry is not None and entry.it is not None:
            close = getattr(entry.it, "close", None)
            if close is not None:
                close()
        return _Open(None, start)

    def read(self, shard: int, start: int, count: int) -> tuple[list[dict[str, Any]], list[Event]]:
        """Records and events of positions ``[start, start + count)`` of ``shard``."""
        entry = self._entry(shard, start)
        records: list[dict[str, Any]] = []
        events: list[Event] = []
        if entry.done:
            events.append((entry.pos, "end", "", entry.total))
        while not entry.done and entry.pos < start + count:
            pos = entry.pos
            try:
                if entry.it is None:
                    entry.it = self.source.samples(shard, start)
                key, raw = next(entry.it)
            except StopIteration:
                entry.done, entry.total = True, pos
                events.append((pos, "end", "", pos))
                break
            except Exception as exc:
                entry.done = True  # later requests past here get the end at once, not a second failure
                self._fail(events, pos, "", exc, shard)
                break
            entry.pos += 1
            if self._decode(shard, pos, key, raw, records, events):
                break
        self._open[shard] = entry
        while len(self._open) > self.max_open:
            _, old = self._open.popitem(last=False)
            close = getattr(old.it, "close", None)
            if close is not None:
                close()
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
                events.append((pos, "skip", key, text))
                return False
            events.append((pos, "error", key, text))
            return True
        records.append(record)
        events.append((pos, "rec", key, None))
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
                events.append((target, "error", "", f"{self.source.where(shard)} ends before position {target}"))
                break
            except Exception as exc:
                events.append((target, "error", "", f"{self.source.where(shard)} position {target}: {exc}"))
                break
            try:
                record = self.source.decode(key, raw, shard)
            except Exception as exc:
                events.append((target, "error", key, f"{self.source.where(shard, key)} no longer decodes: {exc}"))
                break
            records.append(record)
            events.append((target, "rec", key, None))
        close = getattr(it, "close", None)
        if close is not None:
            close()
        return records, events

    def get_records(self, request: Any) -> dict[str, Any]:
        """A worker's entry point: ``[0, shard, start, count]`` reads, ``[1, shard, *positions]`` selects."""
        req = [int(v) for v in np.asarray(request).reshape(-1)]
        if req[0] == READ:
            return pack(*self.read(req[1], req[2], req[3]))
        return pack(*self.select(req[1], req[2:]))

    def close(self) -> None:
        """Close the open shards."""
        for entry in self._open.values():
            close = getattr(entry.it, "close", None)
            if close is not None:
                close()
        self._open.clear()

    def __getstate__(self) -> dict[str, Any]:
        return {"source": self.source, "max_open": self.max_open, "_open": OrderedDict()}
