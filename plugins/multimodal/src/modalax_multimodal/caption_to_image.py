"""``CaptionToImageGenerator``: caption tokens -> image, with a shape head and a colour head.

The caption is read in order (an embedding per token plus one per position, concatenated), so
"top left" and "left" differ; an MLP maps it to two heads: the glyph's ink mask ``(H, W)`` and
its colour ``(C,)``, multiplied.  Splitting shape from colour is what lets a small model learn
every (glyph, size, position) mask and every colour from a minute of CPU training instead of
every combination of them.  It knows nothing of how the data is rendered: both heads are
learnt from pixels by mean squared error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax.plugin import ConfigError, DataError, GenerativeModel
from modalax_multimodal.encoders import modality_inputs
from modalax_multimodal.training import adam_init, adam_update

__all__ = ["CaptionToImageGenerator", "per_image_correlation", "train_caption_to_image"]


class CaptionToImageGenerator(GenerativeModel):
    """Tokens ``(B, L)`` (or one ``(L,)``) -> images ``(B, H, W, C)`` in [0, 1]: ink mask times colour."""

    def __init__(
        self,
        vocab_size: int,
        max_length: int,
        image_shape: Sequence[int],
        embed_dim: int = 16,
        hidden_dim: int = 256,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        self.image_shape = tuple(int(s) for s in image_shape)
        if len(self.image_shape) != 3:
            raise ConfigError(f"CaptionToImageGenerator.image_shape: got {self.image_shape}, expected (H, W, C)")
        self.max_length = int(max_length)
        self.token_embed = nnx.Embed(vocab_size, embed_dim, rngs=rngs)
        self.position_embed = nnx.Embed(max_length, embed_dim, rngs=rngs)
        self.hidden = nnx.Linear(max_length * embed_dim, hidden_dim, rngs=rngs)
        h, w, c = self.image_shape
        self.mask_head = nnx.Linear(hidden_dim, h * w, rngs=rngs)
        self.colour_head = nnx.Linear(hidden_dim, c, rngs=rngs)

    def __call__(self, text_tokens: Any) -> jax.Array:
        tokens = jnp.asarray(text_tokens)
        if not jnp.issubdtype(tokens.dtype, jnp.integer):
            raise DataError(f"CaptionToImageGenerator: got tokens of dtype {tokens.dtype}, expected integers")
        single = tokens.ndim == 1
        tokens = tokens[None] if single else tokens
        if tokens.ndim != 2 or tokens.shape[1] != self.max_length:
            raise DataError(
                f"CaptionToImageGenerator: got tokens of shape {tuple(tokens.shape)}, "
                f"expected (L,) or (B, L) with L = {self.max_length}"
            )
        x = self.token_embed(tokens) + self.position_embed(jnp.arange(self.max_length))
        hidden = jax.nn.gelu(self.hidden(x.reshape(x.shape[0], -1)))
        h, w, _ = self.image_shape
        mask = jax.nn.sigmoid(self.mask_head(hidden)).reshape(-1, h, w, 1)
        colour = jax.nn.sigmoid(self.colour_head(hidden))[:, None, None, :]
        images = mask * colour
        return images[0] if single else images

    def generate(self, n_samples: int = 1, *, rngs: nnx.Rngs | None = None, text_tokens: Any = None, **_: Any) -> Any:
        """Images for ``text_tokens`` (``n_samples`` is implied by them)."""
        if text_tokens is None:
            raise DataError("CaptionToImageGenerator.generate: expected text_tokens=")
        return self(text_tokens)

    def loss_fn(self, batch: Any, model_outputs: Any, **kwargs: Any) -> jax.Array:
        """Mean squared error against the batch's images."""
        target = modality_inputs(batch, ["image"])["image"].reshape(model_outputs.shape)
        return jnp.mean((model_outputs - target) ** 2)


@jax.jit
def per_image_correlation(generated: jax.Array, target: jax.Array) -> jax.Array:
    """Pearson correlation of each generated image with its target over all pixels and channels, ``(B,)``."""
    a = generated.reshape(generated.shape[0], -1).astype(jnp.float32)
    b = target.reshape(target.shape[0], -1).astype(jnp.float32)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return jnp.sum(a * b, axis=1) / jnp.sqrt(jnp.sum(a * a, axis=1) * jnp.sum(b * b, axis=1) + 1e-12)


def train_caption_to_image(
    dataset: Any,
    steps: int,
    batch_size: int = 64,
    *,
    seed: int = 0,
    learning_rate: float = 3e-3,
    hidden_dim: int = 256,
    on_step: Callable[[int, jax.Array], None] | None = None,
) -> tuple[CaptionToImageGenerator, list[float]]:
    """Train a ``CaptionToImageGenerator`` on ``dataset``'s ``text`` -> ``image`` through ``modalax.DataLoader``.

    Returns the model and the loss of every step. ``on_step(step, loss)`` is called after every
    step (for a progress bar); ``loss`` is a jax scalar, and reading it waits for that step.
    """
    from modalax import DataLoader

    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise ConfigError(f"train_caption_to_image.steps: got {steps!r}, expected a positive int")
    text, image = dataset.config.pairing("text"), dataset.config.pairing("image")
    model = CaptionToImageGenerator(
        text.options()["vocab_size"],
        text.sample_shape[0],
        image.sample_shape,
        hidden_dim=hidden_dim,
        rngs=nnx.Rngs(seed),
    )
    # flax types split's result as variadic; two filters give exactly three parts
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)  # type: ignore[misc]
    opt = adam_init(params)

    @jax.jit
    def step(params: Any, opt: Any, text: Any, image: Any) -> tuple[Any, Any, Any]:
        def loss_of(p: Any) -> Any:
            m = nnx.merge(graphdef, p, rest)
            return m.loss_fn({"image": image}, m(text))

        loss, grads = jax.value_and_grad(loss_of)(params)
        params, opt = adam_update(params, grads, opt, learning_rate)
        return params, opt, loss

    losses = []
    loader = DataLoader(dataset, batch_size, seed=seed, drop_last=True, num_epochs=None, prefetch=0)
    for i, batch in enumerate(loader):
        if i >= steps:
            break
        params, opt, loss = step(params, opt, batch["text"], batch["image"])
        losses.append(loss)
        if on_step is not None:
            on_step(i, loss)
    nnx.update(model, params)
    return model, [float(x) for x in np.asarray(jax.device_get(losses))]
