"""``modalax preview``: write what a person opens to check a dataset.

Every argument is checked before jax is imported: ``--samples`` and ``--seed`` by argparse, the
modality and dataset type by the registry, ``--set`` keys against the factory's parameters and
its modality's config fields (read from their source, ``cli_signature``), a ``root`` folder for
existing, ``--out`` for being a writable folder; each failure is one ``modalax: error:`` line
(exit 2). Then the dataset is built, a sample is drawn and handed to the modality's previewer.

The sample: a labelled folder (class sub-folders) gives a seeded draw spread over the classes,
the same files for the same ``--seed``; any other dataset gives its first records, in order.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from modalax._src import registry
from modalax._src.errors import ConfigError, ModalaxError, unknown_name_message

__all__ = [
    "MAX_PREVIEW",
    "PreviewPlan",
    "add_preview_parser",
    "check_options",
    "check_out",
    "choose_indices",
    "cmd_preview",
    "factory_parameters",
    "parse_options",
    "plan_dataset",
]

#: The most records one preview writes: a grid of 256 tiles is already more than a person reads.
MAX_PREVIEW = 256
# Set from the command line in another way: the config through its fields (or a dict literal), the
# keys through --seed.
_NOT_SETTABLE = {"config": "its fields instead", "rngs": "--seed instead", "seed": "--seed instead"}
_PLACEHOLDER = {"root": "DIR", "path": "FILE"}


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a positive integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"got {value}, expected a positive integer")
    return value


def preview_count(text: str) -> int:
    """argparse type: a number of records to preview, 1 to ``MAX_PREVIEW``."""
    value = positive_int(text)
    if value > MAX_PREVIEW:
        raise argparse.ArgumentTypeError(
            f"got {value}, expected at most {MAX_PREVIEW} (a preview is for looking at; "
            "`modalax pack` or the DataLoader read whole datasets)"
        )
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


def _params_of(factory: Any) -> Any:
    """``Params`` of a factory: read from its source when it is a ``"module:attr"`` string, else inspected."""
    from modalax._src.cli_signature import Params, static_parameters

    found = static_parameters(factory)
    if found is not None:
        return found
    from modalax._src.records import resolve

    params = factory_parameters(resolve(factory))
    if params is None:
        return None
    kinds = inspect.Parameter
    names = tuple(
        n for n, p in params.items() if p.kind not in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD, kinds.POSITIONAL_ONLY)
    )
    required = tuple(
        n for n in names if params[n].default is inspect.Parameter.empty and params[n].kind is not kinds.VAR_POSITIONAL
    )
    config = params.get("config")
    annotation = None if config is None or config.annotation is inspect.Parameter.empty else config.annotation
    if annotation is not None and not isinstance(annotation, str):
        annotation = getattr(annotation, "__name__", str(annotation))
    return Params(names, required, any(p.kind is kinds.VAR_KEYWORD for p in params.values()), annotation)


def _config_fields(config_class: Any) -> tuple[str, ...]:
    """Init fields of a modality's config class (a ``"module:Class"`` string is read from its source)."""
    if config_class is None:
        return ()
    if isinstance(config_class, str):
        from modalax._src.cli_signature import static_config_fields

        found = static_config_fields(config_class)
        if found is not None:
            return found
        from modalax._src.records import resolve

        config_class = resolve(config_class)
    if dataclasses.is_dataclass(config_class):
        return tuple(f.name for f in dataclasses.fields(config_class) if f.init)
    return ()


def _takes_config(params: Any, config_class: Any) -> bool:
    """Whether the factory's ``config`` parameter takes the modality's config class (unannotated or ``Any`` too)."""
    if "config" not in params.names or config_class is None:
        return False
    annotation = params.config_annotation
    name = config_class.rpartition(":")[2] if isinstance(config_class, str) else getattr(config_class, "__name__", "")
    return annotation is None or annotation == "Any" or (bool(name) and name in annotation)


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


@dataclasses.dataclass
class PreviewPlan:
    """A dataset to build, checked: its factory, the ``--set`` options split into factory and config ones."""

    what: str
    factory: Any
    config_class: Any
    options: dict[str, Any]
    config_options: dict[str, Any]
    takes: tuple[str, ...]

    def build(self, seed: int) -> Any:
        """Import the factory (and jax) and build the dataset, seeding it from ``seed``."""
        from modalax._src.records import resolve

        options = dict(self.options)
        if self.config_options:
            options["config"] = resolve(self.config_class)(**self.config_options)
        if "rngs" in self.takes:
            from flax import nnx

            from modalax._src.random import seed_key

            options["rngs"] = nnx.Rngs(seed_key(seed))
        elif "seed" in self.takes:
            options["seed"] = seed
        return resolve(self.factory)(**options)


