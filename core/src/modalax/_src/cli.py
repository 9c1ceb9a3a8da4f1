"""The ``modalax`` command line: plugins, list, info, preview, bench, and plugin commands.

``plugins`` and ``list`` import no jax: they read registration records only.  A user error
(a ``ModalaxError``, an ``OSError``, a missing optional package, a bad argument) prints one
``modalax: error: ...`` line and exits 2; anything else is a bug: one line naming it, exit 1,
and the full traceback with ``--traceback`` or ``MODALAX_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import sys
import textwrap
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from modalax._src import registry
from modalax._src.cli_preview import check_out
from modalax._src.discovery import env_flag
from modalax._src.errors import (
    ConfigError,
    ModalaxError,
    PluginError,
    UnknownNameError,
    closest_match,
    unknown_name_message,
)
from modalax._src.plugins_table import fit, plugin_detail, plugins_table
from modalax._src.records import resolve

BUILTIN_COMMANDS = ("plugins", "list", "info", "preview", "bench", "pack", "new-plugin")


class UsageError(ModalaxError):
    """A command line argparse rejected (unknown option, bad value)."""


_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")
_UNRECOGNIZED = re.compile(r"unrecognized arguments: (.*)")


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one ``modalax: error:`` line, not usage + exit.

    A mistyped command or option gets "did you mean" (argparse of Python 3.11 gives none).
    """

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}{self._suggestion(message)} (see '{self.prog} --help')")

    def _suggestion(self, message: str) -> str:
        choice = _CHOICE.search(message)
        if choice is not None:
            names = [c.strip().strip("'") for c in choice.group(2).split(",")]
            hint = closest_match(choice.group(1), names)
            return f"; did you mean {hint!r}?" if hint else ""
        unknown = _UNRECOGNIZED.search(message)
        if unknown is None:
            return ""
        options = [o for action in self._all_actions() for o in action.option_strings]
        hints = []
        for word in unknown.group(1).split():
            hint = closest_match(word.split("=", 1)[0], options) if word.startswith("-") else None
            if hint:
                hints.append(f"{hint!r} for {word!r}")
        return f"; did you mean {', '.join(hints)}?" if hints else ""

    def _all_actions(self) -> list[argparse.Action]:
        """This parser's options and, for the top-level parser, those of every sub-command."""
        actions = list(self._actions)
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for parser in action.choices.values():
                    actions += parser._actions
        return actions


def _width() -> int:
    return max(60, min(shutil.get_terminal_size((100, 24)).columns, 200))


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*map(str, r)).rstrip() for r in rows]
    return "\n".join(lines)


def cmd_plugins(args: argparse.Namespace) -> int:
    """Table (one row per plugin, counts per kind) or full JSON records of the plugins."""
    infos = registry.list_plugins()
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], indent=2))
        return 0
    if not infos:
        print("no modalax plugins installed (entry-point group 'modalax')")
        return 0
    width = _width()
    print(plugins_table(infos, width))
    problems = [message for message, _ in registry.current().problems]
    if problems:
        print(f"problems ({len(problems)}):")
        for message in problems:
            print(textwrap.fill(message, width, initial_indent="  - ", subsequent_indent="    "))
    if any(i.status in ("failed", "incompatible") for i in infos):
        print(fit("full errors: modalax info PLUGIN_ID, or modalax plugins --json", width))
    return 1 if problems and args.strict else 0


def cmd_list(args: argparse.Namespace) -> int:
    """Names of everything registered."""
    sections = {
        "modalities": registry.list_modalities(),
        "datasets": registry.list_datasets(),
        "kernels": registry.list_kernels(),
        "operators": registry.list_operators(),
        "adapters": registry.list_adapters(),
    }
    if args.json:
        print(json.dumps(sections, indent=2))
        return 0
    for title, names in sections.items():
        print(f"{title} ({len(names)}): {', '.join(names) if names else '-'}")
    return 0


