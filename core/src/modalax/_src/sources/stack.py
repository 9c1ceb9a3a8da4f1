"""Turning what users hold in memory into the column layout sources serve.

Records arrive as dicts of arrays (possibly nested), tuples (torch's ``(image, label)``), bare
arrays, or lists of either; columns arrive as dicts of arrays or of Python lists. Sources serve
*columns*: a dict whose leaves share one leading axis. These helpers convert once, check that
every record has one structure and one kind of value per field, and name the record (its index
in the source), the field and the value that does not. Nothing is coerced silently: a ``None``
is refused unless ``fill`` gives its stand-in, and a field holding numbers in one record and
text in another is refused unless ``dtype`` picks one type.

Foreign tensors become numpy arrays on the way in: torch tensors are detached and copied to the
host, and bfloat16 (which numpy has no native type for) becomes float32, which holds every
bfloat16 value exactly. Strings and other non-numeric values become host columns (numpy
string/object arrays), which the loader passes beside the device arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.sources.checks import check_value_range

__all__ = [
    "as_columns",
    "as_record",
    "check_fields",
    "leaf_paths",
    "merge_trees",
    "plain_value",
    "split_numeric",
    "stack_records",
]

Options = Mapping[str, Any] | None

_SCALARS = (np.ndarray, jax.Array, np.generic, int, float, bool, complex, str, bytes)


def leaf_paths(tree: Any) -> list[tuple[str, Any]]:
    """``[(dotted path, leaf)]`` of a nested dict, in key order."""
    return [(".".join(str(getattr(p, "key", p)) for p in path), leaf) for path, leaf in _flatten(tree)]


def _flatten(tree: Any) -> list[tuple[Any, Any]]:
    return jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda x: not isinstance(x, Mapping))[0]


def _is_torch(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach")


def plain_value(value: Any) -> Any:
    """``value`` with torch tensors as numpy arrays (detached, on the host, bfloat16 as float32)."""
    if not _is_torch(value):
        return value
    tensor = value.detach().cpu()
    if str(tensor.dtype) == "torch.bfloat16":
        tensor = tensor.float()  # float32 holds every bfloat16 value exactly; numpy has no bfloat16
    return tensor.numpy()


def check_fields(fields: Any, owner: str) -> tuple[str, ...] | None:
    """``fields`` (names of tuple positions) as a tuple of distinct strings, or None."""
    if fields is None:
        return None
    if isinstance(fields, str) or not isinstance(fields, Sequence) or not fields:
        raise ConfigError(
            f"{owner}.fields: got {fields!r}, expected a tuple of field names such as ('images', 'labels')"
        )
    names = tuple(fields)
    if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise ConfigError(f"{owner}.fields: got {fields!r}, expected distinct non-empty strings")
    return names


def as_record(item: Any, key: str, owner: str, index: int, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """One record as a (nested) dict: tuples name their fields by ``fields``, their namedtuple
    names or their positions (``"0"``, ``"1"``, ...); an array or a scalar is served under ``key``."""
    if isinstance(item, Mapping):
        if not item:
            raise DataError(f"{owner}: record {index} is an empty dict; expected fields")
        return {str(k): (as_record(v, key, owner, index) if isinstance(v, Mapping) else v) for k, v in item.items()}
    if isinstance(item, tuple):
        names = fields or getattr(item, "_fields", None) or tuple(str(i) for i in range(len(item)))
        if len(names) != len(item):
            raise DataError(
                f"{owner}: record {index} is a tuple of {len(item)} values, expected {len(names)} to name "
                f"{list(names)} (fields=)"
            )
        if not item:
            raise DataError(f"{owner}: record {index} is an empty tuple; expected fields")
        return {n: (as_record(v, key, owner, index) if isinstance(v, Mapping) else v) for n, v in zip(names, item)}
    if item is None:
        raise DataError(
            f"{owner}: record {index} is None; expected a record (grain's MapDataset.filter() leaves None where it "
            "drops records: keep the indices you want with modalax.Subset(source, indices) instead)"
        )
    if isinstance(item, _SCALARS) or _is_torch(item) or hasattr(item, "__array_interface__"):
        return {key: item}
    raise DataError(
        f"{owner}: record {index} is a {type(item).__name__}; expected a dict of arrays, a tuple of them "
        "(fields by position, or named with fields=) or an array"
    )


def _kind(array: np.ndarray) -> str:
    kind = array.dtype.kind
    if kind in "biufc":
        return "number"
    if kind == "U":
        return "str"
    if kind == "S":
        return "bytes"
    return "object"


def _describe_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def column(
    values: Sequence[Any], name: str, owner: str, indices: Sequence[int], *, fill: Any = None, dtype: Any = None
) -> np.ndarray:
    """One field of several records (``indices`` name them) as an array with a leading record axis.

    ``fill`` stands in for ``None`` values (else they are a ``DataError``); ``dtype`` casts every
    value (``str`` reads numbers as text), else the values must share one kind (numbers, text,
    bytes) and one shape.
    """
    if any(v is None for v in values):
        if fill is None:
            j = next(j for j, v in enumerate(values) if v is None)
            raise DataError(
                f"{owner}: field {name!r} of record {indices[j]} is None; expected a value like the other records "
                f"(pass fill={{{name!r}: value}} to stand in for missing values)"
            )
        values = [fill if v is None else v for v in values]
    values = [plain_value(v) for v in values]
    if isinstance(values[0], Mapping):
        return stack_records(values, owner=owner, indices=indices, key=name)  # type: ignore[return-value]
    if dtype is not None:
        if dtype is str:
            arrays = [np.asarray(v if isinstance(v, str) else str(v)) for v in values]
        else:
            try:
                arrays = [np.asarray(v, dtype=dtype) for v in values]
            except (TypeError, ValueError) as exc:
                raise DataError(f"{owner}: field {name!r} cannot be read as dtype {dtype!r}: {exc}") from exc
    else:
        arrays = [np.asarray(v) for v in values]
    kinds = [_kind(a) for a in arrays]
    odd = next((j for j, k in enumerate(kinds) if k != kinds[0]), None)
    if odd is not None:
        raise DataError(
            f"{owner}: field {name!r} of record {indices[odd]} is {type(values[odd]).__name__} "
            f"{_describe_value(values[odd])}, but {type(values[0]).__name__} {_describe_value(values[0])} in record "
            f"{indices[0]}; expected one type per field (pass dtype={{{name!r}: str}} or another dtype to convert "
            "every value)"
        )
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        bad = next(j for j, a in enumerate(arrays) if a.shape != arrays[0].shape)
        raise DataError(
            f"{owner}: field {name!r} of record {indices[bad]} has shape {arrays[bad].shape}, expected "
            f"{arrays[0].shape} like record {indices[0]} (records of one source share their shapes)"
        )
    if kinds[0] == "object" and arrays[0].ndim == 0 and not isinstance(arrays[0].item(), str | bytes):
        value = arrays[0].item()
        raise DataError(
            f"{owner}: field {name!r} of record {indices[0]} is a {type(value).__name__} "
            f"{_describe_value(value)}; expected numbers, text, bytes or arrays of them"
        )
    if kinds[0] in ("str", "bytes", "object"):
        out = np.empty(len(arrays), dtype=object)
        out[:] = [a.item() if a.ndim == 0 else a.tolist() for a in arrays]
        return out
    return np.stack(arrays)


def _option(options: Options, name: str) -> Any:
    return None if options is None else options.get(name)


def stack_records(
    items: Sequence[Any],
    *,
    owner: str,
    key: str = "data",
    indices: Sequence[int] | np.ndarray | None = None,
    fields: tuple[str, ...] | None = None,
    fill: Options = None,
    dtype: Options = None,
) -> dict[str, Any]:
    """Records (dicts, possibly nested, tuples, or bare arrays under ``key``) stacked into columns.

    Every record must have the same fields and, per field, one kind of value and one shape;
    ``DataError`` names the first record that differs by its index in the source (``indices``,
    default ``0, 1, ...``). ``fill`` and ``dtype`` map dotted field names to the stand-in for
    ``None`` and the dtype to cast to (see ``column``).
    """
    where = list(range(len(items))) if indices is None else [int(i) for i in indices]
    records = [as_record(item, key, owner, i, fields) for item, i in zip(items, where, strict=True)]
    if not records:
        raise DataError(f"{owner}: got no records; expected at least one")
    template = _flatten(records[0])
    names = [".".join(str(getattr(p, "key", p)) for p in path) for path, _ in template]
    treedef = jax.tree_util.tree_structure(records[0], is_leaf=lambda x: not isinstance(x, Mapping))
    leaves: list[list[Any]] = [[] for _ in names]
    for i, record in zip(where, records, strict=True):
        flat = _flatten(record)
        got = [".".join(str(getattr(p, "key", p)) for p in path) for path, _ in flat]
        if got != names:
            extra, missing = sorted(set(got) - set(names)), sorted(set(names) - set(got))
            raise DataError(
                f"{owner}: record {i} has fields {got} (extra {extra}, missing {missing}); expected "
                f"{names} like record {where[0]}"
            )
        for values, (_, leaf) in zip(leaves, flat, strict=True):
            values.append(leaf)
    columns = [
        column(values, name, owner, where, fill=_option(fill, name), dtype=_option(dtype, name))
        for values, name in zip(leaves, names, strict=True)
    ]
    out = jax.tree_util.tree_unflatten(treedef, columns)
    check_value_range(owner, out, indices=where)
    return out


def _columns_of(data: Mapping[Any, Any], owner: str, prefix: str, fill: Options, dtype: Options) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out[str(k)] = _columns_of(v, owner, name + ".", fill, dtype)
        elif isinstance(v, list | tuple):
            if not v:
                raise DataError(f"{owner}[{name!r}]: got an empty {type(v).__name__}; expected one value per record")
            out[str(k)] = column(v, name, owner, range(len(v)), fill=_option(fill, name), dtype=_option(dtype, name))
        else:
            value = plain_value(v)
            out[str(k)] = value if _option(dtype, name) is None else np.asarray(value, dtype=dtype[name])  # type: ignore[index]
    return out


def as_columns(
    data: Any, *, owner: str, key: str = "data", fields: Any = None, fill: Options = None, dtype: Options = None
) -> dict[str, Any]:
    """A dict of columns from a dict of arrays or Python lists (nested allowed), a bare array, or a list of records."""
    if isinstance(data, Mapping):
        if not data:
            raise DataError(f"{owner}: got an empty dict; expected a dict of arrays")
        return _columns_of(data, owner, "", fill, dtype)
    data = plain_value(data)
    if isinstance(data, np.ndarray | jax.Array):
        if np.ndim(data) == 0:
            raise DataError(f"{owner}: got a 0-d array; expected an array with a leading (record) axis")
        return {key: data}
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        names = check_fields(fields, owner)
        return stack_records(data, owner=owner, key=key, fields=names, fill=fill, dtype=dtype)
    raise DataError(f"{owner}: got {type(data).__name__}; expected a dict of arrays, a bare array or a list of records")


def _is_numeric(value: Any) -> bool:
    return isinstance(value, jax.Array) or np.asarray(value).dtype.kind in "biufc"


def split_numeric(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(numeric columns, other columns)`` of a nested dict, each keeping the nesting."""
    numeric: dict[str, Any] = {}
    other: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, Mapping):
            a, b = split_numeric(v)
            if a:
                numeric[k] = a
            if b:
                other[k] = b
        elif _is_numeric(v):
            numeric[k] = v
        else:
            other[k] = np.asarray(v)
    return numeric, other


def merge_trees(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """``a`` updated with ``b``, merging nested dicts instead of replacing them."""
    out = dict(a)
    for k, v in b.items():
        out[k] = merge_trees(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out
