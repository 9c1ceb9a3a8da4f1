"""Turning what users hold in memory into the column layout sources serve.

Records arrive as dicts of arrays (possibly nested), as bare arrays, or as lists of either;
sources serve *columns*: a dict whose leaves share one leading axis. These helpers convert
once, check that every record has one structure, and name the record and field that does not.
Strings and other non-numeric values become host columns (numpy string/object arrays), which
the loader passes beside the device arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from modalax._src.errors import DataError

__all__ = ["as_columns", "leaf_paths", "merge_trees", "split_numeric", "stack_records"]


def leaf_paths(tree: Any) -> list[tuple[str, Any]]:
    """``[(dotted path, leaf)]`` of a nested dict, in key order."""
    return [(".".join(str(getattr(p, "key", p)) for p in path), leaf) for path, leaf in _flatten(tree)]


def _flatten(tree: Any) -> list[tuple[Any, Any]]:
    return jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda x: not isinstance(x, Mapping))[0]


def _as_record(item: Any, key: str, owner: str, index: int) -> dict[str, Any]:
    if isinstance(item, Mapping):
        if not item:
            raise DataError(f"{owner}: record {index} is an empty dict; expected fields")
        return {k: (_as_record(v, key, owner, index) if isinstance(v, Mapping) else v) for k, v in item.items()}
    if isinstance(item, np.ndarray | jax.Array | np.generic | int | float | bool | str | bytes):
        return {key: item}
    raise DataError(f"{owner}: record {index} is a {type(item).__name__}; expected a dict of arrays or an array")


def _column(values: list[Any], name: str, owner: str, first_bad: int) -> np.ndarray:
    arrays = [np.asarray(v) for v in values]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        bad = next(i for i, a in enumerate(arrays) if a.shape != arrays[0].shape)
        raise DataError(
            f"{owner}: field {name!r} of record {first_bad + bad} has shape {arrays[bad].shape}, expected "
            f"{arrays[0].shape} like record {first_bad} (records of one source share their shapes)"
        )
    if arrays[0].dtype.kind in "USO":
        column = np.empty(len(arrays), dtype=object) if arrays[0].ndim else None
        if column is None:
            return np.asarray([a.item() for a in arrays], dtype=object)
        column[:] = [a.tolist() for a in arrays]
        return column
    return np.stack(arrays)


def stack_records(items: Sequence[Any], *, owner: str, key: str = "data", first: int = 0) -> dict[str, Any]:
    """Records (dicts, possibly nested, or bare arrays under ``key``) stacked into columns.

    Every record must have the same fields and, per field, one shape; ``DataError`` names the
    first record (counting from ``first``) that differs.
    """
    records = [_as_record(item, key, owner, first + i) for i, item in enumerate(items)]
    if not records:
        raise DataError(f"{owner}: got no records; expected at least one")
    template = _flatten(records[0])
    names = [".".join(str(getattr(p, "key", p)) for p in path) for path, _ in template]
    treedef = jax.tree_util.tree_structure(records[0], is_leaf=lambda x: not isinstance(x, Mapping))
    leaves: list[list[Any]] = [[] for _ in names]
    for i, record in enumerate(records):
        flat = _flatten(record)
        got = [".".join(str(getattr(p, "key", p)) for p in path) for path, _ in flat]
        if got != names:
            extra, missing = sorted(set(got) - set(names)), sorted(set(names) - set(got))
            raise DataError(
                f"{owner}: record {first + i} has fields {got} (extra {extra}, missing {missing}); expected "
                f"{names} like record {first}"
            )
        for column, (_, leaf) in zip(leaves, flat, strict=True):
            column.append(leaf)
    columns = [_column(values, name, owner, first) for values, name in zip(leaves, names, strict=True)]
    return jax.tree_util.tree_unflatten(treedef, columns)


def as_columns(data: Any, *, owner: str, key: str = "data") -> dict[str, Any]:
    """A dict of columns from a dict of arrays (nested allowed), a bare array, or a list of records."""
    if isinstance(data, Mapping):
        if not data:
            raise DataError(f"{owner}: got an empty dict; expected a dict of arrays")
        return dict(data)
    if isinstance(data, np.ndarray | jax.Array):
        if np.ndim(data) == 0:
            raise DataError(f"{owner}: got a 0-d array; expected an array with a leading (record) axis")
        return {key: data}
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        return stack_records(data, owner=owner, key=key)
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
