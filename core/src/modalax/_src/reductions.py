"""Sums and means whose bits do not depend on the batch: a fixed pairwise tree of additions.

An augmentation must give record ``i`` the same value whatever batch it lands in (the loader
promises that a record's output depends only on the seed and its index).  ``jnp.mean`` does not
keep that promise on every backend: XLA:CPU fuses a small reduction into its consumer for some
batch sizes and emits it as a separate, differently vectorised kernel for others, so the last
bit of a per-image mean changes between batches of 8 and 16 (12x12 images, 1,000-sample clips).

Here the reduced axes are flattened to one of length ``L`` and halved repeatedly: the first
half plus the second half (an odd element is set aside; the set-aside ones, summed last first,
join the first partial sum before the last pair).
Each step is an elementwise addition, which IEEE 754 defines exactly, so the order is fixed by
``L`` alone: the same bits for any batch size, on any backend that does not reassociate adds.
XLA fuses four halvings into each loop, so the cost is one read of the input and
``log2(L) / 4`` small kernels; on a 2-core CPU it ran 2-6x faster than ``jnp.mean`` over
``(H, W)`` of 64x64x3 images (whose three-channel inner axis vectorises poorly).  A pairwise
sum's rounding error grows like ``log2(L)``, not ``L``.  Compiling costs a tenth to half a
second more than one ``reduce`` (odd lengths cost the most).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from modalax._src.errors import ConfigError

if TYPE_CHECKING:
    import jax

__all__ = ["pairwise_mean", "pairwise_sum"]


def _axes(ndim: int, axis: int | tuple[int, ...]) -> tuple[int, ...]:
    """Normalised, sorted axes; they must be adjacent so that one reshape flattens them."""
    raw = (axis,) if isinstance(axis, int) else tuple(axis)
    if not raw or any(not -ndim <= a < ndim for a in raw):
        raise ConfigError(f"pairwise reduction: got axis {axis!r}, expected axes of an array with {ndim} dims")
    axes = tuple(sorted({a % ndim for a in raw}))
    if len(axes) != len(raw) or axes != tuple(range(axes[0], axes[0] + len(axes))):
        raise ConfigError(f"pairwise reduction: got axis {axis!r}, expected distinct adjacent axes")
    return axes


def _halve_to_one(s: jax.Array) -> jax.Array:
    """Sum ``s`` (``(outer, L, inner)``) over its middle axis by repeated halving."""
    import jax.numpy as jnp

    rest = []
    while s.shape[1] > 2:
        half = s.shape[1] // 2
        if s.shape[1] % 2:
            rest.append(s[:, 2 * half :])
        s = s[:, :half] + s[:, half : 2 * half]
    if rest:  # the odd elements set aside, last first, join the first partial sum
        extra = rest[-1]
        for leftover in reversed(rest[:-1]):
            extra = extra + leftover
        s = jnp.concatenate([s[:, :1] + extra, s[:, 1:]], axis=1)
    # The last pair is a reduce of two, not an add: XLA fuses adds into every consumer (each
    # output pixel of contrast would redo the last halvings), but not a reduce whose output the
    # consumer broadcasts, so the sum is computed once.  Two values have one order.
    return jnp.sum(s, axis=1, keepdims=True) if s.shape[1] == 2 else s


def pairwise_sum(x: jax.Array, axis: int | tuple[int, ...], keepdims: bool = False) -> jax.Array:
    """Sum over adjacent ``axis`` in a fixed pairwise order (batch-invariant bits; see module doc)."""
    import jax.numpy as jnp

    x = jnp.asarray(x)
    axes = _axes(x.ndim, axis)
    first, last = axes[0], axes[-1] + 1
    outer, inner = x.shape[:first], x.shape[last:]
    length = math.prod(x.shape[first:last])
    kept = outer + tuple(1 for _ in axes) + inner if keepdims else outer + inner
    if length == 0:
        return jnp.zeros(kept, x.dtype)
    s = _halve_to_one(x.reshape(math.prod(outer), length, math.prod(inner)))
    return s.reshape(kept)


def pairwise_mean(x: jax.Array, axis: int | tuple[int, ...], keepdims: bool = False) -> jax.Array:
    """Mean over adjacent ``axis``: :func:`pairwise_sum` divided by the count (NaN for no values)."""
    import jax.numpy as jnp

    x = jnp.asarray(x)
    count = math.prod(x.shape[a] for a in _axes(x.ndim, axis))
    total = pairwise_sum(x, axis, keepdims)
    return total / count if count else jnp.full(total.shape, jnp.nan, total.dtype)
