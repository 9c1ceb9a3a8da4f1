"""Synthetic image patterns: per-record parameters from a key, then a pure render.

Split in two so the parameters of any record can be read back (tests render them
independently; users can take circle centres as targets).  Everything here works on one
record; the dataset vmaps it over a batch of keys.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

Params = dict[str, jax.Array]

PATTERNS = ("random", "gradient", "checkerboard", "circles")


def _grid(h: int, w: int) -> tuple[jax.Array, jax.Array]:
    """Pixel-centre coordinates ``(y, x)`` in pixels."""
    ys = jnp.arange(h, dtype=jnp.float32)[:, None] + 0.5
    xs = jnp.arange(w, dtype=jnp.float32)[None, :] + 0.5
    return jnp.broadcast_to(ys, (h, w)), jnp.broadcast_to(xs, (h, w))


def tile_range(h: int, w: int) -> tuple[int, int]:
    """Inclusive range of checkerboard tile sizes for an ``h x w`` image."""
    high = max(1, min(h, w) // 2)
    return min(2, high), high


def _draws(key: jax.Array, sizes: dict[str, tuple[int, ...]]) -> dict[str, jax.Array]:
    """One ``uniform`` draw split into named [0, 1) arrays.

    A single draw per record keeps the compiled program small (every ``jax.random`` call
    adds its own threefry loop, which dominates compile time here).
    """
    total = sum(math.prod(s) for s in sizes.values())
    flat = jax.random.uniform(key, (total,), jnp.float32)
    out, start = {}, 0
    for name, size in sizes.items():
        n = math.prod(size)
        out[name] = flat[start : start + n].reshape(size)
        start += n
    return out


def _between(u: jax.Array, low: float, high: float) -> jax.Array:
    return low + u * (high - low)


def params(pattern: str, key: jax.Array, shape: tuple[int, int, int], num_circles: int = 1) -> Params:
    """The random parameters of one record of ``pattern``."""
    h, w, c = shape
    if pattern == "random":
        return {"key": key}
    if pattern == "gradient":
        u = _draws(key, {"angle": (), "start": (c,), "end": (c,)})
        return {"angle": _between(u["angle"], 0.0, 2 * math.pi), "start": u["start"], "end": u["end"]}
    if pattern == "checkerboard":
        u = _draws(key, {"tile": (), "color_a": (c,), "color_b": (c,)})
        lo, hi = tile_range(h, w)
        tile = jnp.minimum(lo + jnp.floor(u["tile"] * (hi - lo + 1)).astype(jnp.int32), hi)
        return {"tile": tile, "color_a": u["color_a"], "color_b": u["color_b"]}
    if pattern == "circles":
        k = num_circles
        u = _draws(key, {"center_y": (k,), "center_x": (k,), "radius": (k,), "color": (k, c)})
        side = float(min(h, w))
        return {
            "center_y": _between(u["center_y"], 0.0, float(h)),
            "center_x": _between(u["center_x"], 0.0, float(w)),
            "radius": _between(u["radius"], max(0.1 * side, 0.75), 0.35 * side + 0.75),
            "color": _between(u["color"], 0.25, 1.0),
        }
    raise ValueError(pattern)  # validated by the dataset before tracing


def render(pattern: str, p: Params, shape: tuple[int, int, int]) -> jax.Array:
    """The ``(H, W, C)`` float32 image in [0, 1] of parameters ``p``."""
    h, w, _c = shape
    if pattern == "random":
        return jax.random.uniform(p["key"], shape, jnp.float32)
    ys, xs = _grid(h, w)
    if pattern == "gradient":
        proj = xs * jnp.cos(p["angle"]) + ys * jnp.sin(p["angle"])
        lo, hi = jnp.min(proj), jnp.max(proj)
        t = jnp.where(hi > lo, (proj - lo) / jnp.maximum(hi - lo, 1e-12), 0.0)
        return p["start"] + (p["end"] - p["start"]) * t[..., None]
    if pattern == "checkerboard":
        tile = p["tile"]
        row = jnp.arange(h)[:, None] // tile
        col = jnp.arange(w)[None, :] // tile
        odd = ((row + col) % 2 == 1)[..., None]
        return jnp.where(odd, p["color_b"], p["color_a"])
    if pattern == "circles":
        img = jnp.zeros(shape, jnp.float32)
        for i in range(p["radius"].shape[0]):  # static and small: later circles paint over earlier
            inside = (ys - p["center_y"][i]) ** 2 + (xs - p["center_x"][i]) ** 2 <= p["radius"][i] ** 2
            img = jnp.where(inside[..., None], p["color"][i], img)
        return img
    raise ValueError(pattern)
