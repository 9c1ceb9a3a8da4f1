"""Module paths of modalax 0.1 (``modalax.errors``, ``modalax.loader.workers``, ...) as deprecated aliases.

Until 0.2 every core module was importable under its own name, and plugins and notebooks did
import them. They now live in ``modalax._src`` and are private. So that code written for 0.1
keeps working for one more minor release, a meta-path finder answers for each old dotted name:
the import returns the very module object of ``modalax._src`` (classes, ``isinstance`` checks
and monkeypatching behave as before) and issues one ``DeprecationWarning`` naming the public
home of the module's names. Cost: one dictionary lookup per import of a ``modalax.*`` name.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any

__all__ = ["OLD_MODULES", "install", "old_module"]

#: Old top-level module -> where its public names live now.
OLD_MODULES: dict[str, str] = {
    "aliases": "modalax",
    "cli": "the `modalax` command",
    "cli_new_plugin": "the `modalax new-plugin` command",
    "cli_pack": "the `modalax pack` command or modalax.pack",
    "cli_preview": "the `modalax preview` command",
    "config": "modalax.plugin",
    "dataset": "modalax or modalax.plugin",
    "discovery": "modalax.list_plugins",
    "errors": "modalax or modalax.plugin",
    "hookspecs": "modalax.plugin",
    "lazy": "modalax.plugin",
    "loader": "modalax",
    "model": "modalax or modalax.plugin",
    "operators": "modalax or modalax.plugin",
    "packed": "modalax or modalax.plugin",
    "plugins_table": "the `modalax plugins` command",
    "protocols": "modalax or modalax.plugin",
    "random": "modalax.plugin",
    "record_store": "modalax.plugin",
    "records": "modalax.plugin",
    "reductions": "modalax.plugin",
    "registry": "modalax",
    "sources": "modalax or modalax.plugin",
    "validation": "modalax",
    "viz": "modalax.plugin",
}
_PREFIX = "modalax."


def _target(fullname: str) -> str | None:
    """``modalax._src.X.Y`` for an old name ``modalax.X.Y``, else None."""
    if not fullname.startswith(_PREFIX):
        return None
    rest = fullname[len(_PREFIX) :]
    if rest.split(".", 1)[0] not in OLD_MODULES:
        return None
    return "modalax._src." + rest


class _AliasLoader(importlib.abc.Loader):
    """Returns the already imported private module instead of executing anything."""

    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.new)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The import system stamped the alias spec on the shared module: give it back its own.
        module.__spec__ = self._spec
        top = self.old[len(_PREFIX) :].split(".", 1)[0]
        warnings.warn(
            f"{self.old} is private since modalax 0.2 (now {self.new}); import its public names from "
            f"{OLD_MODULES[top]}. The old path goes away in modalax 0.3.",
            DeprecationWarning,
            stacklevel=2,
        )


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Finds old ``modalax.*`` module names and maps them onto ``modalax._src``."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        new = _target(fullname)
        if new is None:
            return None
        real = importlib.util.find_spec(new)
        if real is None:
            return None
        package = real.submodule_search_locations is not None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(fullname, new), is_package=package)


_FINDER = _AliasFinder()


def install() -> None:
    """Put the alias finder first on ``sys.meta_path`` (once).

    First, because the path finder would otherwise find ``modalax.loader.workers`` through the
    aliased package's ``__path__`` and execute a second copy of the module under the old name.
    """
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def old_module(name: str) -> ModuleType:
    """``modalax.<name>`` imported through the alias (for attribute access on the package)."""
    return importlib.import_module(_PREFIX + name)
