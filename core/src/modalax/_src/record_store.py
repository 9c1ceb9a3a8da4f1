"""The registries of modalities, datasets, adapters, kernels, operators and commands.

A ``Registry`` holds records keyed per kind, who registered each, and the names two
distributions claim (withdrawn until one is removed).  It runs discovery on first use and
installs the result in one step; in strict mode every query raises while a plugin is broken,
so a partial registry is never exposed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from modalax._src.discovery import Discovery, PluginInfo, discover, new_plugin_manager, strict_mode, warn_at_caller
from modalax._src.errors import ConfigError, PluginError, UnknownNameError, unknown_name_message
from modalax._src.ownership import find_squats
from modalax._src.records import (
    AdapterRecord,
    CommandRecord,
    DatasetRecord,
    KernelRecord,
    ModalityRecord,
    OperatorRecord,
    resolve,
)

__all__ = ["KIND_SINGULAR", "RECORD_KIND", "RUNTIME", "Registry", "display", "record_key"]

RUNTIME = "<runtime>"
RECORD_KIND: dict[type, str] = {
    ModalityRecord: "modalities",
    DatasetRecord: "datasets",
    AdapterRecord: "adapters",
    KernelRecord: "kernels",
    OperatorRecord: "operators",
    CommandRecord: "commands",
}
KIND_SINGULAR = {
    "modalities": "modality",
    "datasets": "dataset",
    "adapters": "adapter",
    "kernels": "kernel",
    "operators": "operator",
    "commands": "command",
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
        f"register: got {type(record).__name__}, expected one of " + ", ".join(t.__name__ for t in RECORD_KIND)
    )


def display(key: tuple[str, ...]) -> str:
    """``("image", "synthetic")`` as ``"image/synthetic"``."""
    return "/".join(key)


class Registry:
    """One set of registries plus the plugin manager that filled them."""

    def __init__(self, *, discover: bool = True, paths: list[str] | None = None) -> None:
        self._lock = threading.RLock()
        self._discover = discover
        self._paths = paths
        self._discovered = False
        self.pm = new_plugin_manager()
        self.plugins: dict[str, PluginInfo] = {}
        self.problems: list[tuple[str, BaseException | None]] = []
        # kind -> key -> (record, owner distribution)
        self._entries: dict[str, dict[tuple[str, ...], tuple[Any, str]]] = {k: {} for k in RECORD_KIND.values()}
        # kind -> key -> distributions that claimed it (only when two or more did)
        self._conflicts: dict[str, dict[tuple[str, ...], list[str]]] = {k: {} for k in RECORD_KIND.values()}
        self._jitted: dict[str, Callable[..., Any]] = {}

    # ---------------------------------------------------------------- discovery
    def ensure_discovered(self) -> None:
        """Run discovery once, on first use; in strict mode raise while any plugin is broken."""
        if not self._discover:
            return
        strict = strict_mode()  # a bad value is a ConfigError on every query
        if not self._discovered:
            with self._lock:
                if not self._discovered:
                    self._install(discover(self._paths))  # KeyboardInterrupt: nothing installed, retried
                    self._discovered = True
                    if not strict:
                        for message, _ in self.problems:
                            warn_at_caller(message)
        if strict and self.problems:
            messages = [m for m, _ in self.problems]
            text = messages[0] if len(messages) == 1 else f"{len(messages)} problems: " + "; ".join(messages)
            raise PluginError(f"{text} (MODALAX_STRICT_PLUGINS is set)") from self.problems[0][1]

    def _install(self, found: Discovery) -> None:
        self.pm = found.pm
        problems = list(found.problems)
        squats = find_squats([(info.id, info.distribution, records) for info, records in found.loaded])
        by_dist = {info.distribution: info for info, _ in found.loaded}
        for info, records in found.loaded:
            for record in records:
                squat = squats.get(id(record))
                if squat is not None:  # names another distribution owns: never registered
                    info.problems.append(squat.message)
                    problems.append((f"modalax plugin {info.id!r} ({info.distribution}): {squat.message}", None))
                    continue
                kind = RECORD_KIND[type(record)]
                key = record_key(record)
                info.registered.setdefault(kind, []).append(display(key))
                message = self._insert(kind, key, record, info.distribution, override=False)
                if message is not None:
                    problems.append((message, None))
                    for dist in self._conflicts[kind].get(key, []):
                        if dist in by_dist and message not in by_dist[dist].problems:
                            by_dist[dist].problems.append(message)
        self.plugins = found.plugins
        self.problems = problems

    def _insert(self, kind: str, key: tuple[str, ...], record: Any, owner: str, *, override: bool) -> str | None:
        """Insert one record; the conflict message when a second distribution claims ``key``."""
        entries = self._entries[kind]
        conflicts = self._conflicts[kind]
        if key in conflicts and not override:
            conflicts[key].append(owner)
            return None
        if key in entries and not override:
            previous = entries.pop(key)[1]
            conflicts[key] = [previous, owner]
            return (
                f"{KIND_SINGULAR[kind]} {display(key)!r} is registered by both {previous!r} and {owner!r}; "
                "neither is used until one is uninstalled or disabled (MODALAX_DISABLE_PLUGINS)"
            )
        conflicts.pop(key, None)
        entries[key] = (record, owner)
        self._jitted.pop(display(key), None)
        return None

    # ----------------------------------------------------------------- lookups
    def add(self, record: Any, *, owner: str = RUNTIME, override: bool = False) -> None:
        """Register a record at run time (notebooks, tests)."""
        self.ensure_discovered()
        key = record_key(record)  # raises the ConfigError naming the expected types
        kind = RECORD_KIND[type(record)]
        with self._lock:
            if key in self._entries[kind] and not override:
                owner_prev = self._entries[kind][key][1]
                raise PluginError(
                    f"{KIND_SINGULAR[kind]} {display(key)!r} is already registered by {owner_prev!r}; "
                    "pass override=True to replace it"
                )
            self._insert(kind, key, record, owner, override=True)

    def remove(self, kind: str, key: tuple[str, ...]) -> None:
        """Remove a runtime registration (used by tests and notebooks)."""
        self._entries[kind].pop(key, None)
        self._jitted.pop(display(key), None)

    def get(
        self, kind: str, key: tuple[str, ...], *, label: str, choices: Iterable[str] | None = None
    ) -> tuple[Any, str]:
        """Return ``(record, owner)``; ``UnknownNameError`` (a ``KeyError`` too) when unknown."""
        self.ensure_discovered()
        bad = next((part for part in key if not isinstance(part, str)), None)
        if bad is not None:
            raise UnknownNameError(f"{label}: got {bad!r} ({type(bad).__name__}), expected a name (a string)")
        conflict = self._conflicts[kind].get(key)
        if conflict:
            raise PluginError(
                f"{label} {display(key)!r} is registered by several distributions: "
                f"{', '.join(repr(d) for d in conflict)}; uninstall or disable all but one"
            )
        try:
            return self._entries[kind][key]
        except KeyError:
            pass
        if len(key) == 2 and kind != "modalities":
            self._check_modality(key[0], kind)
        if choices is None:
            names, shown = [display(k) for k in self._entries[kind]], display(key)
        else:  # the label already names the modality: show the bare name
            names, shown = list(choices), key[-1]
        raise UnknownNameError(unknown_name_message(label, shown, names))

    def _check_modality(self, modality: str, kind: str) -> None:
        """An unknown modality in a ``(modality, name)`` lookup is named as such."""
        known = {k[0] for k in self._entries["modalities"]}
        if modality in known or any(k[0] == modality for k in self._entries[kind]):
            return
        raise UnknownNameError(unknown_name_message("modality", modality, known))

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
