"""Operators: ``ModalityOperator`` (seed 03), chains and user-function operators."""

from modalax.operators.base import ModalityOperator, OperatorModule
from modalax.operators.compose import (
    Compose,
    ElementConfig,
    ElementOperator,
    MapConfig,
    MapOperator,
    as_pipeline,
)
from modalax.operators.config import ModalityOperatorConfig, OperatorConfig
from modalax.operators.fields import get_path, set_path

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
