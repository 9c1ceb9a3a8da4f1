"""What the loader verifies about each host-read batch before it reaches the device.

A source read on the host can hand back anything, batch by batch. The first batch fixes the
structure (field names and, per field, the shape of one record and the dtype); every later
batch must match it, or a jitted step would silently retrace on a different input or, worse,
train on misaligned fields. The check is a dict comparison per batch.

Without ``jax_enable_x64`` jax stores 64-bit integers as int32, which would silently wrap
values at 2^31, and float64 as float32, which turns values beyond 3.4e38 into ``inf``; such a
value is a ``DataError`` naming the field, the value and the record instead.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from modalax._src.errors import DataError

__all__ = ["BatchSpec", "batch_spec", "check_batch", "check_int_range", "check_value_range"]

BatchSpec = dict[str, tuple[tuple[int, ...], str]]
_I32 = np.iinfo(np.int32)
_F32_MAX = float(np.finfo(np.float32).max)


def batch_spec(arrays: dict[str, Any]) -> BatchSpec:
    """``{dotted field: (record shape, dtype name)}`` of a batch (nested dicts flattened)."""
    out: BatchSpec = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(arrays)[0]:
        name = ".".join(str(getattr(p, "key", p)) for p in path)
        out[name] = (tuple(np.shape(leaf)[1:]), str(leaf.dtype))
    return out


def check_batch(
    owner: str, arrays: dict[str, Any], size: int, expected: BatchSpec | None, *, indices: Any = None
) -> BatchSpec:
    """The batch's spec, after checking its leading axes, its match with ``expected`` and its values'
    range (``indices``, the source records of the rows, name a bad record in the message)."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(arrays)[0]:
        if np.ndim(leaf) == 0 or np.shape(leaf)[0] != size:
            name = ".".join(str(getattr(p, "key", p)) for p in path)
            raise DataError(
                f"{owner}.get_records: field {name!r} has shape {np.shape(leaf)}, expected a leading axis of "
                f"{size} (one row per requested index)"
            )
    spec = batch_spec(arrays)
    if expected is not None and spec != expected:
        extra, missing = sorted(spec.keys() - expected.keys()), sorted(expected.keys() - spec.keys())
        if extra or missing:
            raise DataError(
                f"{owner}.get_records: fields changed between batches (extra {extra}, missing {missing}); "
                f"expected {sorted(expected)} like the first batch"
            )
        name = next(k for k in spec if spec[k] != expected[k])
        raise DataError(
            f"{owner}.get_records: field {name!r} is {spec[name][0]} {spec[name][1]} per record, expected "
            f"{expected[name][0]} {expected[name][1]} like the first batch"
        )
    check_value_range(owner, arrays, indices=indices)
    return spec


def _record(indices: Any, row: int) -> str:
    return f"record {int(indices[row])}" if indices is not None else f"batch row {row}"


def check_value_range(owner: str, arrays: dict[str, Any], *, indices: Any = None) -> None:
    """``DataError`` for 64-bit values that jax's 32-bit defaults cannot hold.

    Integers outside int32 would wrap; finite float64 values beyond float32's largest would
    become ``inf``. The error names the field, the value and the record: ``indices[row]`` when
    the caller knows which source records the rows are, else the row of the batch.
    """
    # jax registers its flags as dynamic attributes of Config, which its annotations do not declare.
    if jax.config.jax_enable_x64:  # type: ignore[attr-defined]
        return
    for path, leaf in jax.tree_util.tree_flatten_with_path(arrays)[0]:
        if not isinstance(leaf, np.ndarray) or not leaf.size or leaf.ndim == 0:
            continue
        name = ".".join(str(getattr(p, "key", p)) for p in path)
        if leaf.dtype in (np.int64, np.uint64):
            bad = (leaf < _I32.min) | (leaf > _I32.max)
            if bad.any():
                where = np.argwhere(bad)[0]
                raise DataError(
                    f"{owner}: field {name!r} of {_record(indices, int(where[0]))} holds {int(leaf[tuple(where)])}, "
                    "which int32 (jax's default integer) cannot hold; expected values in [-2^31, 2^31), or "
                    "jax.config.update('jax_enable_x64', True)"
                )
        elif leaf.dtype == np.float64:
            bad = np.isfinite(leaf) & (np.abs(leaf) > _F32_MAX)
            if bad.any():
                where = np.argwhere(bad)[0]
                value = float(leaf[tuple(where)])
                raise DataError(
                    f"{owner}: field {name!r} of {_record(indices, int(where[0]))} holds {value!r}, "
                    "which float32 (jax's default float) cannot hold (it would become inf); expected |values| <= "
                    f"{_F32_MAX:.4g}, or jax.config.update('jax_enable_x64', True)"
                )


#: The name the loader and older callers use.
check_int_range = check_value_range
