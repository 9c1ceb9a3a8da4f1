"""Protocols and abstract bases of modalities, adapters, processors and evaluation suites.

This module imports no jax: annotations are strings.
"""

from __future__ import annotations

import reprlib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import jax
    from flax import nnx

    from modalax._src.model import GenerativeModel


@runtime_checkable
class Modality(Protocol):
    """A data modality: a name, extensions and model adapters."""

    name: str

    def get_extensions(self, config: Any, *, rngs: nnx.Rngs) -> dict[str, Any]:
        """Modality-specific model extensions, by name."""
        ...

    def get_adapter(self, model_cls: type[GenerativeModel]) -> ModelAdapter:
        """An adapter that builds ``model_cls`` for this modality."""
        ...


@runtime_checkable
class ModelAdapter(Protocol):
    """Builds a model with modality-specific shapes, output range and loss."""

    def create(self, config: Any, *, rngs: nnx.Rngs, **kwargs: Any) -> GenerativeModel:
        """Create and initialise a model."""
        ...


class BaseProcessor(ABC):
    """Preprocessing of one modality: ``preprocess`` -> model -> ``postprocess``."""

    @abstractmethod
    def process(self, data: jax.Array, **kwargs: Any) -> jax.Array:
        """Full processing of raw data into model input."""

    def preprocess(self, data: jax.Array, **kwargs: Any) -> jax.Array:
        """Before the model; defaults to ``process``."""
        return self.process(data, **kwargs)

    def postprocess(self, data: jax.Array, **kwargs: Any) -> jax.Array:
        """After the model (for example back to the data range); identity by default."""
        return data


class BaseEvaluationSuite(ABC):
    """Quality metrics of a modality, vectorised over the batch."""

    @abstractmethod
    def evaluate_batch(self, generated: Any, reference: Any | None = None, **kwargs: Any) -> dict[str, float]:
        """Metrics of one batch of generated (and optionally reference) data."""

    def compute_quality_metrics(self, generated: Any, reference: Any | None = None, **kwargs: Any) -> dict[str, float]:
        """Seed name; defaults to ``evaluate_batch``."""
        return self.evaluate_batch(generated, reference, **kwargs)


class BaseModelAdapter(ABC):
    """The adapter contract every modality keeps, so generic code can build a model for any modality::

        adapter = modalax.get_adapter(modality)(model_cls, modality_config)
        model = adapter.create(rngs=nnx.Rngs(0))            # or create(model_config, rngs=...)

    ``model_cls`` is the user's nnx model class; ``config`` the modality's config (None: the
    ``config_class`` default). ``create(config=None, *, rngs, **kwargs)`` builds and returns a
    ``GenerativeModel``: the plugin passes the modality's shapes to ``model_cls`` and wraps its
    outputs (range, loss). ``model_cls`` must be a class and ``config`` an instance of
    ``config_class``: anything else is a ``ConfigError`` naming the argument.
    """

    #: The modality config class this adapter takes (None: any).
    config_class: type | None = None

    def __init__(self, model_cls: type, config: Any = None) -> None:
        from flax import nnx

        from modalax._src.errors import ConfigError

        name = type(self).__name__
        if not isinstance(model_cls, type) or not issubclass(model_cls, nnx.Module):
            got = model_cls.__name__ if isinstance(model_cls, type) else reprlib.repr(model_cls)
            raise ConfigError(f"{name}.model_cls: got {got}, expected an nnx model class (a flax.nnx.Module subclass)")
        cls = self.config_class
        if config is None and cls is not None:
            config = cls()
        elif cls is not None and not isinstance(config, cls):
            raise ConfigError(f"{name}.config: got {type(config).__name__}, expected an instance of {cls.__name__}")
        self.model_cls: Any = model_cls
        self.config = config

    @abstractmethod
    def create(self, config: Any = None, *, rngs: nnx.Rngs, **kwargs: Any) -> GenerativeModel:
        """Build and initialise the model (``config`` is the model's own config, passed first when given)."""
