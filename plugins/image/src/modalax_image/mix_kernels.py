"""MixUp and CutMix kernels: records of one batch mixed with partners, and their labels.

MixUp (Zhang et al., 2018) mixes record ``i`` with record ``partner[i]`` of the same batch,
``lam * x_i + (1 - lam) * x_partner``, and the labels alike; CutMix (Yun et al., 2019) pastes
a box of the partner into the record and mixes the labels by the box's area. The kernels are
deterministic functions of the partners, weights and boxes; ``draw_partners`` and
``cutmix_boxes`` turn per-record random draws into them (``modalax_image.mix_ops`` draws).

Partners are a uniformly random permutation of the *valid* records only: each record draws
two 32-bit sort keys, the valid records are ordered by each (invalid ones last), and the
record at position ``p`` of the first order takes the record at position ``p`` of the second
as its partner. Invalid records (the padding of a last batch, files skipped as bad) are
partners of none and are left as they are (``lam = 1``). Cost: two sorts of ``N`` keys and
one gather of the batch; no ``(N, N)`` arrays.

Dtypes follow the image kernels: MixUp computes new values (float32 on the [0, 1] scale);
CutMix only moves pixels and keeps the dtype. Labels become float32: integer class labels
one-hot over ``num_classes`` first, an index outside ``[0, num_classes)`` a row of NaN (never
a silent zero row); float labels ``(N, K)`` (one-hot or soft) are mixed as they are.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from modalax.plugin import ConfigError, DataError
from modalax_image.kernels import check_images, to_unit

__all__ = ["cutmix", "cutmix_boxes", "draw_partners", "mix_labels", "mixup"]


def _partners(kernel: str, partners: Any, n: int) -> jax.Array:
    p = jnp.asarray(partners)
    if p.shape != (n,) or not jnp.issubdtype(p.dtype, jnp.integer):
        raise DataError(f"image.{kernel}.partners: got {p.dtype} of shape {tuple(p.shape)}, expected ({n},) ints")
    return p.astype(jnp.int32)


def _weights(kernel: str, lam: Any, n: int) -> jax.Array:
    w = jnp.asarray(lam, jnp.float32)
    if w.ndim == 0:
        w = jnp.broadcast_to(w, (n,))
    if w.shape != (n,):
        raise DataError(f"image.{kernel}.lam: got shape {tuple(w.shape)}, expected () or ({n},)")
    return w


def mixup(images: Any, partners: Any, lam: Any) -> jax.Array:
    """``lam[i] * x[i] + (1 - lam[i]) * x[partners[i]]`` (float32 on the [0, 1] scale)."""
    x = to_unit("mixup", check_images("mixup", images))
    n = x.shape[0]
    w = _weights("mixup", lam, n).reshape(n, 1, 1, 1)
    return w * x + (1.0 - w) * x[_partners("mixup", partners, n)]


def cutmix(images: Any, partners: Any, boxes: Any) -> jax.Array:
    """Paste ``x[partners[i]]`` into ``x[i]`` inside ``boxes[i]`` = (top, left, bottom, right), bottom/right
    exclusive; keeps the dtype (works for ``(N, H, W, K)`` masks too)."""
    x = check_images("cutmix", images)
    n, h, w, _ = x.shape
    b = jnp.asarray(boxes, jnp.int32)
    if b.shape != (n, 4):
        raise DataError(f"image.cutmix.boxes: got shape {tuple(b.shape)}, expected ({n}, 4) (top, left, bottom, right)")
    rows = jnp.arange(h, dtype=jnp.int32)[None, :, None]
    cols = jnp.arange(w, dtype=jnp.int32)[None, None, :]
    top, left, bottom, right = (b[:, i, None, None] for i in range(4))
    inside = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)
    return jnp.where(inside[..., None], x[_partners("cutmix", partners, n)], x)


def mix_labels(labels: Any, partners: Any, lam: Any, num_classes: int | None = None) -> jax.Array:
    """``lam[i] * y[i] + (1 - lam[i]) * y[partners[i]]`` with ``y`` one-hot (float32 ``(N, K)``).

    Integer labels ``(N,)`` are one-hot over ``num_classes`` (required; an index outside
    ``[0, num_classes)`` gives a row of NaN); float labels ``(N, K)`` are taken as they are
    (``num_classes``, when given, must be ``K``).
    """
    y = jnp.asarray(labels)
    n = y.shape[0] if y.ndim else 0
    if y.ndim == 1 and jnp.issubdtype(y.dtype, jnp.integer):
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ConfigError(
                f"image.mix_labels.num_classes: got {num_classes!r} for integer labels, expected the number of "
                "classes (a positive int) to one-hot them"
            )
        bad = (y < 0) | (y >= num_classes)
        y = jnp.where(bad[:, None], jnp.nan, jax.nn.one_hot(y, num_classes, dtype=jnp.float32))
    elif y.ndim == 2 and jnp.issubdtype(y.dtype, jnp.floating):
        if num_classes is not None and y.shape[1] != num_classes:
            raise DataError(
                f"image.mix_labels: got labels of shape {tuple(y.shape)}, expected ({n}, {num_classes}) "
                f"for num_classes={num_classes}"
            )
        y = y.astype(jnp.float32)
    else:
        raise DataError(
            f"image.mix_labels: got labels of dtype {y.dtype} and shape {tuple(y.shape)}, expected integer "
            "class indices (N,) or float one-hot/soft labels (N, K)"
        )
    w = _weights("mix_labels", lam, n)[:, None]
    return w * y + (1.0 - w) * y[_partners("mix_labels", partners, n)]


def draw_partners(valid: jax.Array, bits_a: jax.Array, bits_b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Partners (a uniform permutation of the valid records; invalid ones their own) and the
    first order (valid records in random order, then the invalid ones).

    ``bits_a``, ``bits_b``: two ``uint32`` sort keys per record, drawn from its key.
    """
    n = valid.shape[0]
    invalid = jnp.logical_not(valid).astype(jnp.int32)
    order_a = jnp.lexsort((bits_a, invalid))  # the last key sorts first: valid records, then by bits
    order_b = jnp.lexsort((bits_b, invalid))
    own = jnp.arange(n, dtype=jnp.int32)
    partners = own.at[order_a].set(order_b.astype(jnp.int32))
    return jnp.where(valid, partners, own), order_a


