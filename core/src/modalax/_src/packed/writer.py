"""``pack``: write a dataset or source into ArrayRecord shards, their checksums and an ``index.json``.

Records are numbered across shards in order (shard ``s`` of ``S`` holds records
``[s*n//S, (s+1)*n//S)``), so grain's ``ArrayRecordDataSource`` over the shard list sees the
same indices. Packing is deterministic: the same data gives the same bytes.

A pack is complete or absent: shards and the CRC file are written under ``.partial`` names,
synced and renamed when every one is complete, and ``index.json`` is renamed into place last.
A failed ``pack`` removes what it wrote; a killed one leaves files without ``index.json``, which
readers name an incomplete pack and ``pack`` refuses to write into. Hashing (a CRC-32 per
record, a SHA-256 per file) costs a few percent of packing (docs/packed.md).
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.install_hints import extra_hint
from modalax._src.packed.adapt import plan_for, source_on_error
from modalax._src.packed.index import (
    INDEX_NAME,
    PARTIAL,
    FieldInfo,
    FileSum,
    PackedIndex,
    ShardInfo,
    incomplete_files,
    shard_name,
)
from modalax._src.packed.integrity import CHECKSUMS_NAME, file_sha256, record_crc
from modalax._src.packed.record import encode_record, field_kind

__all__ = ["DEFAULT_WRITER_OPTIONS", "array_record_module", "pack"]

#: One record per chunk (true random access); no compression: encoded files are compressed already.
DEFAULT_WRITER_OPTIONS = "group_size:1,uncompressed"
_CHUNK = 256


def array_record_module() -> Any:
    """``array_record.python.array_record_module``, or a ``ModuleNotFoundError`` saying how to install it."""
    try:
        from array_record.python import array_record_module as module
    except ImportError as exc:
        raise ModuleNotFoundError(
            f"packed datasets need the array_record package, which is not installed: {extra_hint('packed')}"
        ) from exc
    return module


def _info(name: str, value: Any) -> FieldInfo:
    kind = field_kind(name, value)
    if kind != "array":
        return FieldInfo(kind)
    array = np.asarray(value)
    return FieldInfo(kind, array.dtype.newbyteorder("<").str, array.shape)


def _merge(fields: dict[str, FieldInfo] | None, record: dict[str, Any], i: int) -> dict[str, FieldInfo]:
    infos = {k: _info(k, v) for k, v in record.items()}
    if fields is None:
        return infos
    if infos.keys() != fields.keys():
        raise DataError(f"pack: record {i} has fields {sorted(infos)}, expected {sorted(fields)} like record 0")
    merged = {}
    for key, want in fields.items():
        got = infos[key]
        if (got.kind, got.dtype) != (want.kind, want.dtype):
            raise DataError(
                f"pack: record {i} field {key!r} is {got.kind} {got.dtype or ''}".rstrip()
                + f", expected {want.kind} {want.dtype or ''} like record 0".rstrip()
            )
        merged[key] = want if got.shape == want.shape else FieldInfo(want.kind, want.dtype, None)
    return merged


def _check_out(out: Path) -> bool:
    """Refuse a folder that is not new or empty (naming an interrupted pack as such); True if created."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"pack.out_dir: {str(out)!r} is a file; expected a new folder")
    if out.is_dir() and any(out.iterdir()):
        if (out / INDEX_NAME).is_file():
            held = "a complete pack (index.json)"
        elif incomplete_files(out):
            found = incomplete_files(out)
            held = f"an incomplete pack ({len(found)} file(s) such as {found[0]!r}, no index.json): delete it first"
        else:
            held = f"{sum(1 for _ in out.iterdir())} other entries"
        raise ConfigError(
            f"pack.out_dir: {str(out)!r} exists and is not an empty folder (it holds {held}); expected a new folder"
        )
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"pack.out_dir: cannot create {str(out)!r}: {exc.strerror or exc}") from exc
    return created


def _progress(total: int, show: bool, label: str) -> Any:
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="rec", desc=label, dynamic_ncols=True)


def _describe(data: Any, modality: str | None, out: Path) -> tuple[str | None, dict[str, Any]]:
    """(modality, metadata) from the ``pack_metadata`` of the modalities' ``packed`` dataset types."""
    from modalax._src import registry
    from modalax._src.files import FileDecoding
    from modalax._src.packed.dataset import describe

    names = [modality] if modality is not None else registry.list_modalities()
    for name in names:
        if "packed" not in registry.list_datasets(name):
            if modality is not None:
                raise ConfigError(f"pack.modality: {name!r} registers no 'packed' dataset type")
            continue
        hook = getattr(registry.get_dataset_factory(name, "packed"), "pack_metadata", None)
        meta = hook(data, out) if hook is not None else None
        if meta is not None or modality is not None:
            return name, dict(meta or {})
    own = getattr(data, "modality", None)
    if isinstance(data, FileDecoding) and isinstance(own, str):  # a modality no installed plugin registers
        return own, describe(data)
    return None, {}


def _check_shards(shards: Any, n: int) -> int:
    if isinstance(shards, bool) or not isinstance(shards, int | np.integer) or shards < 1:
        raise ConfigError(f"pack.shards: got {shards!r}, expected a positive int")
    if shards > n:
        raise ConfigError(f"pack.shards: got {shards} for {n} records; expected at most one shard per record")
    return int(shards)


def _check_on_error(on_error: Any, data: Any) -> Literal["raise", "skip"]:
    if on_error is None:
        return source_on_error(data)
    if on_error not in ("raise", "skip"):
        raise ConfigError(f"pack.on_error: got {on_error!r}, expected 'raise', 'skip' or None (the source's)")
    return on_error


