"""Separable resampling with Pillow's conventions: half-pixel centres and edge renormalisation.

The tap tables are computed in numpy at trace time (sizes are static), so the jitted code is
a few static gathers (or, for integer upscale factors, static slices) and multiply-adds.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

# Above this many taps per output pixel a dense (out, in) weight matrix is cheaper than gathers.
_MAX_TAPS = 16


@functools.lru_cache(maxsize=256)
def bilinear_taps(
    in_size: int, out_size: int, antialias: bool, span: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pillow's bilinear coefficients: ``(indices, weights)`` of shape ``(out_size, taps)``.

    Output pixel ``o`` has centre ``lo + (o + 0.5) * (hi - lo) / out`` in input coordinates,
    where ``span = (lo, hi)`` is the input interval read (Pillow's resize ``box``; None: the
    whole axis); the triangle filter is widened by the scale when downscaling with
    ``antialias`` (as Pillow always does), and the weights of taps that fall outside the image
    are dropped and the rest renormalised.
    """
    lo_in, hi_in = (0.0, float(in_size)) if span is None else span
    scale = (hi_in - lo_in) / out_size
    filterscale = max(scale, 1.0) if antialias else 1.0
    support = filterscale
    centre = lo_in + (np.arange(out_size, dtype=np.float64) + 0.5) * scale
    lo = np.maximum(np.trunc(centre - support + 0.5), 0).astype(np.int64)
    hi = np.minimum(np.trunc(centre + support + 0.5), in_size).astype(np.int64)
    taps = int(np.max(hi - lo))
    k = np.arange(taps)
    idx = lo[:, None] + k[None, :]
    dist = (idx - centre[:, None] + 0.5) / filterscale
    w = np.clip(1.0 - np.abs(dist), 0.0, None)
    w = np.where(idx < hi[:, None], w, 0.0)
    w = w / np.sum(w, axis=1, keepdims=True)
    keep = np.any(w > 0, axis=0)
    idx, w = idx[:, keep], w[:, keep]
    return np.minimum(idx, in_size - 1).astype(np.int32), w.astype(np.float32)


