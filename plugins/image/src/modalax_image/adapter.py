"""The image model adapter: build a user's nnx model with the modality's shapes and wrap it.

The wrapped model's outputs are reshaped to ``output_shape`` and squashed into the
configured range (sigmoid for [0, 1], tanh for [-1, 1]), so the user's network may end in a
plain linear layer; its loss is the mean squared error on images.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from modalax.plugin import BaseModelAdapter, DataError, GenerativeModel, MissingFieldError
from modalax_image.config import ImageModalityConfig

__all__ = ["ImageAdapter", "ImageModel", "image_mse"]

SHAPE_KWARGS = ("image_shape", "input_shape", "output_shape")
_OUTPUT_KEYS = ("images", "reconstruction", "output", "x")


def _images_of(value: Any, what: str) -> jax.Array:
    if isinstance(value, Mapping):
        for key in _OUTPUT_KEYS:
            if key in value:
                return jnp.asarray(value[key])
        raise MissingFieldError(
            f"{what}: got a dict with keys {sorted(value)}, expected one of the fields {list(_OUTPUT_KEYS)}"
        )
    return jnp.asarray(value)


def image_mse(batch: Any, model_outputs: Any) -> jax.Array:
    """Mean squared error between the batch's images and the model's images (scalar)."""
    target = _images_of(batch, "loss_fn.batch")
    pred = _images_of(model_outputs, "loss_fn.model_outputs")
    if target.shape != pred.shape:
        raise DataError(
            f"loss_fn: model outputs have shape {tuple(pred.shape)}, expected the batch's {tuple(target.shape)}"
        )
    return jnp.mean((pred.astype(jnp.float32) - target.astype(jnp.float32)) ** 2)


class ImageModel(GenerativeModel):
    """A user model whose outputs are images of ``output_shape`` in ``value_range``."""

    def __init__(self, model: nnx.Module, config: ImageModalityConfig) -> None:
        self.model = model
        self.modality_config = config
        self.output_shape = config.image_shape

    def to_images(self, raw: Any) -> jax.Array:
        """Reshape raw outputs to ``(N, *output_shape)`` and squash them into the range."""
        raw = _images_of(raw, "model output")
        size = math.prod(self.output_shape)
        if raw.ndim < 1 or raw.size % size or (raw.ndim >= 2 and math.prod(raw.shape[1:]) != size):
            raise DataError(
                f"model output of shape {tuple(raw.shape)} cannot be images of shape "
                f"{self.output_shape}; expected (N, ...) with {size} values per sample"
            )
        x = raw.reshape(-1, *self.output_shape)
        return jax.nn.sigmoid(x) if self.modality_config.normalize else jnp.tanh(x)

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> jax.Array:
        """The model's images for input ``x``."""
        return self.to_images(self.model(x, *args, **kwargs))

    def generate(self, n_samples: int = 1, *, rngs: nnx.Rngs | None = None, **kwargs: Any) -> jax.Array:
        """``model.generate`` mapped to images; the wrapped model must implement it."""
        gen = getattr(self.model, "generate", None)
        if gen is None:
            raise NotImplementedError(f"{type(self.model).__name__} has no generate(); call the model instead")
        return self.to_images(gen(n_samples, rngs=rngs, **kwargs))

    def loss_fn(self, batch: Any, model_outputs: Any, **kwargs: Any) -> jax.Array:
        """Mean squared error on images."""
        return image_mse(batch, model_outputs)


class ImageAdapter(BaseModelAdapter):
    """``ImageAdapter(model_cls, config).create(model_config, rngs=...)`` (seed ``ModelAdapter``).

    The adapter contract of ``modalax.plugin.BaseModelAdapter``: ``config`` is an
    ``ImageModalityConfig`` (None: the defaults), and ``create(rngs=...)`` or
    ``create(model_config, rngs=...)`` builds the model.  ``model_cls`` is called as
    ``model_cls(model_config, rngs=rngs, **kwargs)`` plus whichever of ``image_shape``,
    ``input_shape``, ``output_shape`` its constructor accepts (all equal ``(H, W, C)``);
    ``model_config=None`` is not passed.
    """

    config_class = ImageModalityConfig
    config: ImageModalityConfig
    model_cls: type[Any]

    def __init__(self, model_cls: type[Any], config: ImageModalityConfig | None = None) -> None:
        super().__init__(model_cls, config)

    def shape_kwargs(self) -> dict[str, tuple[int, int, int]]:
        """The shape arguments ``model_cls`` accepts."""
        try:
            # the class's own __init__: nnx's metaclass __call__ hides it behind (*args, **kwargs)
            params = inspect.signature(self.model_cls.__init__).parameters
        except (TypeError, ValueError):
            return {}
        open_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
        return {k: self.config.image_shape for k in SHAPE_KWARGS if k in params or open_kwargs}

    def create(self, config: Any = None, *, rngs: nnx.Rngs, **kwargs: Any) -> ImageModel:
        """Build and wrap the model."""
        merged = {**self.shape_kwargs(), **kwargs}
        args = () if config is None else (config,)
        return ImageModel(self.model_cls(*args, rngs=rngs, **merged), self.config)
