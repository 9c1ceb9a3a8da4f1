"""modalax: JAX-native, multi-modal data loading for generative models.

``import modalax`` is light: it imports neither jax nor any plugin.  Plugins are discovered
on the first registry query; jax-heavy names below are imported on first access.
"""

from __future__ import annotations

from modalax.aliases import EvaluationMetrics, ModalityBatch, ModalityConfig, ModalityData
from modalax.config import BaseModalityConfig, ConfigMixin, ModalityConfiguration
from modalax.errors import (
    ConfigError,
    DataError,
    MissingFieldError,
    ModalaxError,
    PluginError,
    RecordIndexError,
    StaleIteratorError,
    UnknownNameError,
)
from modalax.hookspecs import hookimpl
from modalax.lazy import lazy_exports
from modalax.protocols import BaseEvaluationSuite, BaseProcessor, Modality, ModelAdapter
from modalax.records import (
    AdapterRecord,
    CommandRecord,
    DatasetRecord,
    KernelRecord,
    ModalityRecord,
    OperatorRecord,
)
from modalax.registry import (
    PluginInfo,
    create_dataset,
    get_adapter,
    get_dataset_factory,
    get_kernel,
    get_modality,
    get_operator,
    list_adapters,
    list_datasets,
    list_kernels,
    list_modalities,
    list_operators,
    list_plugins,
    register,
    register_dataset,
    register_kernel,
    register_modality,
)
from modalax.validation import create_modality_factory, validate_modality_interface

__version__ = "0.1.0"

_LAZY = {
    "BaseDataset": "modalax.dataset",
    "SyntheticDataset": "modalax.dataset",
    "GenerativeModel": "modalax.model",
    "DataLoader": "modalax.loader",
    "LoaderIterator": "modalax.loader",
    "create_data_loader": "modalax.loader",
    "ArraySource": "modalax.sources",
    "DataSource": "modalax.sources",
    "FileSource": "modalax.sources",
    "HFSource": "modalax.sources",
    "SequenceSource": "modalax.sources",
    "as_source": "modalax.sources",
    "Subset": "modalax.sources",
    "Concat": "modalax.sources",
    "random_split": "modalax.sources",
    "pack": "modalax.packed",
    "PackedDataset": "modalax.packed",
    "IndexedSource": "modalax.sources",
    "Compose": "modalax.operators",
    "ElementConfig": "modalax.operators",
    "ElementOperator": "modalax.operators",
    "MapConfig": "modalax.operators",
    "MapOperator": "modalax.operators",
    "ModalityOperator": "modalax.operators",
    "ModalityOperatorConfig": "modalax.operators",
    "OperatorConfig": "modalax.operators",
    "OperatorModule": "modalax.operators",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "AdapterRecord",
    "BaseEvaluationSuite",
    "BaseModalityConfig",
    "BaseProcessor",
    "CommandRecord",
    "ConfigError",
    "ConfigMixin",
    "DataError",
    "DatasetRecord",
    "EvaluationMetrics",
    "KernelRecord",
    "MissingFieldError",
    "ModalaxError",
    "Modality",
    "ModalityBatch",
    "ModalityConfig",
    "ModalityConfiguration",
    "ModalityData",
    "ModalityRecord",
    "ModelAdapter",
    "OperatorRecord",
    "PluginError",
    "RecordIndexError",
    "StaleIteratorError",
    "UnknownNameError",
    "PluginInfo",
    "create_dataset",
    "create_modality_factory",
    "get_adapter",
    "get_dataset_factory",
    "get_kernel",
    "get_modality",
    "get_operator",
    "hookimpl",
    "list_adapters",
    "list_datasets",
    "list_kernels",
    "list_modalities",
    "list_operators",
    "list_plugins",
    "register_dataset",
    "register_kernel",
    "register",
    "register_modality",
    "validate_modality_interface",
    *_LAZY,
]
