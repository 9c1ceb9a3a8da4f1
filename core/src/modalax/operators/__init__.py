"""Operators: ``ModalityOperator`` (seed 03), chains and user-function operators."""

from modalax.operators.base import ModalityOperator, OperatorModule, get_path, set_path
from modalax.operators.compose import (
    Compose,
    ElementConfig,
    ElementOperator,
    MapConfig,
    MapOperator,
    as_pipeline,
)
from modalax.operators.config import ModalityOperatorConfig, OperatorConfig

__all__ = [
    "Compose",
    "ElementConfig",
    "ElementOperator",
    "MapConfig",
    "MapOperator",
    "ModalityOperator",
    "ModalityOperatorConfig",
    "OperatorConfig",
    "OperatorModule",
    "as_pipeline",
    "get_path",
    "set_path",
]
