"""Finding and loading plugins: entry points, the environment switches, one plugin's hooks.

``discover`` walks the ``modalax`` entry-point group with ``importlib.metadata`` (not pluggy's
setuptools loader, which stops at the first broken plugin) and returns what it found without
touching any registry: the caller installs the result in one step, so an interrupted discovery
(``KeyboardInterrupt``) leaves nothing half-built and the next query simply retries.

Anything a plugin raises at import or in a hook, ``SystemExit`` and other ``BaseException``
subclasses included, makes that plugin *failed*; only ``KeyboardInterrupt`` propagates.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from types import FrameType
from typing import Any

import pluggy

from modalax._src import hookspecs
from modalax._src.errors import ConfigError, PluginError, closest_match, unknown_name_message
from modalax._src.records import (
    AdapterRecord,
    CommandRecord,
    DatasetRecord,
    KernelRecord,
    ModalityRecord,
    OperatorRecord,
)
from modalax._src.version import DECLARATION, UNDECLARED, compatibility_problem

__all__ = [
    "ENTRY_POINT_GROUP",
    "HOOK_RECORDS",
    "Discovery",
    "PluginInfo",
    "discover",
    "env_flag",
    "env_ids",
    "strict_mode",
    "warn_at_caller",
]

ENTRY_POINT_GROUP = "modalax"
HOOK_RECORDS: dict[str, type] = {
    "register_modalities": ModalityRecord,
    "register_datasets": DatasetRecord,
    "register_adapters": AdapterRecord,
    "register_kernels": KernelRecord,
    "register_operators": OperatorRecord,
    "register_commands": CommandRecord,
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


@dataclass
class PluginInfo:
    """What ``list_plugins`` reports for one entry point."""

    id: str
    distribution: str
    version: str
    status: str  # "loaded" | "failed" | "incompatible" | "disabled"
    registered: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False)
    entry_point: str = ""
    #: The plugin-API version the hook module declares (``MODALAX_PLUGIN_API``), None if none.
    api_version: str | None = None
    #: Problems of a loaded plugin: names it may not register, an undeclared plugin-API version.
    problems: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Number of registrations per kind (``{"modalities": 1, ...}``)."""
        return {kind: len(names) for kind, names in self.registered.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the exception becomes its message)."""
        return {
            "id": self.id,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "entry_point": self.entry_point,
            "api_version": self.api_version,
            "registered": {k: list(v) for k, v in self.registered.items()},
            "error": self.error,
            "problems": list(self.problems),
        }


def env_flag(name: str) -> bool:
    """Read a boolean environment variable: 1/true/yes/on or 0/false/no/off/empty (any case).

    Anything else raises ``ConfigError`` naming the variable and the value, so that a typo
    such as ``=2`` never silently means "off".
    """
    raw = os.environ.get(name, "")
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}: got {raw!r}, expected one of 1, true, yes, on (or 0, false, no, off, empty)")


def strict_mode() -> bool:
    """Whether ``MODALAX_STRICT_PLUGINS`` asks plugin problems to raise instead of warn."""
    return env_flag("MODALAX_STRICT_PLUGINS")


def env_ids(name: str) -> set[str] | None:
    """The comma-separated plugin ids of environment variable ``name`` (None when unset/empty)."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


# the package root (modalax/), not _src/: frames in the public modules are ours too
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def warn_at_caller(message: str, category: type[Warning] = RuntimeWarning) -> None:
    """Warn at the first frame outside modalax (and flax's module machinery), so the warning points
    at the user's line."""
    flax_file = getattr(sys.modules.get("flax"), "__file__", None)
    skip = [_PACKAGE_DIR + os.sep]
    if isinstance(flax_file, str):
        skip.append(os.path.dirname(os.path.abspath(flax_file)) + os.sep)
    level = 2
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(tuple(skip)):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, category, stacklevel=level)


@dataclass
class Discovery:
    """The outcome of one discovery, installed by the registry in one step.

    ``loaded`` holds each loaded plugin with the records it registered, in id order;
    ``problems`` holds ``(message, cause)`` for every failed plugin and environment typo.
    """

    pm: pluggy.PluginManager
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    loaded: list[tuple[PluginInfo, list[Any]]] = field(default_factory=list)
    problems: list[tuple[str, BaseException | None]] = field(default_factory=list)

    def warn(self, info: PluginInfo, problem: str) -> None:
        """Record a problem of a plugin that still loads (a warning; an error in strict mode)."""
        info.problems.append(problem)
        self.problems.append((f"modalax plugin {info.id!r} ({info.distribution} {info.version}): {problem}", None))

    def fail(
        self,
        info: PluginInfo,
        exc: BaseException,
        *,
        action: str | None = None,
        key: str | None = None,
        status: str = "failed",
    ) -> None:
        """Mark ``info`` failed (or ``status``) with ``exc`` and record the problem."""
        info.status = status
        info.exception = exc
        detail = f"{type(exc).__name__}: {exc}" if str(exc) and status == "failed" else (str(exc) or type(exc).__name__)
        info.error = f"{action} failed: {detail}" if action else detail
        self.plugins[key or info.id] = info
        self.problems.append(
            (f"modalax plugin {info.id!r} ({info.distribution} {info.version}) {status}: {info.error}", exc)
        )


def new_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager knowing the modalax hook specifications."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _entry_points(paths: list[str] | None) -> list[metadata.EntryPoint]:
    if paths is None:
        found = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    else:  # only distributions installed in these folders (tests)
        found = [
            ep
            for dist in metadata.distributions(path=paths)
            for ep in dist.entry_points
            if ep.group == ENTRY_POINT_GROUP
        ]
    return sorted(found, key=lambda e: e.name)


