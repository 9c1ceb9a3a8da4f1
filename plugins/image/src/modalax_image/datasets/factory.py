"""``create_image_dataset``: build any registered image dataset type through the registry."""

from __future__ import annotations

from typing import Any

from flax import nnx

import modalax
from modalax_image.config import ImageModalityConfig

__all__ = ["create_image_dataset"]


def create_image_dataset(
    dataset_type: str = "synthetic",
    config: ImageModalityConfig | None = None,
    *,
    rngs: nnx.Rngs | int | None = None,
    **kwargs: Any,
) -> Any:
    """Create an image dataset of a registered type (seed 01).

    Built-in types are ``synthetic``, ``mnist_like`` and ``folder``; types registered by
    other plugins (``DatasetRecord("image", ...)``) or at run time work the same.  An
    unknown type raises ``ConfigError`` (a ``ValueError``) listing the registered ones.
    """
    factory = modalax.get_dataset_factory("image", dataset_type)
    return factory(config=config, rngs=rngs, **kwargs)