def _config_fields(config_cls: Any) -> list[list[str]]:
    if config_cls is None or not dataclasses.is_dataclass(config_cls):
        return []
    rows = []
    for f in dataclasses.fields(config_cls):
        if f.default is not dataclasses.MISSING:
            default = repr(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = repr(f.default_factory())
        else:
            default = "(required)"
        rows.append([f.name, str(f.type), default])
    return rows


def cmd_info(args: argparse.Namespace) -> int:
    """Details of one modality (config fields, datasets, kernels, ...) or of one plugin id."""
    name = args.name
    plugins = {p.id: p for p in registry.list_plugins()}
    if args.plugin or name not in registry.list_modalities():
        if name in plugins:
            print(plugin_detail(plugins[name], _width()))
            return 0
        if args.plugin:
            raise UnknownNameError(unknown_name_message("plugin id", name, plugins))
        choices = set(registry.list_modalities()) | set(plugins)
        raise UnknownNameError(unknown_name_message("modality or plugin id", name, choices))
    record = registry.get_modality_record(name)
    owner = registry.owner_of("modalities", (name,))
    version = next((p.version for p in registry.list_plugins() if p.distribution == owner), "")
    print(f"modality {name!r} from {owner} {version}".rstrip())
    if record.description:
        print(f"  {record.description}")
    cls = resolve(record.modality_class)
    print(f"class: {cls.__module__}.{cls.__qualname__}")
    config_cls = resolve(record.config_class) if record.config_class else None
    if config_cls is not None:
        print(f"config: {config_cls.__module__}.{config_cls.__qualname__}")
        print(_table(_config_fields(config_cls), ["field", "type", "default"]))
    for title, names in (
        ("dataset types", registry.list_datasets(name)),
        ("kernels", registry.list_kernels(prefix=f"{name}.")),
        ("operators", [n.split("/", 1)[1] for n in registry.list_operators(name)]),
        ("adapters", [n.split("/", 1)[1] for n in registry.list_adapters(name)]),
    ):
        print(f"{title}: {', '.join(names) if names else '-'}")
    if name in plugins:
        print(f"(a plugin has the id {name!r} too: modalax info --plugin {name})")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run ``benchmarks/run_all.py`` of a modalax checkout (the peers must be installed)."""
    import runpy

    script = Path(args.root) / "benchmarks" / "run_all.py"
    if not script.is_file():
        raise ConfigError(f"bench --root: no {script} here; run it from a modalax checkout (or `nox -s bench`)")
    rest = list(args.rest)
    if rest[:1] == ["--"]:  # `modalax bench -- --quick`: the separator is ours, not the script's
        rest = rest[1:]
    if not any(a == "--out" or a.startswith("--out=") for a in rest):
        # the script's own default is the tracked docs/benchmarks.md: only `--out` (or nox -s bench) writes there
        out = Path(args.out)
        check_out(out.parent)
        rest += ["--out", str(out)]
        print(f"modalax bench: results go to {out} (--out docs/benchmarks.md updates the published page)")
    sys.argv = [str(script), *rest]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def _plugin_command(command: Any, sub: Any) -> None:
    """Add one plugin-contributed sub-command; a broken one fails only when it is run."""
    if command.name in BUILTIN_COMMANDS:
        warnings.warn(
            f"plugin command {command.name!r} clashes with the built-in command of that name; it is ignored",
            RuntimeWarning,
            stacklevel=2,
        )
        return
    summary = command.help or ""
    p = sub.add_parser(
        command.name, help=summary, description=(summary[:1].upper() + summary[1:] + ".") if summary else None
    )
    try:
        if command.add_arguments is not None:
            resolve(command.add_arguments)(p)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a plugin's fault: only its own command is broken
        problem = PluginError(f"command {command.name!r}: add_arguments failed: {type(exc).__name__}: {exc}")

        def broken(_args: argparse.Namespace, problem: PluginError = problem) -> int:
            raise problem

        p.set_defaults(func=broken)
        return
    p.set_defaults(func=lambda a, c=command: resolve(c.run)(a))


def _command(sub: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """A sub-command with its one-line summary (in ``modalax --help``) as its description too."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=summary, description=summary[0].upper() + summary[1:] + "."
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, including plugin-contributed sub-commands."""
    from modalax._src.cli_new_plugin import add_new_plugin_parser
    from modalax._src.cli_pack import add_pack_parser
    from modalax._src.cli_preview import add_preview_parser

    parser = _Parser(prog="modalax", description="JAX-native multi-modal data loading: inspect plugins, preview data")
    parser.add_argument(
        "--traceback", action="store_true", help="show the full traceback of an error (also MODALAX_DEBUG=1)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = _command(sub, "plugins", "list discovered plugins, one row each")
    p.add_argument("--json", action="store_true", help="print the full records as JSON")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when any plugin failed, is incompatible, or registers a name it does not own",
    )
    p.set_defaults(func=cmd_plugins)
    p = _command(sub, "list", "list the registered modalities, dataset types, kernels, operators and adapters")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_list)
    p = _command(sub, "info", "show one modality (config fields, datasets, kernels...) or one plugin")
    p.add_argument("name", metavar="NAME", help="a modality name or a plugin id (see `modalax plugins`)")
    p.add_argument("--plugin", action="store_true", help="NAME is a plugin id, even where a modality has that name")
    p.set_defaults(func=cmd_info)
    add_preview_parser(sub)
    add_pack_parser(sub)
    add_new_plugin_parser(sub)
    p = _command(sub, "bench", "run the benchmarks of a modalax checkout against their peers")
    p.add_argument("--root", default=".", metavar="DIR", help="the checkout holding benchmarks/run_all.py (default .)")
    p.add_argument(
        "--out",
        default="bench-results.md",
        metavar="FILE",
        help="where the results go (default bench-results.md; docs/benchmarks.md is the published page)",
    )
    p.add_argument(
        "rest",
        nargs=argparse.REMAINDER,
        metavar="-- SCRIPT_OPTIONS",
        help="options of benchmarks/run_all.py after --, e.g. -- --quick --only image (default none)",
    )
    p.set_defaults(func=cmd_bench)
    for command in registry.list_commands():
        _plugin_command(command, sub)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    print(f"modalax: warning: {_one_line(message) if isinstance(message, Warning) else message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``modalax`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--traceback" in argv[:1] or (
        os.environ.get("MODALAX_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")
    )
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            env_flag("MODALAX_DEBUG")  # a bad value is named like every other
            args = build_parser().parse_args(argv)
            return int(args.func(args) or 0)
        except SystemExit as exc:  # --help, or a plugin command calling sys.exit
            if isinstance(exc.code, int) or exc.code is None:
                return exc.code or 0
            print(f"modalax: error: {exc.code}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("modalax: interrupted", file=sys.stderr)
            return 130
        except (ModalaxError, OSError, ModuleNotFoundError) as exc:
            if debug:
                raise
            print(f"modalax: error: {_one_line(exc)}", file=sys.stderr)
            return 2
        except Exception as exc:
            if debug:
                raise
            print(
                f"modalax: error: internal error {type(exc).__name__}: {fit(_one_line(exc), 300)} "
                "(a bug: rerun with --traceback or MODALAX_DEBUG=1 and report it)",
                file=sys.stderr,
            )
            return 1


if __name__ == "__main__":
    raise SystemExit(main())
