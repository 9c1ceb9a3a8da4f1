"""``create_image_dataset``: build any registered image dataset type through the registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flax import nnx

import modalax
from modalax.plugin import ConfigError
from modalax_image.config import ImageModalityConfig

__all__ = ["create_image_dataset"]


def create_image_dataset(
    dataset_type: str | ImageModalityConfig = "synthetic",
    config: ImageModalityConfig | str | None = None,
    *,
    seed: int | None = None,
    rngs: nnx.Rngs | int | None = None,
    **kwargs: Any,
) -> Any:
    """Create an image dataset of a registered type.

    Built-in types are ``synthetic``, ``mnist_like``, ``folder`` and ``packed``; types
    registered by other plugins (``DatasetRecord("image", ...)``) or at run time work the same.
    The factory is called as every dataset factory is, ``factory(config, seed=..., rngs=...,
    **kwargs)`` (``root=``, ``split=``, ``dataset_size=`` and the type's own options in
    ``kwargs``).  The API reference's order ``(dataset_type, config)`` and every dataset's ``(config,
    ...)`` order both work: a config is never a string.  An unknown type raises
    ``ConfigError`` (a ``ValueError``) listing the registered ones.
    """
    if isinstance(dataset_type, ImageModalityConfig | Mapping):
        if config is not None and not isinstance(config, str):
            raise ConfigError(
                f"create_image_dataset: got a config first and {type(config).__name__} second; "
                "expected (dataset_type, config) or (config, dataset_type)"
            )
        dataset_type, config = config or "synthetic", dataset_type
    if not isinstance(dataset_type, str):
        raise ConfigError(f"create_image_dataset.dataset_type: got {dataset_type!r}, expected a registered type name")
    if isinstance(config, str):
        raise ConfigError(
            f"create_image_dataset.config: got {config!r}, expected an ImageModalityConfig (pass root= for a folder)"
        )
    factory = modalax.get_dataset_factory("image", dataset_type)
    if seed is not None:  # only when given: a factory registered by another plugin may predate seed=
        kwargs["seed"] = seed
    return factory(config, rngs=rngs, **kwargs)
