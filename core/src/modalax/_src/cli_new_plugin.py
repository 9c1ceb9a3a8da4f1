"""``modalax new-plugin NAME [--shape AXES] [--out DIR]``: write a complete plugin package to start from.

The package (``modalax-NAME``, import name ``modalax_NAME``) has a light hook module, a config,
a modality with its multimodal pairing, a synthetic and a file-backed dataset, a jitted kernel,
an operator, an adapter, a previewer, tests (modalax's conformance kit among them) and a README;
it installs (``python -m pip install -e DIR``) and passes its own tests unchanged. ``--shape`` names the
axes of one record with their default sizes (``points=1024,xyz=3``; default ``length=64,channels=1``).
The files come from ``modalax/_src/templates/plugin`` (package data); nothing here imports jax.
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

__all__ = [
    "DEFAULT_SHAPE",
    "add_new_plugin_parser",
    "check_name_free",
    "check_plugin_name",
    "cmd_new_plugin",
    "parse_shape",
    "template_values",
    "write_plugin",
]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_AXIS = re.compile(r"^([a-z][a-z0-9_]*)=([1-9][0-9]*)$")
DEFAULT_SHAPE = "length=64,channels=1"
MAX_AXES = 4
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


def parse_shape(text: Any) -> list[tuple[str, int]]:
    """``"points=1024,xyz=3"`` as ``[("points", 1024), ("xyz", 3)]``; ``ConfigError`` naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"--shape: got {text!r}, expected axes such as 'points=1024,xyz=3'")
    axes: list[tuple[str, int]] = []
    for part in text.split(","):
        match = _AXIS.match(part.strip())
        if match is None or keyword.iskeyword(match.group(1)):
            raise ConfigError(
                f"--shape: got {part.strip()!r} in {text!r}, expected NAME=SIZE (a lower-case identifier and a "
                "positive int), e.g. 'points=1024,xyz=3'"
            )
        name, size = match.group(1), int(match.group(2))
        if name in {a for a, _ in axes} or name in ("shape", "to_dict", "from_dict", "replace"):
            raise ConfigError(f"--shape: axis {name!r} in {text!r} is repeated or reserved; expected distinct names")
        axes.append((name, size))
    if len(axes) > MAX_AXES:
        raise ConfigError(f"--shape: got {len(axes)} axes in {text!r}, expected at most {MAX_AXES}")
    return axes


def template_values(name: str, shape: str = DEFAULT_SHAPE) -> dict[str, str]:
    """What each ``{{placeholder}}`` of the template becomes for plugin ``name`` and record ``shape``."""
    axes = parse_shape(shape)
    return {
        "name": name,
        "Class": "".join(part.capitalize() for part in name.split("_")),
        "package": f"modalax_{name}",
        "dist": f"modalax-{name.replace('_', '-')}",
        "axes_tuple": "(" + ", ".join(f'"{a}"' for a, _ in axes) + ("," if len(axes) == 1 else "") + ")",
        "axes_doc": "(" + ", ".join(a for a, _ in axes) + ")",
        "config_fields": "".join(f"    {a}: int = {n}\n" for a, n in axes),
    }


def check_name_free(name: str) -> None:
    """``ConfigError`` when ``name`` is reserved or an installed plugin or modality already uses it."""
    from modalax._src import registry
    from modalax._src.ownership import reserved_for

    owner = reserved_for(name)
    if owner is not None:
        raise ConfigError(f"NAME: {name!r} is reserved for {owner!r}; choose another modality name")
    taken = {info.id: info.distribution for info in registry.list_plugins()}
    for modality in registry.list_modalities():
        taken.setdefault(modality, registry.owner_of("modalities", (modality,)))
    if name in taken:
        raise ConfigError(
            f"NAME: {name!r} is taken by the installed distribution {taken[name]!r} (a package named "
            f"modalax-{name.replace('_', '-')} would replace or clash with it); choose another name"
        )


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


def write_plugin(name: str, out: str | Path, shape: str = DEFAULT_SHAPE) -> list[Path]:
    """Write the plugin package for ``name`` into ``out`` (new or empty); returns the files written."""
    name = check_plugin_name(name)
    values = template_values(name, shape)
    out = Path(out)
    check_out_dir(out)
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
    values = template_values(name, args.shape)
    check_name_free(name)
    out = Path(args.out) if args.out else Path(values["dist"])
    written = write_plugin(name, out, args.shape)
    print(f"wrote {len(written)} files of the {values['dist']} plugin ({name} records {values['axes_doc']}) into {out}")
    print(
        f'next, in the environment that has modalax: python -m pip install -e "{out}[test]"  &&  '
        f"python -m pytest {out / 'tests'}  &&  modalax preview {name} synthetic --out {name}-preview"
    )
    return 0


def add_new_plugin_parser(sub: Any) -> None:
    """Declare ``modalax new-plugin`` on the sub-command action ``sub``."""
    summary = "write a complete plugin package (modality, datasets, kernel, tests) to start a modality from"
    p = sub.add_parser("new-plugin", help=summary, description=summary[0].upper() + summary[1:] + ".")
    p.add_argument("name", metavar="NAME", help="modality name, e.g. video (package modalax_NAME); not one in use")
    p.add_argument(
        "--shape",
        default=DEFAULT_SHAPE,
        metavar="AXES",
        help=f"axes of one record with default sizes, e.g. points=1024,xyz=3 (default {DEFAULT_SHAPE})",
    )
    p.add_argument("--out", default=None, metavar="DIR", help="output folder, new or empty (default ./modalax-NAME)")
    p.set_defaults(func=cmd_new_plugin)
