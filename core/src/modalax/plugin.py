"""The plugin surface: everything a modality plugin may import from modalax core, versioned.

A plugin (the four official ones included) imports ``modalax``, this module and
``modalax.testing``, nothing else of core: every other module is private (``modalax._src``)
and may change in any release. What is listed here changes only with :data:`API_VERSION`:

* a new name or a new optional argument raises the minor version (``1.0`` -> ``1.1``);
* removing or changing anything raises the major version (``1.x`` -> ``2.0``).

A plugin declares the version it was built against in its hook module::

    MODALAX_PLUGIN_API = "1.0"

Discovery loads it when the major versions match and the plugin's minor version is at most
core's; otherwise ``modalax plugins`` lists it as *incompatible* with the reason, the others
load, and strict mode (``MODALAX_STRICT_PLUGINS=1``, ``modalax plugins --strict``) fails.

Importing this module is light (no jax): hook modules import it. The jax-heavy bases (datasets,
operators, sources, packed shards, reductions, figures) are imported on first access.
docs/plugin-authoring.md documents each name; docs/api.md lists them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modalax._src.aliases import PyTree
from modalax._src.config import (
    BaseModalityConfig,
    ConfigMixin,
    ModalityConfiguration,
    check_choice,
    check_positive,
    check_probability,
    check_type,
    coerce_enum,
    plain_scalar,
)
from modalax._src.errors import (
    ConfigError,
    DataError,
    MissingFieldError,
    ModalaxError,
    PluginError,
    RecordIndexError,
    UnknownNameError,
    closest_match,
    unknown_name_message,
)
from modalax._src.hookspecs import Register, hookimpl
from modalax._src.lazy import lazy_exports
from modalax._src.ownership import RESERVED_NAMES
from modalax._src.pairing import ModalityPairing, host_rng, pairing_of
from modalax._src.protocols import BaseEvaluationSuite, BaseModelAdapter, BaseProcessor, Modality, ModelAdapter
from modalax._src.random import check_seed, dataset_key, record_keys, resolve_rngs, seed_from, seed_key, split_id
from modalax._src.records import (
    AdapterRecord,
    CommandRecord,
    DatasetRecord,
    KernelRecord,
    ModalityRecord,
    OperatorRecord,
    resolve,
)
from modalax._src.registry import (
    get_adapter,
    get_kernel,
    get_modality,
    get_modality_record,
    get_operator,
    get_operator_config,
    list_modalities,
)
from modalax._src.remote import RemotePath, as_path, is_url, open_path
from modalax._src.version import API_VERSION, API_VERSION_INFO, DECLARATION

_LAZY = {
    # models and datasets
    "GenerativeModel": "modalax._src.model",
    "BaseDataset": "modalax._src.dataset",
    "SyntheticDataset": "modalax._src.dataset",
    # sources
    "Batch": "modalax._src.sources.base",
    "DataSource": "modalax._src.sources",
    "IndexedSource": "modalax._src.sources",
    "ArraySource": "modalax._src.sources",
    "FileSource": "modalax._src.sources",
    "FileDecoding": "modalax._src.files",
    "FolderDataset": "modalax._src.files",
    "VALID_KEY": "modalax._src.sources",
    "FolderScan": "modalax._src.sources",
    "Fingerprint": "modalax._src.sources",
    "fingerprint_of": "modalax._src.sources",
    "list_files": "modalax._src.sources",
    "normalize_extensions": "modalax._src.sources",
    "scan_class_folders": "modalax._src.sources",
    "split_folder": "modalax._src.sources",
    # operators
    "OperatorModule": "modalax._src.operators",
    "OperatorConfig": "modalax._src.operators",
    "ModalityOperator": "modalax._src.operators",
    "ModalityOperatorConfig": "modalax._src.operators",
    "MapOperator": "modalax._src.operators",
    "MapConfig": "modalax._src.operators",
    "Compose": "modalax._src.operators",
    "get_path": "modalax._src.operators",
    "set_path": "modalax._src.operators",
    "split_host_fields": "modalax._src.operators.fields",
    "is_array_field": "modalax._src.operators.fields",
    # packed shards
    "PackedDataset": "modalax._src.packed",
    "PackedIndex": "modalax._src.packed",
    # batch-independent reductions
    "pairwise_sum": "modalax._src.reductions",
    "pairwise_mean": "modalax._src.reductions",
    # figures and files for previews (matplotlib optional)
    **{
        name: "modalax._src.viz"
        for name in (
            "colormap",
            "have_matplotlib",
            "image_grid",
            "plot_aligned_samples",
            "plot_curves",
            "plot_image_grid",
            "plot_retrieval",
            "plot_spectrogram",
            "save_line_plot",
            "save_png",
            "save_spectrogram_png",
            "save_text",
            "save_wav",
            "to_uint8",
            "token_preview",
        )
    },
}

if TYPE_CHECKING:  # the lazy names, for type checkers (importing them here would import jax)
    pass

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = [
    # version
    "API_VERSION",
    "API_VERSION_INFO",
    "DECLARATION",
    "RESERVED_NAMES",
    # hooks and records
    "AdapterRecord",
    "CommandRecord",
    "DatasetRecord",
    "KernelRecord",
    "ModalityRecord",
    "OperatorRecord",
    "Register",
    "hookimpl",
    "resolve",
    # registry lookups a plugin makes
    "get_adapter",
    "get_kernel",
    "get_modality",
    "get_modality_record",
    "get_operator",
    "get_operator_config",
    "list_modalities",
    # errors
    "ConfigError",
    "DataError",
    "MissingFieldError",
    "ModalaxError",
    "PluginError",
    "RecordIndexError",
    "UnknownNameError",
    "closest_match",
    "unknown_name_message",
    # configs
    "BaseModalityConfig",
    "ConfigMixin",
    "ModalityConfiguration",
    "check_choice",
    "check_positive",
    "check_probability",
    "check_type",
    "coerce_enum",
    "plain_scalar",
    # protocols and bases
    "BaseEvaluationSuite",
    "BaseModelAdapter",
    "BaseProcessor",
    "Modality",
    "ModalityPairing",
    "ModelAdapter",
    "PyTree",
    "pairing_of",
    "host_rng",
    # randomness
    "check_seed",
    "dataset_key",
    "record_keys",
    "resolve_rngs",
    "seed_from",
    "seed_key",
    "split_id",
    # paths: local or any fsspec URL, as every path-taking API of modalax takes them
    "RemotePath",
    "as_path",
    "is_url",
    "open_path",
    # lazy package exports for the plugin's own __init__
    "lazy_exports",
    *_LAZY,
]
