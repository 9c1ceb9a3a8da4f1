"""Checksums of a packed folder, and ``verify``: read everything and compare it with the index.

``pack`` records three things (measured costs in docs/packed.md):

* a CRC-32 of every record's bytes, in record order, in ``records.crc32`` (4 bytes a record;
  zlib's CRC runs at about 2 GB/s, a few microseconds for a 15 KB JPEG). Reading checks each
  record it serves against it (the default), so a corrupted record, a record of another pack
  and a record served at another index all fail instead of being served;
* the byte size and SHA-256 of every shard and of the other files of the pack. Opening checks
  the sizes, the CRC file's SHA-256 and the first and last record of every shard (a shard
  swapped for another pack's or another position's, even of the same size, fails there);
* ``verify`` (``modalax pack --verify DIR``) hashes every byte: each shard's SHA-256, each
  record's CRC and structure against the fields of the index. It reads the whole pack once.

CRC-32 and SHA-256 detect accidents (bad disks, truncated copies, mixed-up files), not an
adversary who can rewrite the index too.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modalax._src.errors import DataError
from modalax._src.remote import PathArg, RemotePath, open_path

__all__ = [
    "CHECKSUMS_NAME",
    "VerifyReport",
    "check_checksum_file",
    "file_sha256",
    "record_crc",
    "verify",
]

#: The per-record CRC file of a pack.
CHECKSUMS_NAME = "records.crc32"
_BLOCK = 1 << 20
_MAX_LISTED = 10


def record_crc(data: bytes) -> int:
    """CRC-32 (zlib) of one record's bytes."""
    return zlib.crc32(data)


def file_sha256(path: Path | RemotePath) -> str:
    """Hex SHA-256 of a file (local or remote), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open_path(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def check_checksum_file(path: Path | RemotePath, sha256: str, n: int) -> np.ndarray:
    """The per-record CRCs of a pack: ``DataError`` when the file is missing, altered or of another size."""
    try:
        data = path.read_bytes()  # 4 bytes a record: read once, hashed and parsed from memory
    except FileNotFoundError:
        raise DataError(f"incomplete pack: {str(path)!r} (the record checksums) is missing; pack again") from None
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise DataError(
            f"{str(path)!r}: sha256 {got[:16]}... but index.json says {sha256[:16]}...; "
            "the record checksums were altered or come from another pack"
        )
    crcs = np.frombuffer(data[: len(data) // 4 * 4], dtype="<u4").copy()
    if len(crcs) != n:
        raise DataError(f"{str(path)!r}: holds {len(crcs)} checksums, expected {n} (one per record)")
    return crcs


@dataclass(frozen=True)
class VerifyReport:
    """What ``verify`` read: shards, records and bytes, and whether checksums were there to compare."""

    root: str
    shards: int
    records: int
    bytes: int
    checksums: bool

    def summary(self) -> str:
        """One line for the command line."""
        what = (
            "every shard's sha256 and every record's crc32 match index.json"
            if self.checksums
            else "no checksums (a version 1 pack): counts and record structure only; pack again to add them"
        )
        return f"verified {self.root}: {self.records} records in {self.shards} shard(s), {self.bytes:,} bytes: {what}"


def _field_problem(record: dict[str, Any], fields: dict[str, Any]) -> str | None:
    if record.keys() != fields.keys():
        return f"fields {sorted(record)}, expected {sorted(fields)}"
    for name, info in fields.items():
        value = record[name]
        kind = "bytes" if isinstance(value, bytes) else "text" if isinstance(value, str) else "array"
        if kind != info.kind:
            return f"field {name!r} is {kind}, expected {info.kind}"
        if kind == "array":
            if value.dtype.str != info.dtype:
                return f"field {name!r} has dtype {value.dtype.str}, expected {info.dtype}"
            if info.shape is not None and tuple(value.shape) != tuple(info.shape):
                return f"field {name!r} has shape {tuple(value.shape)}, expected {tuple(info.shape)}"
    return None


def _read_all(reader: Any, s: int, lo: int, hi: int, problems: list[str]) -> list[bytes | None]:
    """Records ``lo:hi`` of shard ``s``; one that ArrayRecord cannot read is a problem and None."""
    try:
        return list(reader.read_shard(s, list(range(lo, hi))))
    except DataError:
        out: list[bytes | None] = []
        for i in range(lo, hi):
            try:
                out.extend(reader.read_shard(s, [i]))
            except DataError as exc:
                problems.append(str(exc))
                out.append(None)
        return out


def _verify_shard(reader: Any, s: int, crcs: np.ndarray | None, problems: list[str]) -> int:
    """Check one shard's SHA-256 and every record; returns its byte size."""
    from modalax._src.packed.record import decode_record

    index, path = reader.index, reader.paths[s]
    info = index.shards[s]
    if info.sha256 is not None:
        got = file_sha256(path)
        if got != info.sha256:
            problems.append(f"{str(path)!r}: sha256 {got[:16]}... but index.json says {info.sha256[:16]}...")
    start = int(reader.starts[s])
    for lo in range(0, info.num_records, 256):
        hi = min(info.num_records, lo + 256)
        for j, data in enumerate(_read_all(reader, s, lo, hi, problems)):
            if data is None:
                continue
            where = f"{str(path)!r} record {lo + j} (index {start + lo + j})"
            if crcs is not None and record_crc(data) != int(crcs[start + lo + j]):
                problems.append(
                    f"{where}: crc32 {record_crc(data):#010x}, index says {int(crcs[start + lo + j]):#010x}"
                )
                continue
            try:
                problem = _field_problem(decode_record(data, where), index.fields)
            except DataError as exc:
                problem = str(exc)
            if problem is not None:
                problems.append(f"{where}: {problem}")
    return path.stat().st_size


def verify(root: PathArg) -> VerifyReport:
    """Read a whole packed folder and compare it with its index; ``DataError`` listing every mismatch.

    Checks what opening checks (names, order, sizes, counts, the CRC file), then every shard's
    SHA-256, every record's CRC-32 and structure (the index's fields, kinds, dtypes and shapes)
    and every other file's SHA-256. A version 1 pack has no checksums: its counts and record
    structure are checked and the report says so.
    """
    from modalax._src.packed.reader import PackedReader

    reader = PackedReader(root, checks="open")
    index, problems = reader.index, list[str]()
    crcs = reader.record_checksums
    total = 0
    for s in range(len(index.shards)):
        total += _verify_shard(reader, s, crcs, problems)
    for name, sums in sorted(index.files.items()):
        path = reader.root / name
        if path.is_file() and file_sha256(path) != sums.sha256:
            problems.append(f"{str(path)!r}: sha256 differs from index.json")
    reader.close()
    if problems:
        listed = "; ".join(problems[:_MAX_LISTED]) + (
            f"; ... {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        )
        raise DataError(f"packed folder {str(root)!r} fails verification ({len(problems)} problem(s)): {listed}")
    return VerifyReport(str(root), len(index.shards), index.num_records, total, index.checksummed)
