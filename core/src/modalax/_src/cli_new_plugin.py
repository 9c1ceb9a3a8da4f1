"""``modalax new-plugin NAME [--out DIR]``: write a complete plugin package to start from.

The package (``modalax-NAME``, import name ``modalax_NAME``) has a light hook module, a config,
a modality, a synthetic and a file-backed dataset, a jitted kernel, an operator, an adapter,
a previewer, tests and a README; it installs (``pip install -e DIR``) and passes its own
tests unchanged. The files come from ``modalax/_src/templates/plugin`` (package data); nothing
here imports jax.
"""

from __future__ import annotations

import argparse
import keyword
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from modalax._src.errors import ConfigError

__all__ = ["add_new_plugin_parser", "check_plugin_name", "cmd_new_plugin", "write_plugin"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_SUFFIX = ".tmpl"
_PACKAGE_DIR = "__package__"


def check_plugin_name(name: Any) -> str:
    """``name`` when it can be a modality name and a package suffix, else ``ConfigError``."""
    if not isinstance(name, str) or not _NAME.match(name) or keyword.iskeyword(name) or name.endswith("_"):
        raise ConfigError(
            f"NAME: got {name!r}, expected a lower-case Python identifier such as 'video' "
            "(a letter, then letters, digits or '_', not ending in '_'; it names the modality and the package)"
        )
    if len(name) > 40:
        raise ConfigError(f"NAME: got {name!r} ({len(name)} characters), expected at most 40")
    return name


def template_values(name: str) -> dict[str, str]:
    """What each ``{{placeholder}}`` of the template becomes for plugin ``name``."""
    return {
        "name": name,
        "Class": "".join(part.capitalize() for part in name.split("_")),
        "package": f"modalax_{name}",
        "dist": f"modalax-{name.replace('_', '-')}",
    }


def _render(text: str, values: dict[str, str], source: str) -> str:
    def sub(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:  # a template bug, not a user error
            raise KeyError(f"template {source}: unknown placeholder {{{{{key}}}}}")
        return values[key]

    return _PLACEHOLDER.sub(sub, text)


def _template_files(folder: Traversable, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Traversable]]:
    found: list[tuple[tuple[str, ...], Traversable]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            if entry.name != "__pycache__":
                found += _template_files(entry, (*prefix, entry.name))
        elif entry.name.endswith(_SUFFIX):
            found.append(((*prefix, entry.name[: -len(_SUFFIX)]), entry))
    return found


def check_out_dir(out: Path) -> None:
    """Raise ``ConfigError`` unless ``out`` is a new or empty folder."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: got {str(out)!r}, which is a file; expected a new or empty folder")
    if out.is_dir() and any(out.iterdir()):
        raise ConfigError(f"--out: {str(out)!r} is not empty; expected a new or empty folder (nothing was written)")


def write_plugin(name: str, out: str | Path) -> list[Path]:
    """Write the plugin package for ``name`` into ``out`` (new or empty); returns the files written."""
    name = check_plugin_name(name)
    out = Path(out)
    check_out_dir(out)
    values = template_values(name)
    files = _template_files(resources.files("modalax._src") / "templates" / "plugin")
    if not files:
        raise ConfigError("new-plugin: the plugin template is missing from this modalax installation; reinstall it")
    written: list[Path] = []
    for parts, entry in files:
        target = out.joinpath(*(values["package"] if p == _PACKAGE_DIR else p for p in parts))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_render(entry.read_text(encoding="utf-8"), values, "/".join(parts)), encoding="utf-8")
        written.append(target)
    return written


def cmd_new_plugin(args: argparse.Namespace) -> int:
    """Write the package and say how to install and test it."""
    name = check_plugin_name(args.name)
    out = Path(args.out) if args.out else Path(template_values(name)["dist"])
    written = write_plugin(name, out)
    print(f"wrote {len(written)} files of the {template_values(name)['dist']} plugin into {out}")
    print(f"next: pip install -e {out}  &&  pytest {out / 'tests'}  &&  modalax preview {name} synthetic")
    return 0


def add_new_plugin_parser(sub: Any) -> None:
    """Declare ``modalax new-plugin`` on the sub-command action ``sub``."""
    p = sub.add_parser("new-plugin", help="write a complete plugin package (modality, datasets, kernel, tests)")
    p.add_argument("name", metavar="NAME", help="modality name, e.g. video (package modalax_NAME)")
    p.add_argument("--out", default=None, help="output folder, new or empty (default ./modalax-NAME)")
    p.set_defaults(func=cmd_new_plugin)
