"""Gathers the loader runs itself for an ``ArraySource``, where they measure faster than its own.

Two cases, both exact (the loader's indices are in range by construction, so clamping, filling
and numpy's ``clip`` mode all return the same rows):

* A device ``ArraySource`` with no operator, on the CPU backend: the batch *is* the gather.
  XLA's CPU backend runs a gather whose rows then pass a per-row select (``jnp.take``'s ``fill``
  mode) faster than the bare ``clip`` gather the source uses when rows are large, and slower when
  they are small (CPU time per batch of 128, both modes compiled to one fused loop: 48 KB rows
  0.3-0.9x clip's time at 6-201 MB of data, 27 KB rows 0.6-1.06x; 3 KB rows 0.8-1.9x, more in
  six of seven sizes; 5-12 KB rows 0.8-1.4x). So each array is gathered in ``fill`` mode from
  ``FILL_FROM`` bytes a row, in ``clip`` mode below. With operators the source's gather stays (the
  select would be fused into, and recomputed by, every operator that reads the batch), as it does
  on accelerators (not measured there).
* A host ``ArraySource(on_device=False)``: its numpy rows are gathered into 64-byte aligned
  buffers, which XLA's CPU client adopts without a copy (``jax.device_put`` ~18 us a batch of
  any size, where ``jnp.asarray`` of numpy's 16-byte aligned result copies it: 330 us for 6 MB).
  On an accelerator the buffer is copied to the device either way.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from modalax._src.sources.array import ArraySource

__all__ = [
    "ALIGN",
    "FILL_FROM",
    "aligned_empty",
    "host_array_data",
    "host_take",
    "row_take",
    "take_mode",
    "uses_row_take",
]

#: Alignment (bytes) at which XLA's CPU client uses a host buffer in place.
ALIGN = 64

#: Bytes a row from which ``row_take`` gathers in ``fill`` mode (``clip`` below).
FILL_FROM = 16 * 1024


def take_mode(row: Any) -> str:
    """``jnp.take``'s mode ``row_take`` uses for an array whose rows are like ``row``."""
    return "fill" if int(np.prod(row.shape)) * row.dtype.itemsize >= FILL_FROM else "clip"


def row_take(data: Any, indices: jax.Array) -> Any:
    """Rows ``indices`` of every array in ``data``: ``ArraySource``'s gather, in the mode that suits the row."""
    return jax.tree.map(lambda v: jnp.take(v, indices, axis=0, mode=take_mode(v[0])), data)


def uses_row_take(source: Any, gather: Any, pipeline: Any) -> bool:
    """Whether the loader's step gathers with ``row_take`` instead of ``gather`` (the source's own)."""
    own = isinstance(source, ArraySource) and gather is ArraySource._take
    return own and pipeline is None and jax.default_backend() == "cpu"


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
    """An uninitialised array whose data starts at a multiple of ``ALIGN`` bytes."""
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(nbytes + ALIGN, np.uint8)
    start = -raw.ctypes.data % ALIGN
    return raw[start : start + nbytes].view(dtype).reshape(shape)


def host_array_data(source: Any) -> Any:
    """The numpy arrays of a host ``ArraySource`` whose ``get_records`` is ArraySource's own; else None."""
    if not isinstance(source, ArraySource) or source.on_device:
        return None
    if type(source).get_records is not ArraySource.get_records:
        return None
    return source.data


def host_take(data: Any, indices: np.ndarray) -> Any:
    """``data``'s rows ``indices`` (in range): numeric leaves into aligned buffers, others by indexing."""

    def take(v: np.ndarray) -> np.ndarray:
        if v.dtype.kind not in "biufc":
            return v[indices]
        out = aligned_empty((len(indices), *v.shape[1:]), v.dtype)
        # mode="clip": with out= numpy buffers the default "raise" mode (a second copy)
        return np.take(v, indices, axis=0, out=out, mode="clip")

    return jax.tree.map(take, data)
