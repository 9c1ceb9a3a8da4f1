"""The ``modalax`` command line: plugins, list, info, preview, bench, and plugin commands.

``plugins`` and ``list`` import no jax: they read registration records only.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modalax import registry
from modalax.errors import ModalaxError
from modalax.records import resolve


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*map(str, r)) for r in rows]
    return "\n".join(lines)


def cmd_plugins(args: argparse.Namespace) -> int:
    """Table (or JSON) of discovered plugins."""
    infos = registry.list_plugins()
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], indent=2))
        return 0
    if not infos:
        print("no modalax plugins installed (entry-point group 'modalax')")
        return 0
    rows = []
    for info in infos:
        what = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in sorted(info.registered.items()))
        rows.append([info.id, info.distribution, info.version, info.status, info.error or what])
    print(_table(rows, ["id", "distribution", "version", "status", "registered / error"]))
    return 1 if any(i.status == "failed" for i in infos) and args.strict else 0


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
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = repr(f.default_factory())  # type: ignore[misc]
        else:
            default = "(required)"
        rows.append([f.name, str(f.type), default])
    return rows


def cmd_info(args: argparse.Namespace) -> int:
    """Details of one modality: config fields, datasets, kernels, operators, adapters, owner."""
    name = args.name
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
    return 0


def _parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ModalaxError(f"--set: got {pair!r}, expected key=value")
        try:
            options[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            options[key] = raw
    return options


def cmd_preview(args: argparse.Namespace) -> int:
    """Write what a person opens to check a dataset (PNG grids, WAV, spectrograms, text)."""
    import numpy as np
    from flax import nnx

    factory = registry.get_dataset_factory(args.modality, args.dataset)
    options = _parse_options(args.set)
    params = inspect.signature(factory).parameters
    if "rngs" in params and "rngs" not in options:
        options["rngs"] = nnx.Rngs(args.seed)
    dataset = factory(**options)
    n = min(args.n, len(dataset))
    idx = np.arange(n, dtype=np.int32)
    fetch = getattr(dataset, "fetch", None)
    batch = dict(fetch(idx) if fetch is not None else dataset.get_records(idx))
    record = registry.get_modality_record(args.modality)
    if record.previewer is None:
        raise ModalaxError(f"modality {args.modality!r} registers no previewer; nothing to write")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    previewer = resolve(record.previewer)
    extra = {"dataset": dataset} if "dataset" in inspect.signature(previewer).parameters else {}
    written = previewer(batch, out, **extra)
    for path in written:
        print(path)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run ``benchmarks/run_all.py`` of a modalax checkout (the peers must be installed)."""
    import runpy

    script = Path(args.root) / "benchmarks" / "run_all.py"
    if not script.exists():
        raise ModalaxError(f"bench: no {script} here; run it from a modalax checkout (or `nox -s bench`)")
    sys.argv = [str(script), *args.rest]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, including plugin-contributed sub-commands."""
    parser = argparse.ArgumentParser(prog="modalax", description="JAX-native multi-modal data loading")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plugins", help="list discovered plugins")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--strict", action="store_true", help="exit 1 when a plugin failed")
    p.set_defaults(func=cmd_plugins)
    p = sub.add_parser("list", help="list modalities, datasets, kernels, operators, adapters")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("info", help="details of one modality")
    p.add_argument("name")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("preview", help="write sample pictures/sounds/text of a dataset")
    p.add_argument("modality")
    p.add_argument("dataset")
    p.add_argument("--n", type=int, default=16, help="number of samples (default 16)")
    p.add_argument("--out", default="preview-output", help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dataset option, e.g. --set pattern_type=circles (repeatable)",
    )
    p.set_defaults(func=cmd_preview)
    p = sub.add_parser("bench", help="run the benchmarks of a modalax checkout")
    p.add_argument("--root", default=".")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_bench)
    for command in registry.list_commands():
        p = sub.add_parser(command.name, help=command.help)
        if command.add_arguments is not None:
            resolve(command.add_arguments)(p)
        p.set_defaults(func=lambda a, c=command: resolve(c.run)(a))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``modalax`` console script."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except ModalaxError as exc:
        print(f"modalax: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
