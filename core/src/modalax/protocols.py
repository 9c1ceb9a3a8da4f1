"""Protocols and abstract bases of modalities, adapters, processors and evaluation suites.

This module imports no jax: annotations are strings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import jax
    from flax import nnx

    from modalax.model import GenerativeModel


@runtime_checkable
class Modality(Protocol):
    """A data modality (seed 01): a name, extensions and model adapters."""

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
