"""Remote ArrayRecord shards read by ranged requests: no download of a shard before its first record.

``array_record``'s reader opens local files only, so a shard behind a URL is read here, from
its documented layout (Riegeli/records with ArrayRecord's footer):

* the file is 64 KiB blocks, each starting with a 24-byte block header; chunks run across
  them (a chunk's bytes are its physical range with the block headers cut out);
* a chunk is a 40-byte header (``data_size``, ``chunk_type``, ``num_records``, ...) and its
  data; a *simple* chunk (type ``r``) holds a compression byte, the varint size of the record
  sizes, the sizes (varints) and the concatenated records;
* the last block holds the postscript chunk (three copies of a proto whose field 1 is the
  footer's offset); the footer chunk holds a metadata proto and one proto per data chunk
  (field 1 its offset, field 2 its decoded size, field 3 its number of records).

Opening costs two ranged requests (the postscript, then the footer: about 10 bytes per
record); each record then costs one request of its chunk, the records of a batch fetched
together (concurrently on HTTP and object stores, ``fs.cat_ranges``). Only uncompressed
simple chunks are read (``pack``'s default ``writer_options``); a pack written compressed is
a ``DataError`` naming the shard. The chunk hashes (HighwayHash) are not checked here: every
record served is checked against the pack's CRC-32 instead (``PackedReader``).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from modalax._src.errors import DataError

__all__ = ["RangedShard", "chunk_end"]

BLOCK = 1 << 16
BLOCK_HEADER = 24
USABLE = BLOCK - BLOCK_HEADER
CHUNK_HEADER = 40
_SIMPLE = ord("r")


def _overhead_blocks(pos: int, size: int) -> int:
    return (size + (pos + USABLE - 1) % BLOCK) // USABLE


def chunk_end(begin: int, size: int) -> int:
    """Physical end of ``size`` logical bytes starting at ``begin`` (block headers counted)."""
    return begin + size + _overhead_blocks(begin, size) * BLOCK_HEADER


def _strip(raw: bytes, begin: int) -> bytes:
    """The logical bytes of the physical range ``raw`` starting at file position ``begin``."""
    parts, pos, i = [], begin, 0
    while i < len(raw):
        if pos % BLOCK == 0:
            i += BLOCK_HEADER
            pos += BLOCK_HEADER
            continue
        take = min(len(raw) - i, BLOCK - pos % BLOCK)
        parts.append(raw[i : i + take])
        i += take
        pos += take
    return b"".join(parts)


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data):
            raise ValueError("a varint runs past the end of its buffer")
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _varint_len(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


def _proto(data: bytes) -> dict[int, Any]:
    """Fields of a protobuf message (varints and length-delimited only, last value wins)."""
    out: dict[int, Any] = {}
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        if key & 7 == 0:
            out[key >> 3], i = _varint(data, i)
        elif key & 7 == 2:
            size, i = _varint(data, i)
            out[key >> 3], i = data[i : i + size], i + size
        else:
            raise ValueError(f"unexpected protobuf wire type {key & 7}")
    return out


def _records(chunk: bytes, where: str) -> list[bytes]:
    """The records of one chunk (header and data, block headers removed)."""
    _, data_size, _, kind, _ = struct.unpack_from("<QQQQQ", chunk)
    chunk_type, count = kind & 0xFF, kind >> 8
    data = chunk[CHUNK_HEADER : CHUNK_HEADER + data_size]
    if len(data) != data_size:
        raise ValueError(f"chunk data ends early ({len(data)} of {data_size} bytes)")
    if chunk_type != _SIMPLE or not data or data[0] != 0:
        raise DataError(
            f"{where}: a chunk of type {chr(chunk_type)!r} with compression {data[:1]!r}; remote shards are read "
            "only when written uncompressed (pack's default writer_options): pack again with the defaults"
        )
    sizes_size, i = _varint(data, 1)
    sizes, j = [], i
    while j < i + sizes_size:
        size, j = _varint(data, j)
        sizes.append(size)
    if len(sizes) != count:
        raise ValueError(f"chunk lists {len(sizes)} record sizes for {count} records")
    values, out, at = data[i + sizes_size :], [], 0
    for size in sizes:
        out.append(values[at : at + size])
        at += size
    if at != len(values):
        raise ValueError(f"chunk records hold {at} bytes of {len(values)}")
    return out


class RangedShard:
    """One remote ArrayRecord shard, read by ranged requests: ``num_records()`` and ``read(indices)``."""

    def __init__(self, path: Any, size: int) -> None:
        self.path = path
        self.size = size
        where = repr(str(path))
        try:
            tail = max(0, (size - 1) // BLOCK * BLOCK)
            post = _records(_strip(path.read_range(tail, size), tail), where)
            footer_at = int(_proto(post[0])[1])
            raw = path.read_range(footer_at, tail)
            footer = _records(_strip(raw, footer_at), where)
            meta = _proto(_proto(footer[0])[1])
            entries = [_proto(r) for r in footer[1:]]
            self.offsets = np.array([int(e.get(1, 0)) for e in entries], np.int64)
            self.decoded = np.array([int(e.get(2, 0)) for e in entries], np.int64)
            counts = np.array([int(e.get(3, 0)) for e in entries], np.int64)
        except DataError:
            raise
        except (ValueError, KeyError, IndexError, struct.error) as exc:
            raise DataError(
                f"packed shard {where}: not a readable ArrayRecord file ({type(exc).__name__}: {exc}); expected "
                "the shard written by modalax.pack"
            ) from exc
        self.starts = np.concatenate([[0], np.cumsum(counts)])
        self.counts = counts
        self.footer_at = footer_at
        if int(meta.get(3, self.starts[-1])) != int(self.starts[-1]):
            raise DataError(
                f"packed shard {where}: its footer counts {meta.get(3)} records, its chunks {self.starts[-1]}"
            )

    def num_records(self) -> int:
        """Records in the shard."""
        return int(self.starts[-1])

    def _span(self, chunk: int) -> tuple[int, int]:
        # an upper bound on the chunk's data: compression byte, sizes (a varint each) and the records
        n, decoded = int(self.counts[chunk]), int(self.decoded[chunk])
        data = 1 + _varint_len(10 * n) + 10 * n + decoded if n > 1 else 1 + 1 + _varint_len(decoded) + decoded
        begin = int(self.offsets[chunk])
        return begin, min(self.footer_at, chunk_end(begin, CHUNK_HEADER + data))

    def read(self, indices: list[int]) -> list[bytes]:
        """Records ``indices`` (positions in the shard), one ranged request per chunk, fetched together."""
        chunks = np.searchsorted(self.starts, np.asarray(indices, np.int64), side="right") - 1
        wanted = sorted(set(chunks.tolist()))
        spans = [self._span(c) for c in wanted]
        raws = self.path.read_ranges([s for s, _ in spans], [e for _, e in spans])
        decoded: dict[int, list[bytes]] = {}
        for chunk, (begin, _), raw in zip(wanted, spans, raws, strict=True):
            where = f"packed shard {str(self.path)!r} chunk at byte {begin}"
            try:
                decoded[chunk] = _records(_strip(raw, begin), where)
            except (ValueError, struct.error) as exc:
                raise DataError(f"{where}: cannot read it ({exc}); the shard is corrupt: pack again") from exc
        return [decoded[c][i - int(self.starts[c])] for c, i in zip(chunks.tolist(), indices, strict=True)]

    def close(self) -> None:
        """Nothing held open between reads."""
