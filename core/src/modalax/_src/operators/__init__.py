"""Operators: ``ModalityOperator``, chains and user-function operators."""

from modalax._src.operators.base import OperatorModule
from modalax._src.operators.compose import (
    Compose,
    ElementConfig,
    ElementOperator,
    MapConfig,
    MapOperator,
    as_pipeline,
)
from modalax._src.operators.config import ModalityOperatorConfig, OperatorConfig
from modalax._src.operators.fields import get_path, set_path
from modalax._src.operators.modality import ModalityOperator

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
