"""``modalax pack``: write a folder, a text file or a registered dataset into packed shards.

``SOURCE`` is a folder (its modality from ``--modality`` or from its files' extensions), a
text file (the ``text`` modality's ``file`` dataset), or ``MODALITY:DATASET_TYPE`` built
with ``--set`` options as ``modalax preview`` does. Arguments are checked before any work.
``--on-error skip`` packs files that fail to read or decode as masked, counted records.
``modalax pack --verify DIR`` reads a packed folder whole and checks it against its index.
``SOURCE``, ``--out`` and ``--verify`` may be URLs (``s3://``, ``gs://``, ``https://``, ...);
``--runner beam`` writes the shards in an Apache Beam pipeline, ``--beam-arg`` passing its
options through (``--beam-arg=--runner=DataflowRunner``).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

from modalax._src import registry
from modalax._src.cli_preview import check_out, parse_options, plan_dataset, positive_int, seed_arg
from modalax._src.errors import ConfigError, unknown_name_message
from modalax._src.install_hints import extra_hint
from modalax._src.remote import RemotePath, as_path

__all__ = ["add_pack_parser", "cmd_pack", "detect_modality"]


def _folder_modalities() -> list[str]:
    return [m for m in registry.list_modalities() if {"folder", "packed"} <= set(registry.list_datasets(m))]


def detect_modality(folder: Path | RemotePath) -> str:
    """The modality whose ``packed`` type claims most files of ``folder`` by extension; else ``ConfigError``."""
    files = folder.walk_files() if isinstance(folder, RemotePath) else [p for p in folder.rglob("*") if p.is_file()]
    suffixes = Counter(p.suffix.lower() for p in files)
    counts = {}
    for name in _folder_modalities():
        extensions = getattr(registry.get_dataset_factory(name, "packed"), "file_extensions", None)
        if extensions is not None:
            counts[name] = sum(suffixes[e] for e in set(extensions()))
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] == 0 or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        found = ", ".join(f"{n}: {c} files" for n, c in ranked) or "no folder modality installed"
        raise ConfigError(f"SOURCE {str(folder)!r}: cannot tell its modality ({found}); pass --modality")
    return ranked[0][0]


def _build(modality: str, dataset_type: str, options: dict[str, Any], seed: int, given: tuple[str, ...] = ()) -> Any:
    """Check ``options`` against the factory (from its source, before jax) and build the dataset."""
    return plan_dataset(modality, dataset_type, options, given=given).build(seed)


def source_dataset(args: argparse.Namespace) -> Any:
    """The dataset ``SOURCE`` names (see the module docstring)."""
    options = parse_options(args.set)
    source = as_path(args.source)
    if source.is_dir():
        modality = args.modality or detect_modality(source)
        if modality not in _folder_modalities():
            raise ConfigError("--modality: " + unknown_name_message("folder modality", modality, _folder_modalities()))
        return _build(modality, "folder", {"root": source, **options}, args.seed, given=("root",))
    if source.is_file():
        modality = args.modality or "text"
        return _build(modality, "file", {"path": source, **options}, args.seed, given=("path",))
    modality, sep, dataset_type = args.source.partition(":")
    if not sep or not modality or not dataset_type:
        raise ConfigError(
            f"SOURCE: got {args.source!r}, which is not a folder, a file or MODALITY:DATASET_TYPE "
            "(e.g. image:synthetic)"
        )
    return _build(modality, dataset_type, options, args.seed)


def _verify(args: argparse.Namespace) -> int:
    from modalax._src.packed.integrity import verify

    given = [flag for flag, value in (("SOURCE", args.source), ("--out", args.out)) if value is not None]
    if given:
        raise ConfigError(f"--verify: got {' and '.join(given)} too; expected `modalax pack --verify DIR` alone")
    print(verify(as_path(args.verify)).summary())
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    """Build the source dataset and pack it into ``--out`` (or, with ``--verify DIR``, check a pack)."""
    import importlib.util

    if importlib.util.find_spec("array_record") is None:  # reported before any work, without importing jax
        raise ModuleNotFoundError(
            f"packing needs the array_record package, which is not installed: {extra_hint('packed')}"
        )
    if args.verify is not None:
        return _verify(args)
    if args.out is None:
        raise ConfigError("--out: required; expected the output folder (new or empty)")
    if args.source is None:
        raise ConfigError("SOURCE: required; expected a folder, a text file or MODALITY:DATASET_TYPE")
    out = as_path(args.out)
    if isinstance(out, Path):
        check_out(out)
    if args.runner == "local" and args.beam_arg:
        raise ConfigError("--beam-arg: given without --runner beam; expected it with --runner beam only")
    if out.is_dir() and any(out.iterdir()):
        from modalax._src.packed.index import incomplete_files

        found = incomplete_files(out)
        held = f" (an incomplete pack: {found[0]!r} without index.json; delete the folder first)" if found else ""
        raise ConfigError(f"--out: {str(out)!r} is not empty{held}; expected a new or empty folder")
    dataset = source_dataset(args)
    from modalax._src.packed import pack

    index = pack(
        dataset,
        out,
        shards=args.shards,
        modality=args.modality,
        progress=not args.no_progress,
        on_error=args.on_error,
        runner=args.runner,
        pipeline_options=list(args.beam_arg) if args.runner == "beam" else None,
    )
    what = f"{index.modality} " if index.modality else ""
    skipped = f", {len(index.skipped)} skipped" if index.skipped else ""
    print(f"packed {index.num_records} {what}records{skipped} into {len(index.shards)} shard(s): {out / 'index.json'}")
    return 0


def add_pack_parser(sub: Any) -> None:
    """Declare ``modalax pack`` on the sub-command action ``sub``."""
    summary = "write a folder, a text file or a registered dataset into ArrayRecord shards"
    p = sub.add_parser(
        "pack",
        help=summary,
        description=f"{summary[0].upper()}{summary[1:]}. Every argument is checked before any work.",
    )
    p.add_argument(
        "source",
        metavar="SOURCE",
        nargs="?",
        help="a folder, a text file, or MODALITY:DATASET_TYPE such as image:synthetic (required unless --verify)",
    )
    p.add_argument("--out", default=None, metavar="DIR", help="output folder, new or empty (required unless --verify)")
    p.add_argument("--verify", default=None, metavar="DIR", help="check a packed folder against its checksums instead")
    p.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default=None,
        metavar="MODE",
        help="a file that cannot be read or decoded: fail, or pack it as a masked record (default: the source's)",
    )
    p.add_argument("--shards", type=positive_int, default=1, metavar="N", help="number of shard files (default 1)")
    p.add_argument(
        "--modality", default=None, metavar="NAME", help="modality of SOURCE (default: from the files' extensions)"
    )
    p.add_argument("--seed", type=seed_arg, default=0, metavar="S", help="seed of generated datasets (default 0)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a dataset option or a field of the modality's config, as in `modalax preview` (repeatable; default none)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: show one)")
    p.add_argument(
        "--runner",
        choices=("local", "beam"),
        default="local",
        help=f"write the shards in this process (default) or in an Apache Beam pipeline ({extra_hint('beam')})",
    )
    p.add_argument(
        "--beam-arg",
        action="append",
        default=[],
        metavar="FLAG",
        help="a Beam pipeline option, e.g. --beam-arg=--runner=DataflowRunner (repeatable; default: the "
        "DirectRunner with 2 worker processes)",
    )
    p.set_defaults(func=cmd_pack)
