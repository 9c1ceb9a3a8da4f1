"""``ImageEvaluationSuite``: MSE, PSNR and SSIM, vectorised over the batch.

SSIM follows Wang et al. (2004) as ``skimage.metrics.structural_similarity`` computes it with
``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``: an 11-tap Gaussian
(truncate 3.5) with reflected borders, K1 = 0.01, K2 = 0.03, the mean over the image minus a
5-pixel border, averaged over channels.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from modalax.plugin import BaseEvaluationSuite, ConfigError, DataError, unknown_name_message
from modalax_image.config import ImageModalityConfig

__all__ = ["METRICS", "ImageEvaluationSuite", "mse", "psnr", "ssim"]

METRICS = ("mse", "psnr", "ssim")
_TRUNCATE = 3.5


def _gaussian_taps(sigma: float) -> np.ndarray:
    radius = int(_TRUNCATE * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return (w / w.sum()).astype(np.float32)


def _filter(x: jax.Array, taps: np.ndarray) -> jax.Array:
    """Separable Gaussian over axes 1 and 2 of ``(N, H, W, C)``, scipy's 'reflect' border."""
    r = len(taps) // 2
    for axis in (1, 2):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (r, r)
        xp = jnp.pad(x, pad, mode="symmetric")
        n = x.shape[axis]
        x = sum(jax.lax.slice_in_dim(xp, k, k + n, axis=axis) * taps[k] for k in range(len(taps)))
    return x


def _pair(generated: Any, reference: Any) -> tuple[jax.Array, jax.Array]:
    a, b = jnp.asarray(generated, jnp.float32), jnp.asarray(reference, jnp.float32)
    if a.shape != b.shape:
        raise DataError(f"image metrics: generated shape {tuple(a.shape)} differs from reference {tuple(b.shape)}")
    if a.ndim == 3:
        a, b = a[None], b[None]
    if a.ndim != 4:
        raise DataError(f"image metrics: got shape {tuple(a.shape)}, expected (N, H, W, C) or (H, W, C)")
    return a, b


@jax.jit
def mse(generated: Any, reference: Any) -> jax.Array:
    """Per-image mean squared error, shape ``(N,)``."""
    a, b = _pair(generated, reference)
    return jnp.mean((a - b) ** 2, axis=(1, 2, 3))


@functools.partial(jax.jit, static_argnames=("data_range",))
def psnr(generated: Any, reference: Any, data_range: float = 1.0) -> jax.Array:
    """Per-image peak signal-to-noise ratio in dB, ``10 log10(range^2 / mse)`` (inf if equal)."""
    err = mse(generated, reference)
    return 10.0 * jnp.log10(data_range**2 / err)


@functools.partial(jax.jit, static_argnames=("data_range", "sigma", "k1", "k2"))
def ssim(
    generated: Any, reference: Any, data_range: float = 1.0, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03
) -> jax.Array:
    """Per-image structural similarity (Gaussian window), shape ``(N,)``."""
    a, b = _pair(generated, reference)
    taps = _gaussian_taps(sigma)
    win = len(taps)
    if min(a.shape[1], a.shape[2]) < win:
        raise DataError(
            f"ssim: images of {a.shape[1]}x{a.shape[2]} are smaller than the {win}x{win} window; "
            f"expected at least {win} pixels a side"
        )
    ux, uy = _filter(a, taps), _filter(b, taps)
    uxx, uyy, uxy = _filter(a * a, taps), _filter(b * b, taps), _filter(a * b, taps)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    pad = (win - 1) // 2
    return jnp.mean(s[:, pad:-pad, pad:-pad, :], axis=(1, 2, 3))


class ImageEvaluationSuite(BaseEvaluationSuite):
    """Batch image metrics against a reference: any of ``mse``, ``psnr``, ``ssim``.

    ``data_range`` is the width of the value range (1 for [0, 1], 2 for [-1, 1]); with a
    ``config`` it is taken from ``config.value_range``.
    """

    def __init__(
        self,
        metrics: Sequence[str] = METRICS,
        *,
        data_range: float | None = None,
        config: ImageModalityConfig | None = None,
    ) -> None:
        if isinstance(metrics, str):
            metrics = (metrics,)
        for name in metrics:
            if name not in METRICS:
                raise ConfigError("ImageEvaluationSuite.metrics: " + unknown_name_message("metric", name, METRICS))
        if data_range is None:
            data_range = 1.0 if config is None else config.value_range[1] - config.value_range[0]
        if isinstance(data_range, bool) or not isinstance(data_range, int | float) or not data_range > 0:
            raise ConfigError(f"ImageEvaluationSuite.data_range: got {data_range!r}, expected a positive number")
        self.metrics = tuple(metrics)
        self.data_range = float(data_range)

    def per_image(self, generated: Any, reference: Any) -> dict[str, jax.Array]:
        """Each metric per image, arrays of shape ``(N,)``."""
        fns = {
            "mse": lambda: mse(generated, reference),
            "psnr": lambda: psnr(generated, reference, data_range=self.data_range),
            "ssim": lambda: ssim(generated, reference, data_range=self.data_range),
        }
        return {name: fns[name]() for name in self.metrics}

    def evaluate_batch(self, generated: Any, reference: Any | None = None, **kwargs: Any) -> dict[str, float]:
        """Batch means of the metrics (PSNR averages per-image values)."""
        if reference is None:
            raise DataError(
                f"ImageEvaluationSuite.evaluate_batch: metrics {list(self.metrics)} compare against a "
                "reference; got reference=None"
            )
        values = self.per_image(generated, reference)
        if any(v.shape[0] == 0 for v in values.values()):
            # the mean of no images is NaN: a silent non-number in a training log
            raise DataError(
                f"ImageEvaluationSuite.evaluate_batch: got an empty batch of shape {tuple(np.shape(generated))}, "
                "expected at least one image (per_image returns empty arrays for it)"
            )
        return {name: float(jnp.mean(v)) for name, v in values.items()}
