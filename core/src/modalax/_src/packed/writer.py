"""``pack``: write a dataset or source into ArrayRecord shards and an ``index.json``.

Records are numbered across shards in order (shard ``s`` of ``S`` holds records
``[s*n//S, (s+1)*n//S)``), so grain's ``ArrayRecordDataSource`` over the shard list sees the
same indices. Packing is deterministic: the same data gives the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.packed.adapt import plan_for
from modalax._src.packed.index import FieldInfo, PackedIndex, ShardInfo, shard_name
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
            "packed datasets need the array_record package: pip install 'modalax[packed]' (or array_record)"
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


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"pack.out_dir: {str(out)!r} exists and is not an empty folder; expected a new folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"pack.out_dir: cannot create {str(out)!r}: {exc.strerror or exc}") from exc


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


def _chunks(lo: int, hi: int) -> Iterator[tuple[int, int]]:
    for start in range(lo, hi, _CHUNK):
        yield start, min(hi, start + _CHUNK)


def pack(
    data: Any,
    out_dir: str | os.PathLike[str],
    *,
    shards: int = 1,
    modality: str | None = None,
    progress: bool = True,
    writer_options: str = DEFAULT_WRITER_OPTIONS,
) -> PackedIndex:
    """Write ``data`` (a dataset or source, see ``modalax._src.packed.adapt``) to ``out_dir`` as shards.

    File datasets keep each file's encoded bytes; other data is stored as its arrays and
    strings. ``modality`` defaults to the modality whose ``packed`` dataset type recognises
    ``data`` (its config is saved in the index). ``out_dir`` must be new or empty. Returns the
    index, also written as ``out_dir/index.json`` once every shard is complete.
    """
    module = array_record_module()
    plan = plan_for(data)
    if plan.size == 0:
        raise DataError(f"pack: {type(data).__name__} holds no records; nothing to pack")
    shards = _check_shards(shards, plan.size)
    out = Path(out_dir)
    _check_out(out)
    name, meta = _describe(data, modality, out)
    bounds = [plan.size * s // shards for s in range(shards + 1)]
    fields: dict[str, FieldInfo] | None = None
    infos = []
    bar = _progress(plan.size, progress, f"packing {out.name}")
    try:
        for s in range(shards):
            path = out / shard_name(s, shards)
            try:
                writer = module.ArrayRecordWriter(str(path), writer_options)
            except (RuntimeError, ValueError) as exc:
                raise ConfigError(f"pack: cannot write {str(path)!r} with options {writer_options!r}: {exc}") from exc
            try:
                for lo, hi in _chunks(bounds[s], bounds[s + 1]):
                    for j, record in enumerate(plan.read(lo, hi)):
                        fields = _merge(fields, record, lo + j)
                        writer.write(encode_record(record))
                    if bar is not None:
                        bar.update(hi - lo)
            finally:
                writer.close()
            infos.append(ShardInfo(path.name, bounds[s + 1] - bounds[s]))
    finally:
        if bar is not None:
            bar.close()
    decode = {**plan.decode, **meta.get("decode", {})}
    index = PackedIndex(
        tuple(infos),
        fields or {},
        name,
        meta.get("config"),
        decode,
        {**plan.constants, **meta.get("constants", {})},
        dict(meta.get("metadata", {})),
        writer_options,
    )
    index.write(out)
    return index
