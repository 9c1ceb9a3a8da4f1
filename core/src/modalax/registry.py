"""Plugin discovery and the registries of modalities, datasets, adapters, kernels, operators.

Discovery is lazy: the first registry query walks the ``modalax`` entry-point group with
``importlib.metadata`` (not pluggy's setuptools loader, which stops at the first broken
plugin).  A plugin that fails to import or whose hook raises is recorded with its error and a
warning; the others still load.  ``MODALAX_STRICT_PLUGINS=1`` turns failures into exceptions.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from modalax import hookspecs
from modalax.errors import ConfigError, PluginError, unknown_name_message
from modalax.records import (
    AdapterRecord,
    CommandRecord,
    DatasetRecord,
    KernelRecord,
    ModalityRecord,
    OperatorRecord,
    resolve,
)

ENTRY_POINT_GROUP = "modalax"
RUNTIME = "<runtime>"

_RECORD_KIND: dict[type, str] = {
    ModalityRecord: "modalities",
    DatasetRecord: "datasets",
    AdapterRecord: "adapters",
    KernelRecord: "kernels",
    OperatorRecord: "operators",
    CommandRecord: "commands",
}
_HOOK_KIND = {
    "register_modalities": ModalityRecord,
    "register_datasets": DatasetRecord,
    "register_adapters": AdapterRecord,
    "register_kernels": KernelRecord,
    "register_operators": OperatorRecord,
    "register_commands": CommandRecord,
}


@dataclass
class PluginInfo:
    """What ``list_plugins`` reports for one entry point."""

    id: str
    distribution: str
    version: str
    status: str  # "loaded" | "failed" | "disabled"
    registered: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the exception becomes its message)."""
        return {
            "id": self.id,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "registered": {k: list(v) for k, v in self.registered.items()},
            "error": self.error,
        }


def record_key(record: Any) -> tuple[str, ...]:
    """The registry key of a record: unique per kind."""
    if isinstance(record, ModalityRecord | KernelRecord | CommandRecord):
        return (record.name,)
    if isinstance(record, DatasetRecord | OperatorRecord):
        return (record.modality, record.name)
    if isinstance(record, AdapterRecord):
        return (record.modality, record.model_family)
    raise ConfigError(
        f"register: got {type(record).__name__}, expected one of " + ", ".join(t.__name__ for t in _RECORD_KIND)
    )


def _display(key: tuple[str, ...]) -> str:
    return "/".join(key)


def _env_ids(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _strict() -> bool:
    return os.environ.get("MODALAX_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _warn_at_caller(message: str) -> None:
    """Warn at the first frame outside modalax, so the warning points at the user's query."""
    level, frame = 2, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR + os.sep):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, RuntimeWarning, stacklevel=level)