@functools.lru_cache(maxsize=256)
def nearest_index(in_size: int, out_size: int, span: tuple[float, float] | None = None) -> np.ndarray:
    """``floor((o + 0.5) * in / out)`` in exact integer arithmetic; with ``span = (lo, hi)``,
    ``floor(lo + (o + 0.5) * (hi - lo) / out)`` (Pillow's nearest resize of a box)."""
    o = np.arange(out_size, dtype=np.int64)
    if span is None:
        return np.minimum(((2 * o + 1) * in_size) // (2 * out_size), in_size - 1).astype(np.int32)
    lo, hi = span
    idx = np.floor(lo + (o + 0.5) * ((hi - lo) / out_size)).astype(np.int64)
    return np.clip(idx, 0, in_size - 1).astype(np.int32)


def _shape(x: jax.Array, axis: int, n: int) -> tuple[int, ...]:
    return tuple(n if a == axis else 1 for a in range(x.ndim))


def _phase_taps(factor: int) -> list[list[tuple[int, float]]]:
    """Per output phase ``p`` of an integer upscale: ``[(input offset, weight), ...]``.

    Output pixel ``factor * i + p`` has its centre at ``i + (p + 0.5) / factor - 0.5`` input
    pixels, so it blends pixel ``i`` with its left (or right) neighbour with fixed weights.
    """
    taps = []
    for p in range(factor):
        f = (p + 0.5) / factor - 0.5
        taps.append([(0, 1.0 - f), (1, f)] if f >= 0 else [(-1, -f), (0, 1.0 + f)])
    return [[(d, w) for d, w in phase if w != 0.0] for phase in taps]


def _shift(x: jax.Array, axis: int, d: int) -> jax.Array:
    """``x`` moved by ``d`` in {-1, 0, 1} along ``axis`` with the edge repeated (clamping)."""
    if d == 0:
        return x
    n = x.shape[axis]
    edge = jax.lax.slice_in_dim(x, 0, 1, axis=axis) if d < 0 else jax.lax.slice_in_dim(x, n - 1, n, axis=axis)
    body = jax.lax.slice_in_dim(x, 0, n - 1, axis=axis) if d < 0 else jax.lax.slice_in_dim(x, 1, n, axis=axis)
    return jnp.concatenate([edge, body] if d < 0 else [body, edge], axis=axis)


def upscale_integer(x: jax.Array, axis: int, factor: int) -> jax.Array:
    """Bilinear upscale along ``axis`` by an integer factor, equal to the tap form.

    Each output phase is a weighted sum of the input and a clamped shift of it; one stack and
    reshape interleave the phases: static slices only, no gathers.  (Doing both axes in one
    step was measured slower on CPU: the 2-D interleave defeats XLA's loop vectorisation.)
    """
    phases = []
    for taps in _phase_taps(factor):
        terms = [_shift(x, axis, d) * np.float32(w) for d, w in taps]
        phases.append(functools.reduce(jnp.add, terms))
    shape = list(x.shape)
    shape[axis] *= factor
    return jnp.stack(phases, axis=axis + 1).reshape(shape)


def resize_axis(
    x: jax.Array, axis: int, out_size: int, method: str, antialias: bool, span: tuple[float, float] | None = None
) -> jax.Array:
    """Resample ``x`` along ``axis`` to ``out_size``, reading the input interval ``span`` (None: all)."""
    in_size = x.shape[axis]
    if span is not None and span == (0.0, float(in_size)):
        span = None
    if in_size == out_size and span is None:
        return x
    if method == "nearest":
        return jnp.take(x, nearest_index(in_size, out_size, span), axis=axis, mode="clip")  # in range: no fill check
    if out_size % in_size == 0 and span is None:
        return upscale_integer(x, axis, out_size // in_size)
    idx, w = bilinear_taps(in_size, out_size, antialias, span)
    if idx.shape[1] > _MAX_TAPS:
        dense = np.zeros((out_size, in_size), np.float32)
        np.add.at(dense, (np.repeat(np.arange(out_size), idx.shape[1]), idx.reshape(-1)), w.reshape(-1))
        moved = jnp.moveaxis(x, axis, -1)
        return jnp.moveaxis(jnp.matmul(moved, jnp.asarray(dense.T), precision=jax.lax.Precision.HIGHEST), -1, axis)
    out = None
    for k in range(idx.shape[1]):
        term = jnp.take(x, idx[:, k], axis=axis, mode="clip") * w[:, k].reshape(_shape(x, axis, out_size))
        out = term if out is None else out + term
    assert out is not None  # every output pixel has at least one tap
    return out


def bilinear_sample(images: jax.Array, ys: jax.Array, xs: jax.Array, fill: float) -> jax.Array:
    """Pillow's bilinear transform sampling of ``(N, H, W, C)`` at centre coords ``(N, h, w)``.

    ``ys, xs`` are input coordinates of output pixel centres (Pillow's ``xin, yin``).
    Points outside ``[0, W) x [0, H)`` get ``fill``; others interpolate with edge clamping.
    """
    n, h, w, c = images.shape
    inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    x = xs - 0.5
    y = ys - 0.5
    x0 = jnp.floor(x)
    y0 = jnp.floor(y)
    dx = (x - x0)[..., None]
    dy = (y - y0)[..., None]
    x0 = x0.astype(jnp.int32)
    y0 = y0.astype(jnp.int32)
    flat = images.reshape(n, h * w, c)

    def at(yi: jax.Array, xi: jax.Array) -> jax.Array:
        lin = jnp.clip(yi, 0, h - 1) * w + jnp.clip(xi, 0, w - 1)
        return jnp.take_along_axis(flat, lin.reshape(n, -1, 1), axis=1, mode="promise_in_bounds").reshape(*lin.shape, c)

    top = at(y0, x0) * (1 - dx) + at(y0, x0 + 1) * dx
    bottom = at(y0 + 1, x0) * (1 - dx) + at(y0 + 1, x0 + 1) * dx
    out = top * (1 - dy) + bottom * dy
    return jnp.where(inside[..., None], out, jnp.asarray(fill, out.dtype))


def nearest_sample(images: jax.Array, ys: jax.Array, xs: jax.Array, fill: float) -> jax.Array:
    """Nearest-neighbour counterpart of ``bilinear_sample`` (keeps the dtype)."""
    n, h, w, c = images.shape
    inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    xi = jnp.clip(jnp.floor(xs).astype(jnp.int32), 0, w - 1)
    yi = jnp.clip(jnp.floor(ys).astype(jnp.int32), 0, h - 1)
    lin = (yi * w + xi).reshape(n, -1, 1)
    out = jnp.take_along_axis(images.reshape(n, h * w, c), lin, axis=1, mode="promise_in_bounds").reshape(*xs.shape, c)
    return jnp.where(inside[..., None], out, jnp.asarray(fill, out.dtype))


def rotation_coords(angles_deg: jax.Array, height: int, width: int) -> tuple[jax.Array, jax.Array]:
    """Input coordinates ``(ys, xs)`` of each output pixel centre for Pillow's ``rotate``.

    Pillow rotates counter-clockwise about ``(W/2, H/2)`` by inverse-mapping output pixel
    centres through ``[[cos t, sin t], [-sin t, cos t]]`` with ``t = -radians(angle)``.
    """
    t = -jnp.deg2rad(jnp.asarray(angles_deg, jnp.float32))
    cos, sin = jnp.cos(t)[:, None, None], jnp.sin(t)[:, None, None]
    cx, cy = width / 2.0, height / 2.0
    yy, xx = np.meshgrid(np.arange(height) + 0.5 - cy, np.arange(width) + 0.5 - cx, indexing="ij")
    xs = cos * xx + sin * yy + cx
    ys = -sin * xx + cos * yy + cy
    return ys, xs


__all__ = [
    "bilinear_sample",
    "bilinear_taps",
    "nearest_index",
    "nearest_sample",
    "resize_axis",
    "rotation_coords",
]
