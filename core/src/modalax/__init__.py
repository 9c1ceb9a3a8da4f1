"""modalax: JAX-native, multi-modal data loading for generative models.

``import modalax`` is light: it imports neither jax nor any plugin.  Plugins are discovered
on the first registry query; jax-heavy names below are imported on first access.

The public API is what ``__all__`` lists (docs/api.md gives each name's concept). Plugin
authors import from ``modalax.plugin`` (versioned) and ``modalax.testing``; everything under
``modalax._src`` is private.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modalax._src import compat
from modalax._src.aliases import EvaluationMetrics, ModalityBatch, ModalityConfig, ModalityData
from modalax._src.config import BaseModalityConfig, ModalityConfiguration
from modalax._src.errors import (
    ConfigError,
    DataError,
    MissingFieldError,
    ModalaxError,
    PluginError,
    RecordIndexError,
    StaleIteratorError,
    UnknownNameError,
)
from modalax._src.hookspecs import hookimpl
from modalax._src.lazy import lazy_exports
from modalax._src.protocols import BaseEvaluationSuite, BaseProcessor, Modality, ModelAdapter
from modalax._src.records import (
    AdapterRecord,
    CommandRecord,
    DatasetRecord,
    KernelRecord,
    ModalityRecord,
    OperatorRecord,
)
from modalax._src.registry import (
    PluginInfo,
    create_dataset,
    get_adapter,
    get_dataset_factory,
    get_kernel,
    get_modality,
    get_operator,
    get_operator_config,
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
from modalax._src.remote import RemotePath, as_path, is_url, open_path, set_remote_retries, set_storage_options
from modalax._src.validation import create_modality_factory, validate_modality_interface

__version__ = "0.2.0"

compat.install()

_LAZY = {
    "BaseDataset": "modalax._src.dataset",
    "SyntheticDataset": "modalax._src.dataset",
    "GenerativeModel": "modalax._src.model",
    "DataLoader": "modalax._src.loader",
    "LoaderIterator": "modalax._src.loader",
    "create_data_loader": "modalax._src.loader",
    "EpochOrder": "modalax._src.loader",
    "epoch_permutation": "modalax._src.loader",
    "WorkerPool": "modalax._src.loader.workers",
    "ArraySource": "modalax._src.sources",
    "DataSource": "modalax._src.sources",
    "FileSource": "modalax._src.sources",
    "HFSource": "modalax._src.sources",
    "IndexedSource": "modalax._src.sources",
    "as_source": "modalax._src.sources",
    "Subset": "modalax._src.sources",
    "Concat": "modalax._src.sources",
    "random_split": "modalax._src.sources",
    "Mixture": "modalax._src.sources.mixture",
    "scan_epoch": "modalax._src.loader.scan",
    "pack": "modalax._src.packed",
    "PackedDataset": "modalax._src.packed",
    "decode_record": "modalax._src.packed",
    "VerifyReport": "modalax._src.packed",
    "StreamingLoader": "modalax._src.streaming",
    "StreamSource": "modalax._src.streaming",
    "WebDatasetSource": "modalax._src.streaming",
    "HFStreamSource": "modalax._src.streaming",
    "IterableSource": "modalax._src.streaming",
    "UnknownLengthError": "modalax._src.streaming",
    "fingerprint_of": "modalax._src.sources",
    "verify_pack": "modalax._src.packed",
    "Compose": "modalax._src.operators",
    "ElementConfig": "modalax._src.operators",
    "ElementOperator": "modalax._src.operators",
    "MapConfig": "modalax._src.operators",
    "MapOperator": "modalax._src.operators",
    "ModalityOperator": "modalax._src.operators",
    "ModalityOperatorConfig": "modalax._src.operators",
    "OperatorConfig": "modalax._src.operators",
    "OperatorModule": "modalax._src.operators",
}

#: Names of 0.1 that duplicated a concept: (module, attribute, the name to use instead).
DEPRECATED: dict[str, tuple[str, str, str]] = {
    "ConfigMixin": ("modalax._src.config", "ConfigMixin", "modalax.plugin.ConfigMixin"),
    "SequenceSource": ("modalax._src.sources", "SequenceSource", "modalax.as_source"),
}


def _old_module(name: str) -> Any:
    if name in compat.OLD_MODULES:
        return compat.old_module(name)
    raise AttributeError(f"module 'modalax' has no attribute {name!r}")


if TYPE_CHECKING:  # the lazy names, for type checkers (importing them here would import jax)
    from modalax._src.dataset import (
        BaseDataset as BaseDataset,
    )
    from modalax._src.dataset import (
        SyntheticDataset as SyntheticDataset,
    )
    from modalax._src.loader import (
        DataLoader as DataLoader,
    )
    from modalax._src.loader import (
        EpochOrder as EpochOrder,
    )
    from modalax._src.loader import (
        LoaderIterator as LoaderIterator,
    )
    from modalax._src.loader import (
        create_data_loader as create_data_loader,
    )
    from modalax._src.loader import (
        epoch_permutation as epoch_permutation,
    )
    from modalax._src.loader.scan import (
        scan_epoch as scan_epoch,
    )
    from modalax._src.loader.workers import (
        WorkerPool as WorkerPool,
    )
    from modalax._src.model import (
        GenerativeModel as GenerativeModel,
    )
    from modalax._src.operators import (
        Compose as Compose,
    )
    from modalax._src.operators import (
        ElementConfig as ElementConfig,
    )
    from modalax._src.operators import (
        ElementOperator as ElementOperator,
    )
    from modalax._src.operators import (
        MapConfig as MapConfig,
    )
    from modalax._src.operators import (
        MapOperator as MapOperator,
    )
    from modalax._src.operators import (
        ModalityOperator as ModalityOperator,
    )
    from modalax._src.operators import (
        ModalityOperatorConfig as ModalityOperatorConfig,
    )
    from modalax._src.operators import (
        OperatorConfig as OperatorConfig,
    )
    from modalax._src.operators import (
        OperatorModule as OperatorModule,
    )
    from modalax._src.packed import (
        PackedDataset as PackedDataset,
    )
    from modalax._src.packed import (
        VerifyReport as VerifyReport,
    )
    from modalax._src.packed import (
        decode_record as decode_record,
    )
    from modalax._src.packed import (
        pack as pack,
    )
    from modalax._src.packed import (
        verify_pack as verify_pack,
    )
    from modalax._src.sources import (
        ArraySource as ArraySource,
    )
    from modalax._src.sources import (
        Concat as Concat,
    )
    from modalax._src.sources import (
        DataSource as DataSource,
    )
    from modalax._src.sources import (
        FileSource as FileSource,
    )
    from modalax._src.sources import (
        HFSource as HFSource,
    )
    from modalax._src.sources import (
        IndexedSource as IndexedSource,
    )
    from modalax._src.sources import (
        Subset as Subset,
    )
    from modalax._src.sources import (
        as_source as as_source,
    )
    from modalax._src.sources import (
        fingerprint_of as fingerprint_of,
    )
    from modalax._src.sources import (
        random_split as random_split,
    )
    from modalax._src.sources.mixture import (
        Mixture as Mixture,
    )
    from modalax._src.streaming import (
        HFStreamSource as HFStreamSource,
    )
    from modalax._src.streaming import (
        IterableSource as IterableSource,
    )
    from modalax._src.streaming import (
        StreamingLoader as StreamingLoader,
    )
    from modalax._src.streaming import (
        StreamSource as StreamSource,
    )
    from modalax._src.streaming import (
        UnknownLengthError as UnknownLengthError,
    )
    from modalax._src.streaming import (
        WebDatasetSource as WebDatasetSource,
    )

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, DEPRECATED, _old_module)


__all__ = [
    "AdapterRecord",
    "BaseEvaluationSuite",
    "BaseModalityConfig",
    "BaseProcessor",
    "CommandRecord",
    "ConfigError",
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
    "PluginInfo",
    "RecordIndexError",
    "RemotePath",
    "StaleIteratorError",
    "UnknownNameError",
    "as_path",
    "create_dataset",
    "create_modality_factory",
    "get_adapter",
    "get_dataset_factory",
    "get_kernel",
    "get_modality",
    "get_operator",
    "get_operator_config",
    "hookimpl",
    "is_url",
    "list_adapters",
    "list_datasets",
    "list_kernels",
    "list_modalities",
    "list_operators",
    "list_plugins",
    "open_path",
    "register",
    "register_dataset",
    "register_kernel",
    "register_modality",
    "set_remote_retries",
    "set_storage_options",
    "validate_modality_interface",
    *_LAZY,
]
