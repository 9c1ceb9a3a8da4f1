"""Orbax checkpointing of a ``DataLoader``'s position, saved next to the model state.

The way grain's ``GrainCheckpointHandler`` works: the handler writes the loader's plain-JSON
``state_dict()`` into the checkpoint's item folder, one file per process
(``process_<index>-of-<count>.json``, so under multi-host each process saves and restores its
own position), and restores it with ``load_state_dict``::

    manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(nnx.state(model)), data=LoaderSave(loader)))
    restored = manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(nnx.state(model)), data=LoaderRestore(loader)))
    # the next iter(loader) yields the batch after the saved one

``LoaderSave``/``LoaderRestore`` are registered with ``LoaderCheckpointHandler``, so a
``CheckpointManager`` needs no handler registry. Needs orbax-checkpoint:
``python -m pip install "orbax-checkpoint>=0.6"`` (the ``orbax`` extra).

Orbax itself answers a save under a step that exists with ``False`` (the new position is
dropped) and a restore of a missing step or item with a bare ``FileNotFoundError`` or
``KeyError``; ``save_checkpoint``/``restore_checkpoint`` check first and raise a ``ModalaxError``
naming the step, the item and what the checkpoint holds. The handler itself tells an item
saved by another handler from a damaged one.

Elastic resume: the saved position is the *global* batch (every process saves the same one),
and the stream's fingerprint leaves out the process and worker counts. So a position saved by
N processes restores under M: a process whose own file is absent reads the files present,
checks that they agree (one position, one fingerprint) and continues the same global order.
The loader's fingerprint check applies as for ``load_state_dict`` (``LoaderRestore(loader,
allow_changes=...)`` continues a changed stream on purpose).

The position files are read and written through modalax's path helper, so a checkpoint folder
may be a URL of any filesystem fsspec knows (``gs://``, ``s3://``, ...; ``python -m pip install
"fsspec[http]>=2024.2"``) wherever Orbax itself can write the other items there.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from modalax._src.install_hints import extra_hint

try:
    import orbax.checkpoint as ocp
except ImportError as exc:  # the extra is optional
    raise ImportError(
        f"modalax.checkpoint needs orbax-checkpoint, which is not installed: {extra_hint('orbax')}"
    ) from exc

import jax

from modalax._src.errors import ConfigError, DataError
from modalax._src.remote import RemotePath, as_path

__all__ = [
    "LoaderCheckpointHandler",
    "LoaderRestore",
    "LoaderSave",
    "restore_checkpoint",
    "save_checkpoint",
    "state_filename",
]

_PROCESS_FILE = re.compile(r"^process_(\d+)-of-(\d+)\.json$")


def state_filename() -> str:
    """This process's file in a loader item: ``process_<index>-of-<count>.json``."""
    return f"process_{jax.process_index()}-of-{jax.process_count()}.json"


def _folder(directory: Any) -> Any:
    """Orbax's item folder (an ``epath.Path``, a path or a URL) as a ``Path`` or a ``RemotePath``."""
    return directory if isinstance(directory, RemotePath) else as_path(str(directory))


def _read_state(path: Any) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"loader checkpoint {str(path)!r} is not JSON ({exc}); expected a loader state") from exc
    if not isinstance(state, dict):
        raise DataError(f"loader checkpoint {str(path)!r} holds {type(state).__name__}, expected a loader state")
    return state


def _saved_state(directory: Any) -> tuple[dict[str, Any], Any]:
    """``(state, path)``: this process's file, or (elastic) the agreeing files of another process count."""
    path = directory / state_filename()
    if path.exists():
        return _read_state(path), path
    present = sorted(p for p in directory.iterdir() if _PROCESS_FILE.match(p.name)) if directory.exists() else []
    if not present:
        raise DataError(_missing_state(directory, path))
    states = {p.name: _read_state(p) for p in present}
    where = {name: (s.get("epoch"), s.get("batch")) for name, s in states.items()}
    first = next(iter(states.values()))
    strip = ("epoch", "batch")
    if any(
        {k: v for k, v in s.items() if k not in strip} != {k: v for k, v in first.items() if k not in strip}
        or where[name] != where[present[0].name]
        for name, s in states.items()
    ):
        positions = ", ".join(f"{name}: epoch {e} batch {b}" for name, (e, b) in where.items())
        raise DataError(
            f"item {directory.name!r} of checkpoint step {directory.parent.name}: the processes saved different "
            f"states ({positions}); expected one global position and stream, as every process of a job saves"
        )
    return first, present[0]


def _loader(obj: Any, owner: str, method: str) -> Any:
    loader = getattr(obj, "loader", obj) if not hasattr(obj, method) else obj
    if not hasattr(loader, method):
        raise ConfigError(f"{owner}.loader: got {type(obj).__name__}, expected a DataLoader (with {method})")
    return loader


class LoaderCheckpointHandler(ocp.CheckpointHandler):
    """Saves ``loader.state_dict()`` as JSON per process; restores with ``loader.load_state_dict``."""

    def save(self, directory: Any, args: LoaderSave) -> None:
        """Write this process's position (taken now, not when an async save finishes)."""
        state = _loader(args.loader, "LoaderSave", "state_dict").state_dict()
        (_folder(directory) / state_filename()).write_text(json.dumps(state, indent=2, sort_keys=True))

    def restore(self, directory: Any, args: LoaderRestore | None = None) -> Any:
        """Load the saved position into ``args.loader`` (returned); without args, the state dict.

        This process's file when the job has as many processes as the one that saved; else the
        position all the saved files agree on (elastic resume, see the module docstring).
        """
        state, path = _saved_state(_folder(directory))
        if args is None:
            return state
        loader = _loader(args.loader, "LoaderRestore", "load_state_dict")
        try:
            if args.allow_changes is False:  # loaders without the option (a StreamingLoader) restore as before
                loader.load_state_dict(state)
            else:
                loader.load_state_dict(state, allow_changes=args.allow_changes)
        except ConfigError as exc:
            raise ConfigError(f"loader checkpoint {str(path)!r}: {exc}") from exc
        return loader

    def metadata(self, directory: Any) -> None:
        """No metadata: the JSON file is the whole item."""
        return None

    def finalize(self, directory: Any) -> None:
        """Nothing to finalize: ``save`` writes the file completely."""

    def close(self) -> None:
        """No resources to release."""


