"""Fields of a batch: dotted paths into nested dicts, and which fields go through jit."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from modalax._src.errors import MissingFieldError

__all__ = ["PyTree", "first_element", "get_path", "is_array_field", "set_path", "shape_tree", "split_host_fields"]

PyTree = Any


def is_array_field(value: Any) -> bool:
    """True for numeric arrays that can go through jit (not strings or lists)."""
    if isinstance(value, jax.Array):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind in "biufc"


def split_host_fields(batch: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a batch into (array fields, host fields such as raw strings)."""
    arrays = {k: v for k, v in batch.items() if is_array_field(v) or isinstance(v, dict)}
    host = {k: v for k, v in batch.items() if k not in arrays}
    return arrays, host


def get_path(data: PyTree, key: str) -> Any:
    """``data['a']['b']`` for ``key='a.b'``; DataError naming the key when missing."""
    node = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            have = sorted(node) if isinstance(node, dict) else type(node).__name__
            raise MissingFieldError(f"field {key!r}: missing {part!r}; the data has {have}")
        node = node[part]
    return node


def set_path(data: PyTree, key: str, value: Any) -> PyTree:
    """A shallow copy of ``data`` with ``key`` (dotted) set to ``value``."""
    head, _, rest = key.partition(".")
    out = dict(data)
    out[head] = set_path(out.get(head, {}), rest, value) if rest else value
    return out


def shape_tree(batch: PyTree, leading: int | None = None) -> PyTree:
    """Dict of shape tuples (optionally with the leading axis replaced)."""
    if isinstance(batch, dict):
        return {k: shape_tree(v, leading) for k, v in batch.items()}
    shape = tuple(np.shape(batch))
    return shape if leading is None or not shape else (leading, *shape[1:])


def first_element(x: jax.Array) -> jax.Array:
    """The first record of a batch field, or zeros of a record's shape when the batch is empty."""
    # An empty batch has no first element; a zero element of its shape serves to draw
    # parameters, and vmap over zero records then returns the empty batch.
    return x[0] if x.shape[0] else jnp.zeros(x.shape[1:], x.dtype)
