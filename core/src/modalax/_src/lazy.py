"""Lazy package exports: heavy names are imported on first attribute access (PEP 562).

Deprecated names go through the same hook: the first access issues one ``DeprecationWarning``
naming the canonical name, later accesses find the value cached in the module and are free.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str,
    exports: Mapping[str, str],
    deprecated: Mapping[str, tuple[str, str, str]] | None = None,
    fallback: Callable[[str], Any] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` that import ``exports[name]`` when ``name`` is first used.

    Keeps ``import package`` free of jax, so hook modules and the CLI stay fast.
    ``deprecated`` maps an old name to ``(module, attribute, canonical)``: the value is
    ``module.attribute`` and the first access warns that ``canonical`` is the name to use.
    ``fallback(name)`` is asked for any other name before ``AttributeError``.
    """
    namespace = sys.modules[package].__dict__
    old = dict(deprecated or {})

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
        elif name in old:
            where, attribute, canonical = old[name]
            warnings.warn(
                f"{package}.{name} is deprecated; use {canonical} (the same object). "
                "The old name goes away in the next minor release.",
                DeprecationWarning,
                stacklevel=2,
            )
            value = getattr(importlib.import_module(where), attribute)
        elif fallback is not None:
            value = fallback(name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