def plan_dataset(
    modality: str, dataset_type: str, options: dict[str, Any], *, given: Sequence[str] = ()
) -> PreviewPlan:
    """Check ``options`` (the ``--set`` ones plus the command's own, named in ``given``) against the factory.

    Keys the factory takes go to it; keys that are fields of the modality's config build that
    config (when the factory takes one); ``config``, ``rngs`` and ``seed`` are refused. Nothing
    heavy is imported unless a factory's source cannot be read (see ``cli_signature``).
    """
    record = registry.get_modality_record(modality)
    dataset = registry.current().get(
        "datasets", (modality, dataset_type), label=f"{modality} dataset type", choices=registry.list_datasets(modality)
    )[0]
    what = f"{modality}/{dataset_type}"
    params = _params_of(dataset.factory)
    if params is None:  # a C callable: the factory checks its own arguments
        return PreviewPlan(what, dataset.factory, record.config_class, dict(options), {}, ())
    fields = _config_fields(record.config_class) if _takes_config(params, record.config_class) else ()
    settable = [n for n in params.names if n not in _NOT_SETTABLE]
    settable += [f for f in fields if f not in params.names]
    factory_options: dict[str, Any] = {}
    config_options: dict[str, Any] = {}
    for key, value in options.items():
        if key == "config" and isinstance(value, dict) and "config" in params.names:
            pass  # a dict literal of config fields, as the factory accepts it
        elif key in _NOT_SETTABLE and key not in given and (key in params.names or params.var_keyword):
            raise ConfigError(f"--set {key}=...: cannot be given on the command line; use {_NOT_SETTABLE[key]}")
        if key in params.names or key in given:
            factory_options[key] = value
        elif key in fields:
            config_options[key] = value
        elif params.var_keyword:
            factory_options[key] = value  # a factory taking **options checks their names itself
        else:
            raise ConfigError(f"--set {key}=...: " + unknown_name_message(f"option of {what}", key, settable))
    for name, kind in (("root", "folder"), ("path", "file")):
        if name in params.names and name not in factory_options and "files" not in factory_options:
            raise ConfigError(f"{what} needs --set {name}={_PLACEHOLDER[name]} (the {kind} to read)")
        value = factory_options.get(name)
        if isinstance(value, str | os.PathLike) and "://" not in str(value):
            found = Path(value).is_dir() if name == "root" else Path(value).exists()
            if not found:
                raise ConfigError(f"--set {name}={value}: no such {kind}; expected the {kind} to read")
    if "config" in factory_options and config_options:
        raise ConfigError(f"--set: got config=... and its fields {sorted(config_options)}; expected one or the other")
    missing = [n for n in params.required if n not in factory_options and n not in _NOT_SETTABLE]
    if missing:
        needs = ", ".join(f"--set {n}={_PLACEHOLDER.get(n, '...')}" for n in missing)
        raise ConfigError(f"{what} needs {needs}")
    return PreviewPlan(what, dataset.factory, record.config_class, factory_options, config_options, params.names)


def choose_indices(dataset: Any, n: int, seed: int) -> Any:
    """Which records to preview: a seeded draw spread over the classes of a labelled folder, else the first ``n``.

    For labelled folders, classes take turns (in a seeded order), each giving a seeded random
    file, so 16 tiles of 3 classes show 5 or 6 of each; the picks come back grouped by class.
    """
    import numpy as np

    size = len(dataset)
    n = min(n, size)
    labels = _cheap_labels(dataset)
    if labels is None:
        return np.arange(n, dtype=np.int32)
    rng = np.random.default_rng(seed)
    pools = [rng.permutation(np.flatnonzero(labels == c)).tolist() for c in rng.permutation(np.unique(labels))]
    picks: list[int] = []
    while len(picks) < n:
        for pool in pools:
            if pool and len(picks) < n:
                picks.append(pool.pop())
    picks.sort(key=lambda i: (int(labels[i]), i))
    return np.asarray(picks, dtype=np.int32)


def _cheap_labels(dataset: Any) -> Any:
    """The per-record labels of a labelled folder dataset, known without decoding a file; else None."""
    from modalax._src.files import FolderDataset

    if not isinstance(dataset, FolderDataset) or not dataset.labelled:
        return None
    return dataset.files.labels


def cmd_preview(args: argparse.Namespace) -> int:
    """Check every argument, build the dataset, draw the sample and hand it to the modality's previewer."""
    record = registry.get_modality_record(args.modality)
    if record.previewer is None:
        registry.current().get("datasets", (args.modality, args.dataset), label=f"{args.modality} dataset type")
        raise ConfigError(f"modality {args.modality!r} registers no previewer; nothing to write")
    plan = plan_dataset(args.modality, args.dataset, parse_options(args.set))
    out = Path(args.out)
    check_out(out)

    from modalax._src.records import resolve

    dataset = plan.build(args.seed)
    if len(dataset) == 0:
        raise ConfigError(f"{plan.what}: the dataset is empty; nothing to preview")
    idx = choose_indices(dataset, args.samples, args.seed)
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
    summary = "write sample pictures, sounds or text of a dataset to look at"
    p = sub.add_parser(
        "preview",
        help=summary,
        description=f"{summary[0].upper()}{summary[1:]}. Every argument is checked before any data is read.",
    )
    p.add_argument("modality", help="a modality name (see `modalax list`), e.g. image")
    p.add_argument("dataset", help="one of its dataset types, e.g. synthetic or folder")
    p.add_argument(
        "--samples",
        "--n",
        dest="samples",
        type=preview_count,
        default=16,
        metavar="N",
        help=f"how many records to write, 1 to {MAX_PREVIEW} (default 16)",
    )
    p.add_argument(
        "--out",
        default="preview-output",
        metavar="DIR",
        help="output folder, created if needed (default preview-output)",
    )
    p.add_argument(
        "--seed",
        type=seed_arg,
        default=0,
        metavar="S",
        help="seed in [0, 2**64) of generated data and of the files drawn from a folder (default 0)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a dataset option or a field of the modality's config, e.g. --set root=photos/ --set resize_mode=pad "
        "(repeatable; values are Python literals or plain text; default none)",
    )
    p.set_defaults(func=cmd_preview)
