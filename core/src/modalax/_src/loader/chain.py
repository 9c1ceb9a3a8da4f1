"""What an operator chain *is*, by value: a key for sharing its compiled step, and a JSON fingerprint.

Two loaders built with equal chains (the same operator types and config values, say a job that
rebuilds its loader after a restore) run the same program, so they can share one compiled
step; and a resumed run must have the chain that made the saved stream. Both need the chain
described by value, not by object identity (operator configs compare by identity).

``chain_key`` walks the chain's nnx graph: the type of every node, the shape and dtype of every
variable (their values reach the step as arguments, or are never read: the loader draws no key
from an operator's rngs) and a value key of every static attribute. Config dataclasses,
numbers, strings, tuples, dicts and numpy arrays are keyed by value; a plain function by its
code and the keys of what it closes over; anything else by identity, so an attribute the walk
cannot read never makes two different chains share a step (it only costs a compile).

``chain_fingerprint`` is the JSON side of the same walk, for the loader's saved state: per
operator its type and config fields (functions by qualified name, arrays by a digest).
"""

from __future__ import annotations

import dataclasses
import hashlib
import types
from collections.abc import Hashable
from typing import Any

import jax
import numpy as np
from flax import nnx

__all__ = ["chain_fingerprint", "chain_key", "fn_key", "leaf_operators", "mask_readers"]

_PLAIN = (str, int, float, bool, bytes, type(None), complex)
_SKIP = ("_host",)  # per-instance bookkeeping of OperatorModule (counters, caches): not the program


def leaf_operators(pipeline: Any) -> list[Any]:
    """The operators of a chain in order, ``Compose`` flattened (empty for None)."""
    if pipeline is None:
        return []
    inner = getattr(pipeline, "operators", None)
    if inner is not None and type(pipeline).__name__ == "Compose":
        return [op for child in inner for op in leaf_operators(child)]
    return [pipeline]


def mask_readers(pipeline: Any) -> list[Any]:
    """The operators of the chain that read the batch's validity mask (class attribute ``reads_mask``)."""
    return [op for op in leaf_operators(pipeline) if getattr(op, "reads_mask", False)]


def _array_key(v: Any) -> tuple[Any, ...]:
    dtype = str(v.dtype)
    if isinstance(v, jax.Array) and jax.dtypes.issubdtype(v.dtype, jax.dtypes.prng_key):
        v = jax.random.key_data(v)  # a typed key (jax.random.key) has no numpy form; its data does
    try:
        a = np.asarray(v)
    except Exception:  # a tracer, or an array numpy cannot read: keyed by identity, never shared
        return ("id", id(v), v)
    return ("array", a.shape, dtype, hashlib.sha256(a.tobytes()).hexdigest())


def fn_key(f: Any, depth: int = 0) -> Hashable:
    """A value key of a callable: a plain function by its code, defaults and closure; else identity."""
    if isinstance(f, staticmethod | classmethod):
        f = f.__func__
    if isinstance(f, types.FunctionType) and depth < 8:
        cells = tuple(value_key(c.cell_contents, depth + 1) for c in (f.__closure__ or ()))
        defaults = value_key(f.__defaults__, depth + 1)
        return ("fn", f.__code__, cells, defaults)
    return ("id", id(f), f)  # the object itself keeps its id from being reused while keyed


def value_key(v: Any, depth: int = 0) -> Hashable:
    """A hashable key equal for equal values (see the module docstring)."""
    if isinstance(v, _PLAIN):
        return (type(v).__name__, v)
    if depth > 16:
        return ("id", id(v), v)
    if isinstance(v, tuple | list):
        return (type(v).__name__, tuple(value_key(x, depth + 1) for x in v))
    if isinstance(v, dict):
        return ("dict", tuple(sorted(((str(k), value_key(x, depth + 1)) for k, x in v.items()), key=lambda t: t[0])))
    if isinstance(v, np.ndarray | np.generic | jax.Array):
        return _array_key(v)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        fields = tuple((f.name, value_key(getattr(v, f.name), depth + 1)) for f in dataclasses.fields(v))
        return ("dataclass", type(v), fields)
    if callable(v) and not isinstance(v, type):
        return fn_key(v, depth)
    if isinstance(v, type):
        return ("type", v)
    return ("id", id(v), v)


def chain_key(pipeline: Any) -> Hashable:
    """A hashable key equal for chains that run the same program (see the module docstring)."""
    if pipeline is None:
        return None
    parts: list[Any] = []
    for path, node in nnx.graph.iter_graph(pipeline):
        if any(p in _SKIP for p in path if isinstance(p, str)):
            continue
        if isinstance(node, nnx.Variable):
            value = node.get_value() if hasattr(node, "get_value") else node.value
            parts.append((path, type(node), np.shape(value), str(getattr(value, "dtype", type(value).__name__))))
        elif nnx.graph.is_graph_node(node):
            parts.append((path, type(node)))
        elif type(node).__name__ in ("PytreeState", "HashableMapping"):
            continue  # nnx's own bookkeeping
        else:
            parts.append((path, value_key(node)))
    return tuple(parts)


def _json(v: Any, depth: int = 0) -> Any:
    if isinstance(v, bool | int | str) or v is None:
        return v
    if isinstance(v, float):
        return v if np.isfinite(v) else repr(v)
    if depth > 8:
        return f"<{type(v).__qualname__}>"
    if isinstance(v, tuple | list):
        return [_json(x, depth + 1) for x in v]
    if isinstance(v, dict):
        return {str(k): _json(x, depth + 1) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    if isinstance(v, np.ndarray | np.generic | jax.Array):
        _, shape, dtype, digest = _array_key(v)
        return {"array": list(shape), "dtype": dtype, "digest": digest[:16]}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: _json(getattr(v, f.name), depth + 1) for f in dataclasses.fields(v)}
    if callable(v):
        return f"{getattr(v, '__module__', '?')}.{getattr(v, '__qualname__', type(v).__qualname__)}"
    return f"<{type(v).__module__}.{type(v).__qualname__}>"


def chain_fingerprint(pipeline: Any) -> list[dict[str, Any]]:
    """Per operator of the chain: ``{"type": module.Class, "config": {field: JSON value}}``."""
    out = []
    for op in leaf_operators(pipeline):
        config = getattr(op, "config", None)
        out.append({"type": f"{type(op).__module__}.{type(op).__qualname__}", "config": _json(config)})
    return out
