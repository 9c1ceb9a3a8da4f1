"""``modalax preview``: write what a person opens to check a dataset.

Every argument is checked before any work: ``--n`` and ``--seed`` by argparse, the modality
and dataset type by the registry, ``--set`` keys against the factory's signature, ``--out``
for being a writable folder; each failure is one ``modalax: error:`` line (exit 2).
"""

from __future__ import annotations

import argparse
import ast
import inspect
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from modalax._src import registry
from modalax._src.errors import ConfigError, ModalaxError, unknown_name_message
from modalax._src.records import resolve

__all__ = ["add_preview_parser", "check_options", "check_out", "cmd_preview", "factory_parameters", "parse_options"]


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a positive integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"got {value}, expected a positive integer")
    return value


def seed_arg(text: str) -> int:
    """argparse type: a seed in ``[0, 2**64)``."""
    from modalax._src.random import check_seed

    try:
        return check_seed("seed", int(text))
    except (ValueError, ConfigError):
        raise argparse.ArgumentTypeError(f"got {text!r}, expected an integer seed in [0, 2**64)") from None


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``["k=1", "s=abc"]`` as ``{"k": 1, "s": "abc"}`` (Python literals where they parse)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ConfigError(f"--set: got {pair!r}, expected key=value with key a Python identifier")
        if key in options:
            raise ConfigError(f"--set: {key!r} is given twice; expected each key once")
        try:
            options[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            options[key] = raw
    return options


def factory_parameters(factory: Callable[..., Any]) -> dict[str, inspect.Parameter] | None:
    """The parameters a dataset factory takes (None when it has no inspectable signature).

    For a class, those of ``__init__`` without ``self``: ``nnx.Module`` classes report a bare
    ``(*args, **kwargs)`` through their metaclass.
    """
    try:
        if isinstance(factory, type):
            cls: type[Any] = factory  # the class object, so __init__ is the unbound function
            params = list(inspect.signature(cls.__init__).parameters.values())[1:]
            return {p.name: p for p in params}
        return dict(inspect.signature(factory).parameters)
    except (TypeError, ValueError):  # a C callable
        return None


def check_options(factory: Callable[..., Any], options: dict[str, Any], what: str) -> None:
    """Raise ``ConfigError`` for a ``--set`` key the factory does not take, or a missing required one."""
    params = factory_parameters(factory)
    if params is None:
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    names = [n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY)]
    for key in options:
        if key not in names:
            raise ConfigError(f"--set {key}=...: " + unknown_name_message(f"option of {what}", key, names))
    missing = [
        n
        for n, p in params.items()
        if p.default is inspect.Parameter.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and n not in options
        and n != "rngs"
    ]
    if missing:
        raise ConfigError(f"{what} needs {', '.join(f'--set {n}=...' for n in missing)}")


def check_out(out: Path) -> None:
    """Raise ``ConfigError`` unless ``out`` is, or can be made, a writable folder."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: got {str(out)!r}, which is a file; expected a folder")
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"--out: cannot write to {str(out)!r} ({str(probe)!r} is not a writable folder)")


def cmd_preview(args: argparse.Namespace) -> int:
    """Build the dataset, take ``--n`` records and hand them to the modality's previewer."""
    record = registry.get_modality_record(args.modality)
    factory = registry.get_dataset_factory(args.modality, args.dataset)
    if record.previewer is None:
        raise ConfigError(f"modality {args.modality!r} registers no previewer; nothing to write")
    what = f"{args.modality}/{args.dataset}"
    options = parse_options(args.set)
    check_options(factory, options, what)
    out = Path(args.out)
    check_out(out)

    import numpy as np

    if "rngs" in (factory_parameters(factory) or {}) and "rngs" not in options:
        from flax import nnx

        from modalax._src.random import seed_key

        options["rngs"] = nnx.Rngs(seed_key(args.seed))
    dataset = factory(**options)
    size = len(dataset)
    if size == 0:
        raise ConfigError(f"{what}: the dataset is empty; nothing to preview")
    idx = np.arange(min(args.n, size), dtype=np.int32)
    fetch = getattr(dataset, "fetch", None)
    batch = dict(fetch(idx) if fetch is not None else dataset.get_records(idx))
    previewer = resolve(record.previewer)
    extra = {"dataset": dataset} if "dataset" in inspect.signature(previewer).parameters else {}
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = previewer(batch, out, **extra)
    except OSError as exc:
        raise ModalaxError(f"--out: cannot write to {str(out)!r}: {exc.strerror or exc}") from exc
    for path in written:
        print(path)
    return 0


def add_preview_parser(sub: Any) -> None:
    """Declare ``modalax preview`` on the sub-command action ``sub``."""
    p = sub.add_parser("preview", help="write sample pictures/sounds/text of a dataset")
    p.add_argument("modality")
    p.add_argument("dataset")
    p.add_argument("--n", type=positive_int, default=16, help="number of samples, at least 1 (default 16)")
    p.add_argument("--out", default="preview-output", help="output folder (created if needed)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed in [0, 2**64) (default 0)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dataset option, e.g. --set pattern_type=circles (repeatable)",
    )
    p.set_defaults(func=cmd_preview)