#: How Orbax names this handler in a step's ``_CHECKPOINT_METADATA``.
_HANDLER = f"{LoaderCheckpointHandler.__module__}.{LoaderCheckpointHandler.__qualname__}"


@ocp.args.register_with_handler(LoaderCheckpointHandler, for_save=True)
@dataclasses.dataclass
class LoaderSave(ocp.args.CheckpointArgs):
    """Save ``loader``'s position (a ``DataLoader`` or its current iterator)."""

    loader: Any


@ocp.args.register_with_handler(LoaderCheckpointHandler, for_restore=True)
@dataclasses.dataclass
class LoaderRestore(ocp.args.CheckpointArgs):
    """Restore the saved position into ``loader``: its next ``iter()`` resumes there.

    ``allow_changes`` (True, or names of fingerprint fields) continues a stream that differs
    from the saved one in those fields, as ``DataLoader.load_state_dict`` does.
    """

    loader: Any
    allow_changes: Any = False


def _step_handlers(step_dir: Any) -> dict[str, str]:
    """Item name -> handler type name, from the step's ``_CHECKPOINT_METADATA`` (empty when unreadable)."""
    try:
        meta = json.loads((step_dir / "_CHECKPOINT_METADATA").read_text())
        return {str(k): str(v) for k, v in (meta.get("item_handlers") or {}).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _missing_state(directory: Any, path: Any) -> str:
    """Why no position file is there: another handler, or a damaged item."""
    step, item = directory.parent.name, directory.name
    present = sorted(p.name for p in directory.iterdir()) if directory.exists() else []
    where = f"item {item!r} of checkpoint step {step} ({str(path)!r})"
    handler = _step_handlers(directory.parent).get(item)
    if handler is not None and handler != _HANDLER:
        return (
            f"{where} was saved by {handler.rsplit('.', 1)[-1]} ({handler}), not by LoaderSave: it holds {present}, "
            "not a loader position (restore it with the args it was saved with, or restore the loader's item)"
        )
    return f"{where}: does not exist (the item holds {present}); expected the loader position saved by LoaderSave"


def _directory(manager: Any) -> str:
    return str(getattr(manager, "directory", "?"))


def save_checkpoint(manager: Any, step: int, loader: Any, *, item: str = "data", **items: Any) -> bool:
    """``manager.save(step, Composite(item=LoaderSave(loader), **items))``, refusing a step that exists.

    ``items`` are other Orbax items (``state=ocp.args.StandardSave(...)``). Returns what Orbax
    returns (False when the manager's save policy skips the step); a step already saved is a
    ``ConfigError`` naming it and its items, where Orbax would drop the new position silently.
    """
    steps = list(manager.all_steps())
    if step in steps:
        found = sorted(_handlers_of(manager, step))
        raise ConfigError(
            f"checkpoint step {step} in {_directory(manager)!r} is already saved (items {found}); expected a new "
            f"step number (delete it first with manager.delete({step}) to save it again)"
        )
    args = ocp.args.Composite(**{item: LoaderSave(loader)}, **items)
    return bool(manager.save(step, args=args))


def _handlers_of(manager: Any, step: int) -> dict[str, str]:
    try:
        handlers = manager.metadata(step).item_handlers
    except (OSError, ValueError, KeyError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in (handlers or {}).items()}


def restore_checkpoint(
    manager: Any,
    step: int | None,
    loader: Any,
    *,
    item: str = "data",
    allow_changes: Any = False,
    **items: Any,
) -> Any:
    """``manager.restore(step, Composite(item=LoaderRestore(loader), **items))`` after checking the step.

    ``step=None`` restores the latest. A missing step, a missing item, or an item saved by
    another handler is a ``DataError`` naming the step, the item and what the checkpoint holds.
    ``allow_changes`` goes to ``LoaderRestore`` (a changed stream continued on purpose).
    Returns Orbax's restored ``Composite`` (``restored[item]`` is ``loader``, positioned).
    """
    steps = sorted(manager.all_steps())
    if step is None:
        if not steps:
            raise DataError(f"no checkpoint in {_directory(manager)!r}; expected at least one saved step")
        step = steps[-1]
    if step not in steps:
        raise DataError(
            f"checkpoint step {step} not found in {_directory(manager)!r}; steps found: {steps}; "
            "expected one of them (or step=None for the latest)"
        )
    handlers = _handlers_of(manager, step)
    for name in (item, *items):
        if handlers and name not in handlers:
            raise DataError(
                f"checkpoint step {step} in {_directory(manager)!r} has no item {name!r}; it holds "
                f"{sorted(handlers)} (expected the items it was saved with)"
            )
    saved_by = handlers.get(item, _HANDLER)
    if saved_by != _HANDLER:
        raise DataError(
            f"item {item!r} of checkpoint step {step} in {_directory(manager)!r} was saved by "
            f"{saved_by.rsplit('.', 1)[-1]} ({saved_by}), not by LoaderSave; expected the loader's position "
            f"(items: {handlers})"
        )
    return manager.restore(step, args=ocp.args.Composite(**{item: LoaderRestore(loader, allow_changes)}, **items))