def _chunks(lo: int, hi: int) -> Iterator[tuple[int, int]]:
    for start in range(lo, hi, _CHUNK):
        yield start, min(hi, start + _CHUNK)


def _sync(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _clean(out: Path, created: bool) -> None:
    """Remove what a failed pack wrote (the folder was new or empty, so all of it is ours)."""
    for entry in out.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    if created:
        out.rmdir()


def pack(
    data: Any,
    out_dir: str | os.PathLike[str],
    *,
    shards: int = 1,
    modality: str | None = None,
    progress: bool = True,
    writer_options: str = DEFAULT_WRITER_OPTIONS,
    on_error: Literal["raise", "skip"] | None = None,
    check_files: bool | None = None,
) -> PackedIndex:
    """Write ``data`` (a dataset or source, see ``modalax._src.packed.adapt``) to ``out_dir`` as shards.

    File datasets keep each file's encoded bytes; other data is stored as its arrays and
    strings. ``modality`` defaults to the modality whose ``packed`` dataset type recognises
    ``data`` (its config is saved in the index). ``out_dir`` must be new or empty.

    A record that cannot be read (a file that fails to open; with ``check_files``, one that
    fails to decode with the source's decoder; a record the source itself skipped) raises a
    ``DataError`` naming it with ``on_error="raise"``; with ``"skip"`` it is stored as a
    stand-in (the file's bytes, or the source's zeros), listed in ``index.skipped`` with the
    reason, and readers mask it out as the folder dataset does. ``on_error=None`` takes the
    source's own ``on_error`` (``"raise"`` when it has none); ``check_files=None`` decodes files
    once while packing exactly when skipping (so the skips are counted now, not when read).

    Returns the index, written as ``out_dir/index.json`` once every other file is complete.
    """
    module = array_record_module()
    policy = _check_on_error(on_error, data)
    plan = plan_for(data, check_files=(policy == "skip") if check_files is None else bool(check_files))
    if plan.size == 0:
        raise DataError(f"pack: {type(data).__name__} holds no records; nothing to pack")
    shards = _check_shards(shards, plan.size)
    out = Path(out_dir)
    created = _check_out(out)
    try:
        index = _write(module, data, plan, out, shards, modality, progress, writer_options, policy)
    except BaseException:
        _clean(out, created)
        raise
    if index.skipped:
        warnings.warn(
            f"pack: {len(index.skipped)} record(s) skipped (on_error='skip'), stored as masked stand-ins; "
            f"first: record {index.skipped[0][0]}: {index.skipped[0][1]}",
            RuntimeWarning,
            stacklevel=2,
        )
    return index


def _write(
    module: Any,
    data: Any,
    plan: Any,
    out: Path,
    shards: int,
    modality: str | None,
    progress: bool,
    writer_options: str,
    policy: str,
) -> PackedIndex:
    name, meta = _describe(data, modality, out)
    bounds = [plan.size * s // shards for s in range(shards + 1)]
    fields: dict[str, FieldInfo] | None = None
    crcs = np.zeros(plan.size, "<u4")
    skipped: list[tuple[int, str]] = []
    partials = []
    bar = _progress(plan.size, progress, f"packing {out.name}")
    try:
        for s in range(shards):
            path = out / (shard_name(s, shards) + PARTIAL)
            try:
                writer = module.ArrayRecordWriter(str(path), writer_options)
            except (RuntimeError, ValueError) as exc:
                raise ConfigError(f"pack: cannot write {str(path)!r} with options {writer_options!r}: {exc}") from exc
            try:
                for lo, hi in _chunks(bounds[s], bounds[s + 1]):
                    for j, (record, problem) in enumerate(plan.rows(lo, hi)):
                        if problem is not None:
                            if policy == "raise":
                                raise DataError(
                                    f"pack: {problem} (record {lo + j}; on_error='skip' stores it as a masked record)"
                                )
                            skipped.append((lo + j, problem))
                        fields = _merge(fields, record, lo + j)
                        encoded = encode_record(record)
                        crcs[lo + j] = record_crc(encoded)
                        writer.write(encoded)
                    if bar is not None:
                        bar.update(hi - lo)
            finally:
                writer.close()
            partials.append(path)
    finally:
        if bar is not None:
            bar.close()
    infos = []
    for s, path in enumerate(partials):
        _sync(path)
        infos.append(
            ShardInfo(shard_name(s, shards), bounds[s + 1] - bounds[s], path.stat().st_size, file_sha256(path))
        )
    crc_path = out / (CHECKSUMS_NAME + PARTIAL)
    crcs.tofile(crc_path)
    _sync(crc_path)
    for path in partials:
        os.replace(path, path.with_name(path.name[: -len(PARTIAL)]))
    os.replace(crc_path, out / CHECKSUMS_NAME)
    shard_names = {info.path for info in infos}
    files = {
        p.name: FileSum(p.stat().st_size, file_sha256(p))
        for p in sorted(out.iterdir())
        if p.is_file() and p.name not in shard_names
    }
    index = PackedIndex(
        tuple(infos),
        fields or {},
        name,
        meta.get("config"),
        {**plan.decode, **meta.get("decode", {})},
        {**plan.constants, **meta.get("constants", {})},
        dict(meta.get("metadata", {})),
        writer_options,
        record_checksums=CHECKSUMS_NAME,
        files=files,
        skipped=tuple(skipped),
        on_error=policy,
    )
    index.write(out)  # last: a folder with index.json is a complete pack
    return index
