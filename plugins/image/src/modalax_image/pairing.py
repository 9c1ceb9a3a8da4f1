"""The image side of a multimodal pairing (``ImageModality.pairing(**options)``).

Rendering from a shared input ``u`` (``latent_dim``): each latent direction owns a random
colour field on a coarse ``8 x 8`` grid, bilinearly upsampled to the image and normalised so
that every pixel's pre-sigmoid value has standard deviation ``IMAGE_FIELD_STD`` for a unit
``u``; an image is ``sigmoid(u @ basis)``, one matrix product per batch.  The fields are the
"world": drawn once on the host (numpy, float64) from the key's bits, so they are the same
on every backend, and passed to ``render`` as arguments.

Fixed features: pixels average-pooled to at most ``IMAGE_POOL x IMAGE_POOL``.  Encoder: the
same pooling, then an MLP.  Quality: PSNR and SSIM of ``modalax_image.evaluation``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax.plugin import ConfigError, DataError, ModalityPairing, check_positive, host_rng

__all__ = [
    "IMAGE_FIELD_STD",
    "IMAGE_GRID",
    "IMAGE_POOL",
    "ImageEncoder",
    "ImagePairing",
    "ImageWorld",
    "image_features",
    "render_image",
    "render_image_reference",
]

#: Standard deviation of the pre-sigmoid colour field at every pixel.
IMAGE_FIELD_STD = 1.5
#: Side of the coarse colour grid that is upsampled to the image size.
IMAGE_GRID = 8
#: Images are average-pooled to at most this many rows and columns (features and encoder).
IMAGE_POOL = 8

_OWNER = "ImagePairing"


class ImageWorld(NamedTuple):
    """Fixed maps from ``u`` (``d``) to images ``(H, W, C)``."""

    basis: jax.Array  # (d, H, W, C) float32: the normalised full-resolution field of each direction
    low: jax.Array  # (d, gh, gw, C) coarse colour fields
    rows: jax.Array  # (H, gh) linear interpolation of rows
    cols: jax.Array  # (W, gw) linear interpolation of columns
    scale: jax.Array  # (H, W, C) 1 / per-pixel std of the upsampled field, times IMAGE_FIELD_STD


def _interp_matrix(size_in: int, size_out: int) -> np.ndarray:
    """``(size_out, size_in)`` linear interpolation with half-pixel centres, edges clamped."""
    pos = np.clip((np.arange(size_out) + 0.5) * size_in / size_out - 0.5, 0.0, size_in - 1.0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, size_in - 1)
    frac = pos - lo
    out = np.zeros((size_out, size_in))
    np.add.at(out, (np.arange(size_out), lo), 1.0 - frac)
    np.add.at(out, (np.arange(size_out), hi), frac)
    return out


def render_image(u: jax.Array, basis: jax.Array) -> jax.Array:
    """Images ``(B, H, W, C)`` in (0, 1): ``sigmoid(u @ basis)`` with ``basis`` ``(d, H, W, C)``."""
    d = basis.shape[0]
    field = jnp.matmul(u, basis.reshape(d, -1), precision=jax.lax.Precision.HIGHEST)
    return jax.nn.sigmoid(field).reshape(u.shape[0], *basis.shape[1:])


def render_image_reference(world: ImageWorld, u: np.ndarray) -> np.ndarray:
    """One image from ``u`` ``(d,)`` in float64 numpy, channel by channel (the per-sample reference)."""
    low = np.tensordot(np.asarray(u, np.float64), np.asarray(world.low, np.float64), axes=1)  # (gh, gw, C)
    rows, cols = np.asarray(world.rows, np.float64), np.asarray(world.cols, np.float64)
    field = np.stack([rows @ low[..., c] @ cols.T for c in range(low.shape[-1])], axis=-1)
    return 1.0 / (1.0 + np.exp(-field * np.asarray(world.scale, np.float64)))


@jax.jit
def image_features(images: jax.Array) -> jax.Array:
    """``(B, H, W, C)`` -> ``(B, gh*gw*C)``: pixels average-pooled to an ``IMAGE_POOL`` grid."""
    b, h, w, c = images.shape
    gh, gw = min(IMAGE_POOL, h), min(IMAGE_POOL, w)
    pooled = jax.image.resize(images.astype(jnp.float32), (b, gh, gw, c), method="linear", antialias=True)
    return pooled.reshape(b, -1)


class _MLP(nnx.Module):
    """``Linear -> gelu -> Linear``."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, *, rngs: nnx.Rngs) -> None:
        self.fc1 = nnx.Linear(in_dim, hidden_dim, rngs=rngs)
        self.fc2 = nnx.Linear(hidden_dim, out_dim, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.fc2(jax.nn.gelu(self.fc1(x)))


class ImageEncoder(nnx.Module):
    """Images ``(B, H, W[, C])`` -> ``(B, embed_dim)``: average-pool to ``pool x pool``, then an MLP."""

    def __init__(
        self,
        image_shape: Sequence[int],
        embed_dim: int,
        hidden_dim: int = 128,
        pool: int = IMAGE_POOL,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        if len(image_shape) not in (2, 3):
            raise ConfigError(f"ImageEncoder.image_shape: got {tuple(image_shape)}, expected (H, W) or (H, W, C)")
        h, w, c = (*tuple(image_shape), 1)[:3]
        self.image_shape = (int(h), int(w), int(c))
        self.grid = (min(pool, h), min(pool, w))
        self.mlp = _MLP(self.grid[0] * self.grid[1] * c, hidden_dim, embed_dim, rngs=rngs)

    def __call__(self, images: jax.Array) -> jax.Array:
        x = jnp.asarray(images, jnp.float32)
        if x.shape in (self.image_shape, self.image_shape[:2]) and (x.ndim == 3 or self.image_shape[2] == 1):
            return self(x[None])[0]  # one unbatched image
        if x.ndim == 3 and self.image_shape[2] == 1:
            x = x[..., None]
        if x.shape[1:] != self.image_shape:
            raise DataError(f"ImageEncoder: got images of shape {x.shape[1:]}, expected {self.image_shape}")
        pooled = jax.image.resize(x, (x.shape[0], *self.grid, x.shape[3]), method="linear", antialias=True)
        return self.mlp(pooled.reshape(x.shape[0], -1) * 2.0 - 1.0)


def _check_shape(shape: Any) -> tuple[int, int, int]:
    if (
        isinstance(shape, str)
        or not isinstance(shape, Sequence)
        or len(shape) != 3
        or any(isinstance(s, bool) or not isinstance(s, int | np.integer) or s <= 0 for s in shape)
    ):
        raise ConfigError(f"{_OWNER}.shape: got {shape!r}, expected (height, width, channels) positive ints")
    return (int(shape[0]), int(shape[1]), int(shape[2]))


class ImagePairing(ModalityPairing):
    """Images ``(H, W, C)`` float32 in (0, 1) rendered from a shared latent.

    Options: ``shape`` (``(height, width, channels)``, default ``(32, 32, 3)``) and
    ``data_range`` (pixel range of the PSNR/SSIM quality metrics, default 1.0).
    """

    aliases = ("images",)

    def __init__(self, shape: Sequence[int] = (32, 32, 3), data_range: float = 1.0, **options: Any) -> None:
        super().__init__(**options)
        self.shape = _check_shape(shape)
        self.data_range = float(check_positive(_OWNER, "data_range", data_range, integer=False))

    def options(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "data_range": self.data_range}

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.shape

    def make_world(self, key: jax.Array, latent_dim: int) -> ImageWorld:
        """Coarse random colour fields per latent direction, upsampled and normalised (host, float64)."""
        d = int(check_positive(_OWNER, "latent_dim", latent_dim))
        rng = host_rng(key)
        h, w, c = self.shape
        gh, gw = min(IMAGE_GRID, h), min(IMAGE_GRID, w)
        low = rng.standard_normal((d, gh, gw, c))
        rows, cols = _interp_matrix(gh, h), _interp_matrix(gw, w)
        up = np.einsum("hi,dijc,wj->dhwc", rows, low, cols)
        scale = IMAGE_FIELD_STD / np.sqrt(np.sum(up**2, axis=0))
        f32 = [jnp.asarray(x, jnp.float32) for x in (up * scale, low, rows, cols, scale)]
        return ImageWorld(*f32)

    def render(self, world: ImageWorld, u: jax.Array, keys: jax.Array) -> jax.Array:
        """``sigmoid(u @ basis)``: deterministic in ``u`` (``keys`` are not needed)."""
        return render_image(u, world.basis)

    def render_reference(self, world: ImageWorld, u: np.ndarray) -> np.ndarray:
        """One sample in float64 numpy (see ``render_image_reference``)."""
        return render_image_reference(world, u)

    def features(self, x: jax.Array) -> jax.Array:
        """Pooled pixels ``(B, gh*gw*C)``; ``(B, H, W)`` grayscale is read as one channel."""
        x = jnp.asarray(x)
        if x.ndim not in (3, 4):
            raise DataError(f"{_OWNER}.features: got shape {tuple(x.shape)}, expected (B, H, W, C) images")
        return image_features(x if x.ndim == 4 else x[..., None])

    def encoder(self, embed_dim: int, *, rngs: nnx.Rngs, hidden_dim: int | None = None) -> nnx.Module:
        """``ImageEncoder`` for this shape (``hidden_dim``: width of its MLP)."""
        width = 128 if hidden_dim is None else hidden_dim
        return ImageEncoder(self.shape, embed_dim, width, rngs=rngs)

    def quality(self, generated: jax.Array, reference: jax.Array, **inputs: Any) -> dict[str, float]:
        """``{"psnr": dB, "ssim": ...}``, batch means (``data_range`` as configured)."""
        from modalax_image.evaluation import ImageEvaluationSuite

        suite = ImageEvaluationSuite(("psnr", "ssim"), data_range=self.data_range)
        return suite.evaluate_batch(generated, reference)
