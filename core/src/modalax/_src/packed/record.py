"""One packed record: a dict of fields to bytes and back, with no pickle.

A record is self-describing, so a shard can be read without its index (by grain, or by hand)::

    b"MXR1" | u16 number of fields | per field: u8 kind, u8 len + name, u8 len + dtype,
    u8 ndim, ndim x u32 shape, u64 payload length | the payloads, in field order

all little-endian, fields sorted by name (so a record has one encoding). Kinds: ``bytes`` (an
encoded file, as it was on disk), ``array`` (a numeric numpy array, C order, little-endian,
``dtype.str`` such as ``<f4``) and ``text`` (UTF-8). Nothing else is accepted: objects would
need pickle, which runs code on load.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from modalax._src.errors import DataError

__all__ = ["KINDS", "MAGIC", "decode_record", "encode_record", "field_kind"]

MAGIC = b"MXR1"
KINDS = ("bytes", "array", "text")
_HEAD = struct.Struct("<4sH")
_U8 = struct.Struct("<B")
_U64 = struct.Struct("<Q")


def field_kind(name: str, value: Any) -> str:
    """The kind ``value`` is stored as; ``DataError`` for what cannot be stored safely."""
    if isinstance(value, bytes | bytearray | memoryview):
        return "bytes"
    if isinstance(value, str):
        return "text"
    array = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if array.dtype.kind not in "biufc":
        raise DataError(
            f"pack: field {name!r} is {type(value).__name__} of dtype {array.dtype}; expected bytes, a str "
            "or a numeric array (objects would need pickle)"
        )
    return "array"


def _short(text: str, what: str) -> bytes:
    raw = text.encode()
    if len(raw) > 255:
        raise DataError(f"pack: {what} {text[:40]!r}... is longer than 255 bytes")
    return _U8.pack(len(raw)) + raw


def encode_record(record: Mapping[str, Any]) -> bytes:
    """``record`` (field name -> bytes, str or numeric array) as one record's bytes."""
    heads, payloads = [], []
    for name in sorted(record):
        value = record[name]
        kind = field_kind(name, value)
        if kind == "bytes":
            payload, dtype, shape = bytes(value), "", ()
        elif kind == "text":
            payload, dtype, shape = value.encode("utf-8"), "", ()
        else:
            array = np.asarray(value)
            # astype, not ascontiguousarray: that one turns a 0-d array into shape (1,)
            array = array.astype(array.dtype.newbyteorder("<"), copy=False)
            payload, dtype, shape = array.tobytes(order="C"), array.dtype.str, array.shape
        head = _U8.pack(KINDS.index(kind)) + _short(name, "field name") + _short(dtype, "dtype")
        head += _U8.pack(len(shape)) + struct.pack(f"<{len(shape)}I", *shape) + _U64.pack(len(payload))
        heads.append(head)
        payloads.append(payload)
    return b"".join([_HEAD.pack(MAGIC, len(heads)), *heads, *payloads])


class _Cursor:
    def __init__(self, data: bytes, where: str) -> None:
        self.data, self.pos, self.where = data, 0, where

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise DataError(f"{self.where}: the record ends early (byte {self.pos} + {n} of {len(self.data)})")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: struct.Struct) -> Any:
        return fmt.unpack(self.take(fmt.size))[0]

    def short(self) -> str:
        return self.take(self.unpack(_U8)).decode()


def decode_record(data: bytes, where: str = "record") -> dict[str, Any]:
    """The fields of one record: ``bytes``, ``str`` or a numpy array each; ``DataError`` naming ``where``."""
    cur = _Cursor(data, where)
    magic, count = _HEAD.unpack(cur.take(_HEAD.size))
    if magic != MAGIC:
        raise DataError(f"{where}: starts with {magic!r}, expected {MAGIC!r} (not a record written by modalax.pack)")
    try:
        heads = []
        for _ in range(count):
            kind = cur.unpack(_U8)
            name, dtype = cur.short(), cur.short()
            ndim = cur.unpack(_U8)
            shape = struct.unpack(f"<{ndim}I", cur.take(4 * ndim))
            heads.append((kind, name, dtype, shape, cur.unpack(_U64)))
        out: dict[str, Any] = {}
        for kind, name, dtype, shape, size in heads:
            payload = cur.take(size)
            if kind == 0:
                out[name] = payload
            elif kind == 2:
                out[name] = payload.decode("utf-8")
            elif kind == 1:
                out[name] = np.frombuffer(payload, np.dtype(dtype)).reshape(shape)
            else:
                raise DataError(f"{where}: field {name!r} has kind {kind}, expected 0-2 ({', '.join(KINDS)})")
    except (UnicodeDecodeError, TypeError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{where}: corrupt record ({type(exc).__name__}: {exc})") from exc
    if cur.pos != len(data):
        raise DataError(f"{where}: {len(data) - cur.pos} bytes after the last field; expected none (corrupt record)")
    return out
