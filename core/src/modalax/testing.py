"""Test helpers for plugin authors (also a pytest plugin: the fixtures need no import).

* ``isolated_registry``: a fresh registry with discovery blocked, for runtime registration.
* ``write_fake_distribution``: an installed-looking distribution (``dist-info`` with
  ``entry_points.txt``) in a folder, so discovery is tested through the real
  ``importlib.metadata`` path.
* ``discovering_registry``: a fresh registry that discovers with extra folders on
  ``sys.path`` (the fake distributions).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from modalax._src.conformance import Check, Report, assert_conforms, check_plugin, conformance_tests
from modalax._src.registry import Registry, set_current

__all__ = [
    "Check",
    "Report",
    "assert_conforms",
    "check_plugin",
    "conformance_tests",
    "discovering_registry",
    "isolated_registry",
    "run_cli",
    "write_fake_distribution",
]


def run_cli(argv: list[str]) -> int:
    """Run the ``modalax`` command in this process (``run_cli(["preview", "video", "synthetic"])``); its exit code.

    Errors are printed as the command prints them (one ``modalax: error:`` line) and give a
    non-zero code, so a test asserts on the code and on ``capsys``.
    """
    from modalax._src.cli import main

    return main(list(argv))


def write_fake_distribution(
    root: str | Path,
    name: str,
    *,
    version: str = "0.1.0",
    entry_points: Mapping[str, str] | None = None,
    modules: Mapping[str, str] | None = None,
) -> Path:
    """Write modules and a ``<name>-<version>.dist-info`` into ``root``; returns ``root``.

    ``entry_points`` maps plugin ids to hook-module names (group ``modalax``); ``modules``
    maps module names (dotted names become packages) to source text.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for module, source in (modules or {}).items():
        parts = module.split(".")
        folder = root.joinpath(*parts[:-1])
        for i in range(1, len(parts)):
            pkg = root.joinpath(*parts[:i])
            pkg.mkdir(parents=True, exist_ok=True)
            (pkg / "__init__.py").touch()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{parts[-1]}.py").write_text(textwrap.dedent(source))
    normalized = name.replace("-", "_")
    info = root / f"{normalized}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = ["[modalax]"] + [f"{pid} = {target}" for pid, target in (entry_points or {}).items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    (info / "RECORD").write_text("")
    return root


@contextlib.contextmanager
def discovering_registry(*paths: str | Path, isolate: bool = True) -> Iterator[Registry]:
    """A fresh, discovering registry with ``paths`` prepended to ``sys.path`` meanwhile.

    With ``isolate`` (default) it discovers only the distributions in ``paths``, not the
    plugins installed in the environment.
    """
    added = [str(p) for p in paths]
    before = set(sys.modules)
    sys.path[:0] = added
    importlib.invalidate_caches()
    registry = Registry(discover=True, paths=added if isolate else None)
    previous = set_current(registry)
    try:
        yield registry
    finally:
        set_current(previous)
        for p in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(p)
        for mod in set(sys.modules) - before:
            origin = getattr(sys.modules.get(mod), "__file__", None) or ""
            if any(origin.startswith(p) for p in added):
                del sys.modules[mod]
        importlib.invalidate_caches()


@pytest.fixture
def isolated_registry() -> Iterator[Registry]:
    """A fresh registry with discovery blocked, installed as the current one."""
    registry = Registry(discover=False)
    previous = set_current(registry)
    try:
        yield registry
    finally:
        set_current(previous)
