"""The public registry API: look up, list and register modalities, datasets, kernels, ...

Discovery lives in ``modalax._src.discovery``, the registries in ``modalax._src.record_store``; this
module holds the process-wide registry and the functions users call.  Every lookup by name
raises ``UnknownNameError`` (a ``ConfigError`` and a ``KeyError``) with the closest match.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable
from typing import Any

from modalax._src.discovery import ENTRY_POINT_GROUP, PluginInfo
from modalax._src.errors import PluginError
from modalax._src.record_store import KIND_SINGULAR, RUNTIME, Registry, display, record_key
from modalax._src.records import CommandRecord, DatasetRecord, KernelRecord, ModalityRecord, resolve

__all__ = [
    "ENTRY_POINT_GROUP",
    "RUNTIME",
    "PluginInfo",
    "Registry",
    "create_dataset",
    "current",
    "get_adapter",
    "get_dataset_factory",
    "get_kernel",
    "get_kernel_record",
    "get_modality",
    "get_modality_record",
    "get_operator",
    "get_operator_config",
    "list_adapters",
    "list_commands",
    "list_datasets",
    "list_kernels",
    "list_modalities",
    "list_operators",
    "list_plugins",
    "owner_of",
    "record_key",
    "register_dataset",
    "register_kernel",
    "register",
    "register_modality",
    "set_current",
]

_REGISTRY = Registry()


def current() -> Registry:
    """The process-wide registry (replaced by ``modalax.testing.isolated_registry``)."""
    return _REGISTRY


def set_current(registry: Registry) -> Registry:
    """Install ``registry`` as the process-wide one; returns the previous."""
    global _REGISTRY
    previous, _REGISTRY = _REGISTRY, registry
    return previous


# ----------------------------------------------------------------- public API
def register(record: Any, *, override: bool = False) -> None:
    """Register any record at run time (``ModalityRecord``, ``DatasetRecord``, ``KernelRecord``,
    ``OperatorRecord``, ``AdapterRecord``, ``PreviewerRecord``, ``CommandRecord``), as a
    plugin's hook would; a name already taken is a ``PluginError`` unless ``override``."""
    current().add(record, override=override)


def register_modality(
    name: str, modality_class: type, *, config_class: type | None = None, description: str = "", override: bool = False
) -> None:
    """Register a modality class at run time (notebooks and tests)."""
    current().add(ModalityRecord(name, modality_class, description, config_class), override=override)


def get_modality(name: str) -> type:
    """The modality class registered under ``name``.

    Raises ``UnknownNameError`` (a ``ConfigError`` and a ``KeyError``) listing the available
    names and the closest match when ``name`` is unknown.
    """
    record, _ = current().get("modalities", (name,), label="modality")
    return resolve(record.modality_class)


def get_modality_record(name: str) -> ModalityRecord:
    """The full record of modality ``name`` (class, config class, previewer)."""
    return current().get("modalities", (name,), label="modality")[0]


def list_modalities() -> list[str]:
    """Sorted names of the registered modalities."""
    return [k[0] for k in current().keys("modalities")]


def list_plugins() -> list[PluginInfo]:
    """Every discovered entry point with its distribution, status and registrations."""
    reg = current()
    reg.ensure_discovered()
    return [reg.plugins[k] for k in sorted(reg.plugins)]


def get_kernel(name: str) -> Callable[..., Any]:
    """The jitted kernel ``name`` (for example ``"audio.mel_spectrogram"``), jitted once."""
    return current().jitted_kernel(name)


def get_kernel_record(name: str) -> KernelRecord:
    """The registration record of kernel ``name``."""
    return current().get("kernels", (name,), label="kernel")[0]


def list_kernels(prefix: str | None = None) -> list[str]:
    """Sorted qualified kernel names, optionally those starting with ``prefix``."""
    names = [k[0] for k in current().keys("kernels")]
    return [n for n in names if prefix is None or n.startswith(prefix)]


def register_kernel(
    name: str,
    fn: Callable[..., Any],
    static_argnames: Iterable[str] = (),
    *,
    description: str = "",
    override: bool = False,
) -> None:
    """Register a kernel at run time."""
    current().add(KernelRecord(name, fn, tuple(static_argnames), description), override=override)


def list_datasets(modality: str | None = None) -> list[str]:
    """Registered dataset types as ``modality/type`` (or bare types for one modality)."""
    keys = current().keys("datasets")
    if modality is None:
        return [display(k) for k in keys]
    return [k[1] for k in keys if k[0] == modality]


def get_dataset_factory(modality: str, dataset_type: str) -> Callable[..., Any]:
    """The factory of dataset type ``dataset_type`` of ``modality``."""
    record, _ = current().get(
        "datasets",
        (modality, dataset_type),
        label=f"{modality} dataset type",
        choices=list_datasets(modality),
    )
    return resolve(record.factory)


def register_dataset(
    modality: str, dataset_type: str, factory: Callable[..., Any], *, description: str = "", override: bool = False
) -> None:
    """Register a dataset type at run time."""
    current().add(DatasetRecord(modality, dataset_type, factory, description), override=override)


def create_dataset(modality: str, dataset_type: str, **kwargs: Any) -> Any:
    """Build a dataset through the registry: ``factory(**kwargs)``."""
    return get_dataset_factory(modality, dataset_type)(**kwargs)


def list_adapters(modality: str | None = None) -> list[str]:
    """Registered adapters as ``modality/model_family``."""
    return [display(k) for k in current().keys("adapters") if modality is None or k[0] == modality]


def get_adapter(modality: str, model_family: str = "default") -> Any:
    """The adapter class registered for ``(modality, model_family)``."""
    record, _ = current().get(
        "adapters",
        (modality, model_family),
        label=f"{modality} adapter",
        choices=[k[1] for k in current().keys("adapters") if k[0] == modality],
    )
    return resolve(record.adapter)


def list_operators(modality: str | None = None) -> list[str]:
    """Registered operators as ``modality/name``."""
    return [display(k) for k in current().keys("operators") if modality is None or k[0] == modality]


def get_operator(modality: str, name: str) -> type:
    """The operator class registered as ``(modality, name)``."""
    record, _ = current().get(
        "operators",
        (modality, name),
        label=f"{modality} operator",
        choices=[k[1] for k in current().keys("operators") if k[0] == modality],
    )
    return resolve(record.operator_class)


def get_operator_config(modality: str, name: str) -> type:
    """The config class of operator ``(modality, name)``: the record's, else the class's ``config`` annotation."""
    record, _ = current().get(
        "operators",
        (modality, name),
        label=f"{modality} operator",
        choices=[k[1] for k in current().keys("operators") if k[0] == modality],
    )
    if record.config_class is not None:
        return resolve(record.config_class)
    cls = resolve(record.operator_class)
    try:
        found = typing.get_type_hints(cls).get("config")
    except Exception:  # unresolvable forward references
        found = None
    if not isinstance(found, type):
        raise PluginError(
            f"operator '{modality}/{name}': no config class; register OperatorRecord(..., config_class=...) "
            f"or annotate {cls.__name__}.config with it"
        )
    return found


def list_commands() -> list[CommandRecord]:
    """CLI sub-commands contributed by plugins."""
    return [record for record, _ in current().records("commands")]


def owner_of(kind: str, key: tuple[str, ...]) -> str:
    """The distribution that registered ``key`` of ``kind``."""
    return current().get(kind, key, label=KIND_SINGULAR.get(kind, kind))[1]
