"""Records of a stream into one batch: numeric fields stacked, everything else kept as lists.

Records of a stream come from files and generators, so one field may hold an array in every
record (stacked, after checking that the shapes and dtypes agree), or text, JSON values,
bytes (a list of them: host fields, which the loader passes beside the device arrays, as it
does raw strings). A field whose values are dicts of arrays is stacked field by field
(nested records); any other dict, such as parsed JSON, stays a list. A record that lacks a
field of the others, or an array of another shape, is a ``DataError`` naming both records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["collate", "pad_record"]

_NUMERIC = "biufc"


def _numeric(value: Any) -> bool:
    if isinstance(value, np.ndarray | np.generic):
        return value.dtype.kind in _NUMERIC
    return isinstance(value, bool | int | float)


def _array_dict(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and all(
            _array_dict(v) if isinstance(v, dict) else isinstance(v, np.ndarray | np.generic) for v in value.values()
        )
    )


def collate(records: Sequence[dict[str, Any]], name: Callable[[int], str], path: str = "") -> dict[str, Any]:
    """``records`` stacked into one batch; ``name(i)`` names record ``i`` in errors."""
    from modalax._src.errors import DataError

    keys = list(records[0])
    for i, record in enumerate(records):
        if list(record) != keys and set(record) != set(keys):
            extra, missing = sorted(set(record) - set(keys)), sorted(set(keys) - set(record))
            raise DataError(
                f"{name(i)} has fields {sorted(record)} (extra {extra}, missing {missing}); expected {sorted(keys)} "
                f"like {name(0)}"
            )
    out: dict[str, Any] = {}
    for key in keys:
        values = [r[key] for r in records]
        field = f"{path}{key}"
        if all(_numeric(v) for v in values):
            arrays = [np.asarray(v) for v in values]
            first = arrays[0]
            for i, a in enumerate(arrays):
                if a.shape != first.shape or a.dtype != first.dtype:
                    raise DataError(
                        f"{name(i)}: field {field!r} is {a.dtype} {a.shape}, but {name(0)} has {first.dtype} "
                        f"{first.shape}; expected one shape and dtype per field (configure a size in the decoder)"
                    )
            out[key] = np.stack(arrays)
        elif all(_array_dict(v) for v in values):
            out[key] = collate(values, name, f"{field}.")
        else:
            out[key] = values
    return out


def pad_record(record: dict[str, Any]) -> dict[str, Any]:
    """A record of the same structure holding zeros (empty text and bytes, None elsewhere): padding."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if _numeric(value):
            out[key] = np.zeros_like(np.asarray(value))
        elif _array_dict(value):
            out[key] = pad_record(value)
        elif isinstance(value, str | bytes):
            out[key] = type(value)()
        else:
            out[key] = None
    return out
