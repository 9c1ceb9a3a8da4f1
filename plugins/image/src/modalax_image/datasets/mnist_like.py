"""``MNISTLikeDataset``: digit-like glyphs 0-9 with random stroke, offset, scale and rotation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from modalax.plugin import ConfigError
from modalax_image.config import ImageModalityConfig, ImageRepresentation, plain_int
from modalax_image.datasets.base import GeneratedImageDataset, check_dataset_size
from modalax_image.datasets.glyphs import segment_table

__all__ = ["MNISTLikeDataset"]

# Variation at 28x28 (scaled with the image size): what keeps the glyphs legible.
STROKE_HALF_WIDTH = (0.9, 1.6)  # pixels
MAX_OFFSET = 2.0  # pixels
SCALE = (0.85, 1.1)
ASPECT = (0.85, 1.1)
MAX_ROTATION = 12.0  # degrees
BOX = 0.85  # fraction of the image the unit glyph box covers at scale 1


def render_glyph(segments: jax.Array, u: jax.Array, shape: tuple[int, int, int]) -> jax.Array:
    """One ``(H, W, C)`` image of a glyph given as ``(M, 4)`` segments in the unit box.

    ``u`` holds six uniforms in [0, 1): stroke half-width, x/y offset, scale, aspect, rotation.
    """
    h, w, _c = shape
    unit = min(h, w) / 28.0
    half = (STROKE_HALF_WIDTH[0] + u[0] * (STROKE_HALF_WIDTH[1] - STROKE_HALF_WIDTH[0])) * unit
    offset = (u[1:3] * 2.0 - 1.0) * MAX_OFFSET * unit
    scale = SCALE[0] + u[3] * (SCALE[1] - SCALE[0])
    aspect = ASPECT[0] + u[4] * (ASPECT[1] - ASPECT[0])
    theta = jnp.deg2rad((u[5] * 2.0 - 1.0) * MAX_ROTATION)
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    box_x, box_y = BOX * w * scale * aspect, BOX * h * scale

    def to_pixels(x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        u, v = (x - 0.5) * box_x, (y - 0.5) * box_y
        return cos * u - sin * v + w / 2 + offset[0], sin * u + cos * v + h / 2 + offset[1]

    ax, ay = to_pixels(segments[:, 0], segments[:, 1])
    bx, by = to_pixels(segments[:, 2], segments[:, 3])
    px = (jnp.arange(w, dtype=jnp.float32) + 0.5)[None, :, None]
    py = (jnp.arange(h, dtype=jnp.float32) + 0.5)[:, None, None]
    dx, dy = bx - ax, by - ay
    t = jnp.clip(((px - ax) * dx + (py - ay) * dy) / jnp.maximum(dx * dx + dy * dy, 1e-12), 0.0, 1.0)
    dist = jnp.sqrt((px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2)
    ink = jnp.clip(half - jnp.min(dist, axis=-1) + 0.5, 0.0, 1.0)
    return jnp.broadcast_to(ink[..., None], shape)


class MNISTLikeDataset(GeneratedImageDataset):
    """Digit-like glyphs with ``labels``: ``images`` float32 in [0, 1], ink = 1.

    Each record draws its class uniformly from ``range(num_classes)`` and renders that
    digit's strokes with a random stroke width, offset, scale, aspect and rotation; the
    default config is 28x28 grayscale.  Record ``i`` is a pure function of (seed, split, i).
    """

    def __init__(
        self,
        config: ImageModalityConfig | None = None,
        dataset_size: int = 1000,
        num_classes: int = 10,
        split: str = "train",
        *,
        seed: int | None = None,
        rngs: nnx.Rngs | int | None = None,
    ) -> None:
        owner = type(self).__name__
        num_classes = plain_int(num_classes)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or not 1 <= num_classes <= 10:
            raise ConfigError(f"{owner}.num_classes: got {num_classes!r}, expected an int in [1, 10] (digits 0-9)")
        dataset_size = check_dataset_size(owner, dataset_size)
        self.num_classes = num_classes
        super().__init__(config, dataset_size, split, seed=seed, rngs=rngs)

    @classmethod
    def default_config(cls) -> ImageModalityConfig:
        return ImageModalityConfig(representation=ImageRepresentation.GRAYSCALE, height=28)

    def generate_records(self, keys: jax.Array, indices: jax.Array) -> dict[str, jax.Array]:
        table = jnp.asarray(segment_table())
        shape = self.config.image_shape

        def one(key: jax.Array) -> tuple[jax.Array, jax.Array]:
            u = jax.random.uniform(key, (7,), jnp.float32)  # one draw: each jax.random call adds compile time
            label = jnp.minimum(jnp.floor(u[0] * self.num_classes).astype(jnp.int32), self.num_classes - 1)
            return render_glyph(table[label], u[1:], shape), label

        images, labels = jax.vmap(one)(keys)
        return {"images": images, "labels": labels}