def _check_env_ids(variable: str, ids: set[str] | None, installed: list[str], found: Discovery) -> None:
    for pid in sorted((ids or set()) - set(installed)):
        message = f"{variable}: " + unknown_name_message("plugin id", pid, set(installed)).replace(
            "available:", "installed plugins:"
        )
        found.problems.append((message, ConfigError(message)))


def discover(paths: list[str] | None = None) -> Discovery:
    """Load every plugin of the entry-point group (or of the distributions in ``paths``).

    Never raises for a plugin's fault; ``KeyboardInterrupt`` propagates and nothing is kept.
    """
    found = Discovery(new_plugin_manager())
    disabled = env_ids("MODALAX_DISABLE_PLUGINS") or set()
    only = env_ids("MODALAX_LOAD_PLUGINS")
    eps = _entry_points(paths)
    installed = sorted({ep.name for ep in eps})
    _check_env_ids("MODALAX_DISABLE_PLUGINS", disabled, installed, found)
    _check_env_ids("MODALAX_LOAD_PLUGINS", only, installed, found)
    for ep in eps:
        dist = ep.dist
        info = PluginInfo(
            id=ep.name,
            distribution=dist.metadata["Name"] if dist is not None else "<unknown>",
            version=dist.version if dist is not None else "<unknown>",
            status="loaded",
            entry_point=ep.value,
        )
        if ep.name in found.plugins:
            other = found.plugins[ep.name].distribution
            error = PluginError(
                f"plugin id {ep.name!r} is declared by both {other!r} and {info.distribution!r}; expected each id once"
            )
            found.fail(info, error, key=f"{ep.name}@{info.distribution}")
            continue
        if ep.name in disabled or (only is not None and ep.name not in only):
            info.status = "disabled"
            found.plugins[ep.name] = info
            continue
        _load_one(found, info, ep)
    return found


def _load_one(found: Discovery, info: PluginInfo, ep: metadata.EntryPoint) -> None:
    if ep.pattern.match(ep.value) is None:
        error = PluginError(
            f"entry point {ep.name!r} = {ep.value!r} (group {ENTRY_POINT_GROUP!r}): malformed value, "
            "expected 'package.module' or 'package.module:attribute'"
        )
        found.fail(info, error)
        return
    try:
        plugin = ep.load()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: a plugin never ends discovery
        found.fail(info, exc, action=f"import of {ep.value!r}")
        return
    if not _compatible(found, info, plugin):
        return
    records = _run_hooks(found, info, plugin)
    if records is not None:
        found.loaded.append((info, records))
        found.plugins[info.id] = info


def _compatible(found: Discovery, info: PluginInfo, plugin: Any) -> bool:
    """Check the plugin-API version the hook module declares; False (plugin skipped) when incompatible."""
    declared = getattr(plugin, DECLARATION, None)
    info.api_version = declared if isinstance(declared, str) else None
    problem = compatibility_problem(declared)
    if problem == UNDECLARED:
        found.warn(info, problem)
    elif problem is not None:
        found.fail(info, PluginError(problem), status="incompatible")
        return False
    return True


def _hook_problem(pm: pluggy.PluginManager, plugin: Any) -> str | None:
    """Why the hooks of ``plugin`` are unusable (misspelled, unmarked, none at all), or None."""
    try:
        pm.check_pending()
    except pluggy.PluginValidationError:
        unknown = sorted(hc.name for hc in pm.get_hookcallers(plugin) or [] if not hc.has_spec())
        parts = []
        for name in unknown:
            hint = closest_match(name, HOOK_RECORDS)
            parts.append(f"unknown hook {name!r}" + (f" (did you mean {hint!r}?)" if hint else ""))
        return "; ".join(parts) + "; expected hooks: " + ", ".join(HOOK_RECORDS)
    unmarked = [
        name
        for name in HOOK_RECORDS
        if callable(getattr(plugin, name, None)) and pm.parse_hookimpl_opts(plugin, name) is None
    ]
    if unmarked:
        return f"{', '.join(unmarked)} defined without the @modalax.hookimpl marker; expected it on every hook"
    if not pm.get_hookcallers(plugin):
        return (
            f"entry point value {getattr(plugin, '__name__', plugin)!r} declares no modalax hook; expected at least "
            "one of " + ", ".join(HOOK_RECORDS) + " (does the entry point name the hook module?)"
        )
    return None


def _run_hooks(found: Discovery, info: PluginInfo, plugin: Any) -> list[Any] | None:
    """Call one plugin's hooks; its records, or None (plugin failed, nothing kept)."""
    pm = found.pm
    try:
        pm.register(plugin, name=info.id)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        found.fail(info, exc, action="hook validation")
        return None
    problem = _hook_problem(pm, plugin)
    if problem is not None:
        pm.unregister(name=info.id)
        found.fail(info, PluginError(problem), action="hook validation")
        return None
    staged: list[Any] = []
    try:
        for hook_name, record_type in HOOK_RECORDS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                if impl.plugin_name == info.id:
                    impl.function(register=_collector(staged, record_type, hook_name))
    except KeyboardInterrupt:
        pm.unregister(name=info.id)
        raise
    except BaseException as exc:
        pm.unregister(name=info.id)
        found.fail(info, exc, action="hook")
        return None
    return staged


def _collector(staged: list[Any], record_type: type, hook_name: str) -> Callable[[Any], None]:
    def register(record: Any) -> None:
        if not isinstance(record, record_type):
            raise ConfigError(f"{hook_name}: register() got {type(record).__name__}, expected {record_type.__name__}")
        staged.append(record)

    return register
