"""Type aliases of the data API (the API reference's names)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from modalax._src.config import BaseModalityConfig

if TYPE_CHECKING:
    import jax

ModalityData: TypeAlias = "jax.Array"
ModalityBatch: TypeAlias = "dict[str, jax.Array]"
ModalityConfig: TypeAlias = BaseModalityConfig
EvaluationMetrics: TypeAlias = dict[str, float]
PyTree: TypeAlias = Any