def cutmix_boxes(lam: jax.Array, centre: jax.Array, height: int, width: int) -> tuple[jax.Array, jax.Array]:
    """Boxes ``(N, 4)`` (top, left, bottom, right) and the weights their areas give.

    The box has ``floor(H * sqrt(1 - lam))`` rows and ``floor(W * sqrt(1 - lam))`` columns,
    so its area is ``(1 - lam) H W`` up to the rounding; it starts half its size before the
    centre pixel ``floor(u * H), floor(u * W)`` (``centre`` holds the two uniforms per record)
    and is clipped to the image. The weight of the record is ``1 - area / (H W)``.
    """
    cut = jnp.sqrt(jnp.clip(1.0 - lam, 0.0, 1.0))
    cut_h = jnp.floor(height * cut).astype(jnp.int32)
    cut_w = jnp.floor(width * cut).astype(jnp.int32)
    cy = jnp.minimum(jnp.floor(centre[:, 0] * height).astype(jnp.int32), height - 1)
    cx = jnp.minimum(jnp.floor(centre[:, 1] * width).astype(jnp.int32), width - 1)
    y0, x0 = cy - cut_h // 2, cx - cut_w // 2
    top, bottom = jnp.clip(y0, 0, height), jnp.clip(y0 + cut_h, 0, height)
    left, right = jnp.clip(x0, 0, width), jnp.clip(x0 + cut_w, 0, width)
    area = (bottom - top) * (right - left)
    weight = 1.0 - area.astype(jnp.float32) / jnp.float32(height * width)
    return jnp.stack([top, left, bottom, right], axis=-1), weight
