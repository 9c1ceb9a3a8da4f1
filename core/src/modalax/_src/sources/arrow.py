"""Arrow columns (what a HF ``datasets.Dataset`` stores) as numpy columns, nothing lost without a word.

``datasets``' own numpy formatting turns a null in an int column into NaN (and the column into
float32), float64 into float32 (``inf`` beyond 3.4e38) and a ragged list column into an object
array. Here each Arrow type maps to one numpy form, and what has none is refused with the
record (its index in the dataset), the field and the value, unless the caller chose a stand-in:

* integers, floats, booleans: their own dtype (the loader refuses 64-bit values jax's 32-bit
  defaults cannot hold, naming them);
* strings and binary: object arrays of ``str``/``bytes`` (host fields);
* lists: one more axis when every record has the same length, else a ``DataError``;
* structs: nested dicts, field by field (``"meta.id"`` names a field inside ``meta``);
* nulls: a ``DataError``, or ``fill[name]`` in their place; ``dtype[name]`` casts a column;
* anything else (timestamps, decimals, ...): a ``ConfigError`` saying how to convert it.

The cost is Arrow's own conversion per column and batch (no Python per value, except for the
string and binary columns, which are Python objects by nature).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from modalax._src.errors import ConfigError, DataError

__all__ = ["arrow_column"]


def _value(array: Any, j: int) -> str:
    text = repr(array[j].as_py())
    return text if len(text) <= 60 else text[:57] + "..."


def _fill_nulls(array: Any, name: str, owner: str, indices: np.ndarray, fill: Mapping[str, Any]) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not array.null_count:
        return array
    if name not in fill:
        j = int(np.flatnonzero(np.asarray(array.is_null()))[0])
        raise DataError(
            f"{owner}: field {name!r} of record {int(indices[j])} is None (null); expected a value "
            f"(pass fill={{{name!r}: value}} to stand in for missing values)"
        )
    try:
        return pc.fill_null(array, pa.scalar(fill[name], type=array.type))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise ConfigError(
            f"{owner}.fill[{name!r}]: got {fill[name]!r}, which is not a {array.type} value: {exc}"
        ) from exc


def arrow_column(
    array: Any,
    name: str,
    owner: str,
    indices: np.ndarray,
    fill: Mapping[str, Any],
    dtype: Mapping[str, Any],
) -> Any:
    """One Arrow array (``len(indices)`` records) as a numpy column, or a dict of them for a struct."""
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if isinstance(array.type, pa.ExtensionType):  # datasets' Array2D..Array5D: nested lists underneath
        array = array.storage
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    array = _fill_nulls(array, name, owner, indices, fill)
    t = array.type
    if pa.types.is_struct(t):
        return {
            t.field(k).name: arrow_column(array.field(k), f"{name}.{t.field(k).name}", owner, indices, fill, dtype)
            for k in range(t.num_fields)
        }
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _list_column(array, name, owner, indices, fill, dtype)
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        out = array.to_numpy(zero_copy_only=False)
    elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t):
        out = np.empty(len(array), dtype=object)
        out[:] = array.to_pylist()
    else:
        raise ConfigError(
            f"{owner}: field {name!r} has Arrow type {t}, which has no array form here; expected numbers, "
            "booleans, text, bytes or lists and structs of them (convert it with ds.map or ds.cast_column, or "
            "leave the column out with columns=[...])"
        )
    wanted = dtype.get(name)
    if wanted is None:
        return out
    try:
        with np.errstate(over="ignore"):  # the caller chose this dtype: overflow to inf is theirs
            return out.astype(wanted)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{owner}: field {name!r} cannot be read as dtype {wanted!r}: {exc}") from exc


def _list_column(
    array: Any, name: str, owner: str, indices: np.ndarray, fill: Mapping[str, Any], dtype: Mapping[str, Any]
) -> Any:
    import pyarrow.compute as pc

    lengths = np.asarray(pc.list_value_length(array), dtype=np.int64)
    if len(lengths) and (lengths != lengths[0]).any():
        j = int(np.flatnonzero(lengths != lengths[0])[0])
        raise DataError(
            f"{owner}: field {name!r} of record {int(indices[j])} holds {lengths[j]} values but record "
            f"{int(indices[0])} holds {lengths[0]}: {_value(array, j)}; expected one length per field (pad or "
            "cut them to one length with ds.map, or leave the column out with columns=[...])"
        )
    width = int(lengths[0]) if len(lengths) else 0
    inner = arrow_column(array.flatten(), name, owner, np.repeat(indices, width), fill, dtype)
    return _fold(inner, len(array), width)


def _fold(column: Any, n: int, width: int) -> Any:
    if isinstance(column, dict):
        return {k: _fold(v, n, width) for k, v in column.items()}
    return column.reshape(n, width, *column.shape[1:])