class Registry:
    """One set of registries plus the plugin manager that filled them."""

    def __init__(self, *, discover: bool = True, paths: list[str] | None = None) -> None:
        self._lock = threading.RLock()
        self._discover = discover
        self._paths = paths
        self._discovered = False
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        # kind -> key -> (record, owner distribution)
        self._entries: dict[str, dict[tuple[str, ...], tuple[Any, str]]] = {k: {} for k in _RECORD_KIND.values()}
        # kind -> key -> distributions that claimed it (only when two or more did)
        self._conflicts: dict[str, dict[tuple[str, ...], list[str]]] = {k: {} for k in _RECORD_KIND.values()}
        self._jitted: dict[str, Callable[..., Any]] = {}

    # ---------------------------------------------------------------- discovery
    def ensure_discovered(self) -> None:
        """Run discovery once, on first use."""
        if self._discovered or not self._discover:
            return
        with self._lock:
            if self._discovered:
                return
            self._discovered = True
            self._discover_entry_points()

    def _discover_entry_points(self) -> None:
        disabled = _env_ids("MODALAX_DISABLE_PLUGINS") or set()
        only = _env_ids("MODALAX_LOAD_PLUGINS")
        if self._paths is None:
            found = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
        else:  # only distributions installed in these folders (tests)
            found = [
                ep
                for dist in metadata.distributions(path=self._paths)
                for ep in dist.entry_points
                if ep.group == ENTRY_POINT_GROUP
            ]
        eps = sorted(found, key=lambda e: e.name)
        for ep in eps:
            dist = ep.dist
            info = PluginInfo(
                id=ep.name,
                distribution=dist.metadata["Name"] if dist is not None else "<unknown>",
                version=dist.version if dist is not None else "<unknown>",
                status="loaded",
            )
            if ep.name in self.plugins:
                self._fail(
                    info,
                    PluginError(
                        f"plugin id {ep.name!r} is declared by both {self.plugins[ep.name].distribution!r} "
                        f"and {info.distribution!r}; expected each id once"
                    ),
                    key=f"{ep.name}@{info.distribution}",
                )
                continue
            if ep.name in disabled or (only is not None and ep.name not in only):
                info.status = "disabled"
                self.plugins[ep.name] = info
                continue
            try:
                module = ep.load()
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                self._fail(info, exc, action=f"import of {ep.value!r}")
                continue
            self._load_plugin(info, module)

    def _fail(self, info: PluginInfo, exc: BaseException, *, action: str | None = None, key: str | None = None) -> None:
        info.status = "failed"
        info.exception = exc
        detail = f"{type(exc).__name__}: {exc}"
        info.error = f"{action} failed: {detail}" if action else detail
        self.plugins[key or info.id] = info
        message = f"modalax plugin {info.id!r} ({info.distribution} {info.version}) failed: {info.error}"
        if _strict():
            raise PluginError(message + " (MODALAX_STRICT_PLUGINS is set)") from exc
        _warn_at_caller(message)

    def _load_plugin(self, info: PluginInfo, module: Any) -> None:
        """Register one plugin's hooks; commit its records only if every hook succeeds."""
        try:
            self.pm.register(module, name=info.id)
        except Exception as exc:
            self._fail(info, exc, action="hook validation")
            return
        staged: list[Any] = []
        try:
            for hook_name, record_type in _HOOK_KIND.items():
                caller = getattr(self.pm.hook, hook_name)
                for impl in caller.get_hookimpls():
                    if impl.plugin_name != info.id:
                        continue
                    impl.function(register=self._collector(staged, record_type, hook_name))
        except Exception as exc:
            self.pm.unregister(name=info.id)
            self._fail(info, exc, action="hook")
            return
        self._commit(staged, info)
        self.plugins[info.id] = info

    @staticmethod
    def _collector(staged: list[Any], record_type: type, hook_name: str) -> Callable[[Any], None]:
        def register(record: Any) -> None:
            if not isinstance(record, record_type):
                raise ConfigError(
                    f"{hook_name}: register() got {type(record).__name__}, expected {record_type.__name__}"
                )
            staged.append(record)

        return register

    def _commit(self, records: Iterable[Any], info: PluginInfo) -> None:
        for record in records:
            kind = _RECORD_KIND[type(record)]
            key = record_key(record)
            info.registered.setdefault(kind, []).append(_display(key))
            self._insert(kind, key, record, info.distribution, override=False, warn=True)

    def _insert(self, kind: str, key: tuple[str, ...], record: Any, owner: str, *, override: bool, warn: bool) -> None:
        entries = self._entries[kind]
        conflicts = self._conflicts[kind]
        if key in conflicts and not override:
            conflicts[key].append(owner)
            return
        if key in entries and not override:
            previous = entries.pop(key)[1]
            conflicts[key] = [previous, owner]
            message = (
                f"{kind[:-1]} {_display(key)!r} is registered by both {previous!r} and {owner!r}; "
                "neither is used until one is uninstalled or disabled (MODALAX_DISABLE_PLUGINS)"
            )
            if warn and _strict():
                raise PluginError(message)
            if warn:
                _warn_at_caller(message)
            return
        conflicts.pop(key, None)
        entries[key] = (record, owner)
        self._jitted.pop(_display(key), None)

    # ----------------------------------------------------------------- lookups
    def add(self, record: Any, *, owner: str = RUNTIME, override: bool = False) -> None:
        """Register a record at run time (notebooks, tests)."""
        self.ensure_discovered()
        kind = _RECORD_KIND.get(type(record))
        if kind is None:
            record_key(record)  # raises the ConfigError naming the expected types
        key = record_key(record)
        with self._lock:
            if key in self._entries[kind] and not override:
                owner_prev = self._entries[kind][key][1]
                raise PluginError(
                    f"{kind[:-1]} {_display(key)!r} is already registered by {owner_prev!r}; "
                    "pass override=True to replace it"
                )
            self._insert(kind, key, record, owner, override=True, warn=False)

    def remove(self, kind: str, key: tuple[str, ...]) -> None:
        """Remove a runtime registration (used by tests and notebooks)."""
        self._entries[kind].pop(key, None)
        self._jitted.pop(_display(key), None)

    def get(
        self, kind: str, key: tuple[str, ...], *, label: str, choices: Iterable[str] | None = None
    ) -> tuple[Any, str]:
        """Return ``(record, owner)`` or raise a clear error."""
        self.ensure_discovered()
        conflict = self._conflicts[kind].get(key)
        if conflict:
            raise PluginError(
                f"{label} {_display(key)!r} is registered by several distributions: "
                f"{', '.join(repr(d) for d in conflict)}; uninstall or disable all but one"
            )
        try:
            return self._entries[kind][key]
        except KeyError:
            if choices is None:
                names, shown = [_display(k) for k in self._entries[kind]], _display(key)
            else:  # the label already names the modality: show the bare name
                names, shown = list(choices), key[-1]
            raise ConfigError(unknown_name_message(label, shown, names)) from None

    def keys(self, kind: str) -> list[tuple[str, ...]]:
        """Sorted keys registered for ``kind``."""
        self.ensure_discovered()
        return sorted(self._entries[kind])

    def records(self, kind: str) -> list[tuple[Any, str]]:
        """``(record, owner)`` pairs of ``kind``, sorted by key."""
        self.ensure_discovered()
        return [self._entries[kind][k] for k in sorted(self._entries[kind])]

    def jitted_kernel(self, name: str) -> Callable[..., Any]:
        """The kernel ``name`` jitted once with its static arguments, cached."""
        record, _ = self.get("kernels", (name,), label="kernel")
        with self._lock:
            fn = self._jitted.get(name)
            if fn is None:
                import jax  # heavy: only when a kernel is first used

                fn = jax.jit(resolve(record.fn), static_argnames=record.static_argnames or None)
                self._jitted[name] = fn
            return fn


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
def register_modality(
    name: str, modality_class: type, *, config_class: type | None = None, description: str = "", override: bool = False
) -> None:
    """Register a modality class at run time (notebooks and tests)."""
    current().add(ModalityRecord(name, modality_class, description, config_class), override=override)


def get_modality(name: str) -> type:
    """The modality class registered under ``name``.

    Raises ``ConfigError`` (also a ``KeyError``-free ``ValueError``) listing the available
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
        return [_display(k) for k in keys]
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
    return [_display(k) for k in current().keys("adapters") if modality is None or k[0] == modality]


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
    return [_display(k) for k in current().keys("operators") if modality is None or k[0] == modality]


def get_operator(modality: str, name: str) -> type:
    """The operator class registered as ``(modality, name)``."""
    record, _ = current().get(
        "operators",
        (modality, name),
        label=f"{modality} operator",
        choices=[k[1] for k in current().keys("operators") if k[0] == modality],
    )
    return resolve(record.operator_class)


def list_commands() -> list[CommandRecord]:
    """CLI sub-commands contributed by plugins."""
    return [record for record, _ in current().records("commands")]


def owner_of(kind: str, key: tuple[str, ...]) -> str:
    """The distribution that registered ``key`` of ``kind``."""
    return current().get(kind, key, label=kind[:-1])[1]
