"""``index.json``: what a packed folder holds, written last by ``pack`` and checked on open.

It names the shards in order (shard ``i`` of ``n`` is ``shard_name(i, n)``, so a reordered
list is caught) with their record counts (records are numbered across shards in order), byte
sizes and SHA-256; the other files of the pack (the per-record CRC-32 file, a tokenizer) with
their sizes and SHA-256; the fields (kind, dtype, shape; shape null where it varies between
records), the modality that wrote it (null for a modality-less pack) and its config, decode
options, batch-level constants, free metadata (class names), the records skipped while packing
and the format version. Every problem is a ``DataError`` naming the index file.

Version 1 indexes (modalax 0.1) have no checksums; they still open (see ``PackedReader``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modalax._src.errors import DataError, ModalaxError
from modalax._src.packed.record import KINDS
from modalax._src.remote import PathArg, RemotePath, as_path

__all__ = [
    "FORMAT",
    "INDEX_NAME",
    "PARTIAL",
    "VERSION",
    "FieldInfo",
    "FileSum",
    "PackedIndex",
    "ShardInfo",
    "incomplete_files",
    "shard_name",
]

INDEX_NAME = "index.json"
FORMAT = "modalax.packed"
#: Formats written by earlier builds (a development snapshot named it after its private module).
_OLD_FORMATS = ("modalax._src.packed",)
VERSION = 2
_READS = (1, 2)
#: Suffix of the files ``pack`` is still writing; renamed away when the pack is complete.
PARTIAL = ".partial"
_SHARD = re.compile(r"^data\.array_record-\d{5}-of-\d{5}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


def shard_name(shard: int, shards: int) -> str:
    """File name of shard ``shard`` of ``shards`` (the TFDS/grain naming)."""
    return f"data.array_record-{shard:05d}-of-{shards:05d}"


def incomplete_files(root: Path | RemotePath) -> list[str]:
    """Names of pack outputs in ``root`` (shards, unfinished ``.partial`` files), sorted."""
    return sorted(p.name for p in root.iterdir() if _SHARD.match(p.name) or p.name.endswith(PARTIAL))


@dataclass(frozen=True)
class FieldInfo:
    """One field of every record: ``kind`` (bytes, array or text), numpy ``dtype`` and ``shape`` of arrays."""

    kind: str
    dtype: str | None = None
    shape: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ShardInfo:
    """One shard file (relative to the folder): its records, byte size and SHA-256 (None in version 1)."""

    path: str
    num_records: int
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class FileSum:
    """Byte size and SHA-256 of a file of the pack other than a shard."""

    size: int
    sha256: str


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
    #: Name of the file of per-record CRC-32s (little-endian uint32, records in order), if any.
    record_checksums: str | None = None
    #: The other files of the pack: the CRC file, files a modality wrote (``tokenizer.json``).
    files: dict[str, FileSum] = field(default_factory=dict)
    #: ``(record, why)`` for each record stored as a stand-in for one that failed while packing.
    skipped: tuple[tuple[int, str], ...] = ()
    #: What ``pack`` did with records that failed: ``raise`` or ``skip``; readers default to it.
    on_error: str = "raise"

    @property
    def num_records(self) -> int:
        """Records in all shards."""
        return sum(s.num_records for s in self.shards)

    @property
    def starts(self) -> np.ndarray:
        """Global index of each shard's first record, plus the total at the end."""
        return np.cumsum([0] + [s.num_records for s in self.shards], dtype=np.int64)

    @property
    def checksummed(self) -> bool:
        """Whether the index holds shard and record checksums (format version 2 on)."""
        return self.record_checksums is not None and all(s.sha256 is not None for s in self.shards)

    def fingerprint(self) -> dict[str, Any]:
        """Content identity without reading data: record count, shard names, counts and SHA-256.

        Two packs of the same records written the same way have the same fingerprint; any other
        pack differs (version 1 packs only by shard names and counts: they hold no checksums).
        """
        return {
            "kind": "packed",
            "format": FORMAT,
            "num_records": self.num_records,
            "shards": [[s.path, s.num_records, s.sha256] for s in self.shards],
            "files": {name: f.sha256 for name, f in sorted(self.files.items())},
        }

    def to_json(self) -> str:
        """The index as JSON text, keys sorted (packing twice writes the same bytes)."""
        data = asdict(self)
        data["format"] = FORMAT
        data["num_records"] = self.num_records
        data["skipped"] = [list(s) for s in self.skipped]
        for info in data["fields"].values():
            info["shape"] = None if info["shape"] is None else list(info["shape"])
        return json.dumps(data, indent=1, sort_keys=True) + "\n"

    def write(self, root: Path | RemotePath) -> Path | RemotePath:
        """Write ``root/index.json`` atomically (a ``.partial`` file renamed over it; one upload remotely)."""
        path = root / INDEX_NAME
        if isinstance(path, RemotePath):
            path.write_text(self.to_json())  # an object appears whole or not at all
            return path
        assert isinstance(root, Path)
        tmp = root / (INDEX_NAME + PARTIAL)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(self.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, root: PathArg) -> PackedIndex:
        """Parse and check ``root/index.json``; a folder without one is named an incomplete pack when
        it holds shards or unfinished files (an interrupted ``pack``)."""
        base = as_path(root)
        path = base / INDEX_NAME
        # a remote folder is not checked first: object stores and HTTP servers have no folders to ask about
        if isinstance(base, Path) and not base.is_dir():
            raise DataError(
                f"packed dataset: {str(root)!r} is not a folder; expected the output folder of modalax.pack"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            found = _listing(base)
            if found:
                listed = ", ".join(found[:4]) + (" ..." if len(found) > 4 else "")
                raise DataError(
                    f"{str(root)!r}: incomplete pack: index.json is missing but the folder holds {len(found)} "
                    f"pack file(s) ({listed}); pack writes index.json last, so it was interrupted: delete the "
                    "folder and run pack again"
                ) from None
            raise DataError(
                f"{str(path)!r}: missing; expected the index written by modalax.pack (the folder holds no shards)"
            ) from None
        except ModalaxError:  # a remote that failed or refused: its own message names the URL
            raise
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise DataError(f"{str(path)!r}: cannot read it as JSON ({type(exc).__name__}: {exc})") from None
        return _parse(data, str(path))


def _listing(root: Path | RemotePath) -> list[str]:
    """``incomplete_files(root)``, or none where a remote cannot list (plain HTTP servers may not)."""
    try:
        return incomplete_files(root)
    except (OSError, DataError):
        if isinstance(root, Path):
            raise
        return []


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise DataError(f"{where}: {what}")


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _parse(data: Any, where: str) -> PackedIndex:
    formats = (FORMAT, *_OLD_FORMATS)
    ok = isinstance(data, dict) and data.get("format") in formats
    _need(ok, where, f"expected a JSON object with format {FORMAT!r}")
    version = data.get("version")
    _need(version in _READS, where, f"format version {version!r}; this modalax reads versions 1 and {VERSION}")
    try:
        shards = tuple(
            ShardInfo(str(s["path"]), int(s["num_records"]), _optional_int(s.get("size")), s.get("sha256"))
            for s in data["shards"]
        )
        fields = {
            str(name): FieldInfo(
                str(f["kind"]),
                None if f.get("dtype") is None else str(f["dtype"]),
                None if f.get("shape") is None else tuple(int(d) for d in f["shape"]),
            )
            for name, f in data["fields"].items()
        }
        files = {str(k): FileSum(int(v["size"]), str(v["sha256"])) for k, v in (data.get("files") or {}).items()}
        skipped = tuple((int(i), str(why)) for i, why in data.get("skipped") or [])
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
            data.get("record_checksums"),
            files,
            skipped,
            str(data.get("on_error", "raise")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{where}: malformed index ({type(exc).__name__}: {exc})") from None
    _check(index, data, where)
    return index


def _check(index: PackedIndex, data: dict[str, Any], where: str) -> None:
    shards, n = index.shards, len(index.shards)
    _need(n > 0, where, "lists no shards; expected at least one")
    for i, s in enumerate(shards):
        _need(s.num_records >= 0, where, f"shard {s.path!r} has {s.num_records} records; expected >= 0")
        _need(Path(s.path).name == s.path, where, f"shard path {s.path!r} must be a file name inside the folder")
        _need(
            s.path == shard_name(i, n),
            where,
            f"shard {i} is {s.path!r}; expected {shard_name(i, n)!r} (shards are listed in record order, "
            "so a reordered or renamed list would renumber records)",
        )
        _need(s.size is None or s.size >= 0, where, f"shard {s.path!r} has size {s.size}; expected >= 0")
        _need(s.sha256 is None or bool(_HEX.match(str(s.sha256))), where, f"shard {s.path!r} sha256 {s.sha256!r}")
    for name, f in index.fields.items():
        _need(f.kind in KINDS, where, f"field {name!r} has kind {f.kind!r}; expected one of {', '.join(KINDS)}")
    for name, sums in index.files.items():
        ok = Path(name).name == name and sums.size >= 0 and bool(_HEX.match(sums.sha256))
        _need(ok, where, f"file entry {name!r} {sums}; expected a file name, a size and a sha256")
    crc = index.record_checksums
    _need(crc is None or crc in index.files, where, f"record_checksums {crc!r} is not among the files listed")
    if index.version >= 2:
        _need(index.checksummed, where, "version 2 without shard sha256 and record_checksums")
    total = data.get("num_records")
    _need(total == index.num_records, where, f"num_records {total!r} but the shards hold {index.num_records}")
    _need(index.on_error in ("raise", "skip"), where, f"on_error {index.on_error!r}; expected 'raise' or 'skip'")
    rows = [i for i, _ in index.skipped]
    ok = rows == sorted(set(rows)) and all(0 <= i < index.num_records for i in rows)
    _need(ok, where, f"skipped records {rows[:8]}; expected distinct sorted indices below {index.num_records}")
