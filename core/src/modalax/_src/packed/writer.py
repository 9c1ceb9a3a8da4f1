"""``pack``: write a dataset or source into ArrayRecord shards, their checksums and an ``index.json``.

Records are numbered across shards in order (shard ``s`` of ``S`` holds records
``[s*n//S, (s+1)*n//S)``), so grain's ``ArrayRecordDataSource`` over the shard list sees the
same indices. Packing is deterministic: the same data gives the same bytes, whether the
shards are written here one after the other (``write_shard``) or by the workers of an Apache
Beam pipeline (``runner="beam"``, see ``modalax._src.packed.beam``), which call the same
function and hand ``finish`` the same per-shard results.

A pack is complete or absent: shards and the CRC file are written under ``.partial`` names,
synced and renamed when every one is complete, and ``index.json`` is renamed into place last.
A failed ``pack`` removes what it wrote; a killed one leaves files without ``index.json``, which
readers name an incomplete pack and ``pack`` refuses to write into. ``out_dir`` may be a URL
(``s3://``, ``gs://``, ``memory://``, ...): shards are staged locally one at a time and uploaded
(see ``modalax._src.packed.output``). Hashing (a CRC-32 per record, a SHA-256 per file) costs a
few percent of packing (docs/packed.md).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.install_hints import extra_hint
from modalax._src.packed.adapt import plan_for, source_on_error
from modalax._src.packed.index import PARTIAL, FieldInfo, PackedIndex, ShardInfo, shard_name
from modalax._src.packed.integrity import CHECKSUMS_NAME, file_sha256, record_crc
from modalax._src.packed.output import PackOutput, check_out, sync
from modalax._src.packed.record import encode_record, field_kind
from modalax._src.remote import RemotePath, as_path

__all__ = ["DEFAULT_WRITER_OPTIONS", "ShardResult", "array_record_module", "finish", "pack", "prepare", "write_shard"]

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


def _merge_infos(fields: dict[str, FieldInfo] | None, infos: dict[str, FieldInfo], i: int) -> dict[str, FieldInfo]:
    """The fields so far merged with ``infos`` (record ``i``'s, or those of a shard starting at record ``i``)."""
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


def _merge(fields: dict[str, FieldInfo] | None, record: dict[str, Any], i: int) -> dict[str, FieldInfo]:
    return _merge_infos(fields, {k: _info(k, v) for k, v in record.items()}, i)


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


@dataclass
class ShardResult:
    """What writing one shard found: its fields, per-record CRCs, skipped records, byte size and SHA-256."""

    fields: dict[str, FieldInfo] | None
    crcs: np.ndarray
    skipped: list[tuple[int, str]]
    size: int
    sha256: str


def write_shard(
    module: Any,
    plan: Any,
    path: Path,
    lo: int,
    hi: int,
    writer_options: str,
    policy: str,
    bar: Any = None,
    fields: dict[str, FieldInfo] | None = None,
) -> ShardResult:
    """Write records ``lo:hi`` of ``plan`` to the local file ``path``; ``DataError`` for a bad record with
    ``policy="raise"``. ``fields`` are those of the records before (so a record that differs is named);
    the file is synced before its hash is taken."""
    crcs = np.zeros(hi - lo, "<u4")
    skipped: list[tuple[int, str]] = []
    try:
        writer = module.ArrayRecordWriter(str(path), writer_options)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(f"pack: cannot write {str(path)!r} with options {writer_options!r}: {exc}") from exc
    try:
        for start, stop in _chunks(lo, hi):
            for j, (record, problem) in enumerate(plan.rows(start, stop)):
                i = start + j
                if problem is not None:
                    if policy == "raise":
                        raise DataError(f"pack: {problem} (record {i}; on_error='skip' stores it as a masked record)")
                    skipped.append((i, problem))
                fields = _merge(fields, record, i)
                encoded = encode_record(record)
                crcs[i - lo] = record_crc(encoded)
                writer.write(encoded)
            if bar is not None:
                bar.update(stop - start)
    finally:
        writer.close()
    sync(path)
    return ShardResult(fields, crcs, skipped, path.stat().st_size, file_sha256(path))


def prepare(data: Any, shards: Any, on_error: Any, check_files: bool | None) -> tuple[Any, str, Any, int]:
    """``(array_record module, on_error policy, plan, shards)``, every argument checked before any work."""
    module = array_record_module()
    policy = _check_on_error(on_error, data)
    plan = plan_for(data, check_files=(policy == "skip") if check_files is None else bool(check_files))
    if plan.size == 0:
        raise DataError(f"pack: {type(data).__name__} holds no records; nothing to pack")
    return module, policy, plan, _check_shards(shards, plan.size)


def bounds_of(size: int, shards: int) -> list[int]:
    """First record of each shard, and ``size`` at the end."""
    return [size * s // shards for s in range(shards + 1)]


def finish(
    output: PackOutput,
    results: Sequence[ShardResult],
    plan: Any,
    described: tuple[str | None, dict[str, Any]],
    writer_options: str,
    policy: str,
) -> PackedIndex:
    """Write the CRC file and ``index.json`` (last) for complete shards ``results`` (in shard order)."""
    shards = len(results)
    bounds = bounds_of(plan.size, shards)
    fields: dict[str, FieldInfo] | None = None
    for s, result in enumerate(results):
        if result.fields is not None:
            fields = _merge_infos(fields, result.fields, bounds[s])
    crcs = np.concatenate([r.crcs for r in results]).astype("<u4")
    crc_path = output.local / (CHECKSUMS_NAME + PARTIAL)
    crcs.tofile(crc_path)
    sync(crc_path)
    names = [shard_name(s, shards) for s in range(shards)]
    infos = [ShardInfo(names[s], bounds[s + 1] - bounds[s], r.size, r.sha256) for s, r in enumerate(results)]
    files = output.commit([*names, CHECKSUMS_NAME], set(names))
    name, meta = described
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
        skipped=tuple(item for r in results for item in r.skipped),
        on_error=policy,
    )
    output.write_index(index)  # last: a folder with index.json is a complete pack
    return index


def warn_skipped(index: PackedIndex) -> None:
    """The warning a pack with skipped records gives (``stacklevel`` points at ``pack``'s caller)."""
    if index.skipped:
        warnings.warn(
            f"pack: {len(index.skipped)} record(s) skipped (on_error='skip'), stored as masked stand-ins; "
            f"first: record {index.skipped[0][0]}: {index.skipped[0][1]}",
            RuntimeWarning,
            stacklevel=3,
        )


def pack(
    data: Any,
    out_dir: str | os.PathLike[str] | RemotePath,
    *,
    shards: int = 1,
    modality: str | None = None,
    progress: bool = True,
    writer_options: str = DEFAULT_WRITER_OPTIONS,
    on_error: Literal["raise", "skip"] | None = None,
    check_files: bool | None = None,
    runner: Literal["local", "beam"] = "local",
    pipeline_options: Sequence[str] | Any = None,
) -> PackedIndex:
    """Write ``data`` (a dataset or source, see ``modalax._src.packed.adapt``) to ``out_dir`` as shards.

    File datasets keep each file's encoded bytes; other data is stored as its arrays and
    strings. ``modality`` defaults to the modality whose ``packed`` dataset type recognises
    ``data`` (its config is saved in the index). ``out_dir`` (a folder or a URL) must be new or
    empty.

    A record that cannot be read (a file that fails to open; with ``check_files``, one that
    fails to decode with the source's decoder; a record the source itself skipped) raises a
    ``DataError`` naming it with ``on_error="raise"``; with ``"skip"`` it is stored as a
    stand-in (the file's bytes, or the source's zeros), listed in ``index.skipped`` with the
    reason, and readers mask it out as the folder dataset does. ``on_error=None`` takes the
    source's own ``on_error`` (``"raise"`` when it has none); ``check_files=None`` decodes files
    once while packing exactly when skipping (so the skips are counted now, not when read).

    ``runner="beam"`` writes the shards in an Apache Beam pipeline (``pip install
    "apache-beam>=2.60"``) run with ``pipeline_options`` (a list of command-line flags such as
    ``["--runner=DataflowRunner", ...]``, or ``PipelineOptions``; default: the DirectRunner with
    2 worker processes); the pack is identical to this process's.

    Returns the index, written as ``out_dir/index.json`` once every other file is complete.
    """
    if runner == "beam":
        from modalax._src.packed.beam import pack_beam

        index = pack_beam(
            data,
            out_dir,
            shards=shards,
            modality=modality,
            writer_options=writer_options,
            on_error=on_error,
            check_files=check_files,
            pipeline_options=pipeline_options,
        )
        warn_skipped(index)
        return index
    if runner != "local":
        raise ConfigError(f"pack.runner: got {runner!r}, expected 'local' or 'beam'")
    if pipeline_options is not None:
        raise ConfigError("pack.pipeline_options: given with runner='local'; expected them with runner='beam' only")
    module, policy, plan, shards = prepare(data, shards, on_error, check_files)
    out = as_path(out_dir)
    output = PackOutput(out, check_out(out))
    try:
        described = _describe(data, modality, output.local)
        bounds = bounds_of(plan.size, shards)
        results: list[ShardResult] = []
        bar = _progress(plan.size, progress, f"packing {out.name}")
        try:
            for s in range(shards):
                path = output.shard_file(shard_name(s, shards))
                before = results[-1].fields if results else None
                results.append(
                    write_shard(module, plan, path, bounds[s], bounds[s + 1], writer_options, policy, bar, before)
                )
                output.publish(path, shard_name(s, shards))
        finally:
            if bar is not None:
                bar.close()
        index = finish(output, results, plan, described, writer_options, policy)
    except BaseException:
        output.clean()
        raise
    warn_skipped(index)
    return index
