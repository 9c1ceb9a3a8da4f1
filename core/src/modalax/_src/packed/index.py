"""``index.json``: what a packed folder holds, written last by ``pack`` and checked on open.

It names the shards and their record counts (records are numbered across shards in order),
the fields (kind, dtype, shape; shape null where it varies between records), the modality and
the modality config the data was packed with, decode options, batch-level constants (a sample
rate, say), free metadata (class names) and the format version. Every problem is a ``DataError`` naming the index file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modalax._src.errors import DataError
from modalax._src.packed.record import KINDS

__all__ = ["FORMAT", "INDEX_NAME", "VERSION", "FieldInfo", "PackedIndex", "ShardInfo", "shard_name"]

INDEX_NAME = "index.json"
FORMAT = "modalax._src.packed"
VERSION = 1


def shard_name(shard: int, shards: int) -> str:
    """File name of shard ``shard`` of ``shards`` (the TFDS/grain naming)."""
    return f"data.array_record-{shard:05d}-of-{shards:05d}"


@dataclass(frozen=True)
class FieldInfo:
    """One field of every record: ``kind`` (bytes, array or text), numpy ``dtype`` and ``shape`` of arrays."""

    kind: str
    dtype: str | None = None
    shape: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ShardInfo:
    """One shard file (relative to the folder) and how many records it holds."""

    path: str
    num_records: int


@dataclass(frozen=True)
class PackedIndex:
    """The parsed ``index.json`` of a packed folder."""

    shards: tuple[ShardInfo, ...]
    fields: dict[str, FieldInfo]
    modality: str | None = None
    config: dict[str, Any] | None = None
    decode: dict[str, Any] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    writer_options: str = ""
    version: int = VERSION

    @property
    def num_records(self) -> int:
        """Records in all shards."""
        return sum(s.num_records for s in self.shards)

    @property
    def starts(self) -> np.ndarray:
        """Global index of each shard's first record, plus the total at the end."""
        return np.cumsum([0] + [s.num_records for s in self.shards], dtype=np.int64)

    def to_json(self) -> str:
        """The index as JSON text, keys sorted (packing twice writes the same bytes)."""
        data = asdict(self)
        data["format"] = FORMAT
        data["num_records"] = self.num_records
        for info in data["fields"].values():
            info["shape"] = None if info["shape"] is None else list(info["shape"])
        return json.dumps(data, indent=1, sort_keys=True) + "\n"

    def write(self, root: Path) -> Path:
        """Write ``root/index.json``."""
        path = root / INDEX_NAME
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def read(cls, root: str | os.PathLike[str]) -> PackedIndex:
        """Parse and check ``root/index.json``."""
        path = Path(root) / INDEX_NAME
        if not Path(root).is_dir():
            raise DataError(
                f"packed dataset: {str(root)!r} is not a folder; expected the output folder of modalax.pack"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"{str(path)!r}: missing; expected the index written by modalax.pack") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise DataError(f"{str(path)!r}: cannot read it as JSON ({type(exc).__name__}: {exc})") from None
        return _parse(data, str(path))


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise DataError(f"{where}: {what}")


def _parse(data: Any, where: str) -> PackedIndex:
    _need(
        isinstance(data, dict) and data.get("format") == FORMAT, where, f"expected a JSON object with format {FORMAT!r}"
    )
    version = data.get("version")
    _need(version == VERSION, where, f"format version {version!r}; this modalax reads version {VERSION}")
    try:
        shards = tuple(ShardInfo(str(s["path"]), int(s["num_records"])) for s in data["shards"])
        fields = {
            str(name): FieldInfo(
                str(f["kind"]),
                None if f.get("dtype") is None else str(f["dtype"]),
                None if f.get("shape") is None else tuple(int(d) for d in f["shape"]),
            )
            for name, f in data["fields"].items()
        }
        index = PackedIndex(
            shards,
            fields,
            data.get("modality"),
            data.get("config"),
            dict(data.get("decode") or {}),
            dict(data.get("constants") or {}),
            dict(data.get("metadata") or {}),
            str(data.get("writer_options", "")),
            int(version),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{where}: malformed index ({type(exc).__name__}: {exc})") from None
    _need(len(shards) > 0, where, "lists no shards; expected at least one")
    for s in shards:
        _need(s.num_records >= 0, where, f"shard {s.path!r} has {s.num_records} records; expected >= 0")
        _need(Path(s.path).name == s.path, where, f"shard path {s.path!r} must be a file name inside the folder")
    for name, f in fields.items():
        _need(f.kind in KINDS, where, f"field {name!r} has kind {f.kind!r}; expected one of {', '.join(KINDS)}")
    total = data.get("num_records")
    _need(total == index.num_records, where, f"num_records {total!r} but the shards hold {index.num_records}")
    return index
