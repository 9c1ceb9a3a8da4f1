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
naming the step, the item and what the checkpoint holds. The handler itself tells a position
saved by another number of processes from an item saved by another handler.
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
        (directory / state_filename()).write_text(json.dumps(state, indent=2, sort_keys=True))

    def restore(self, directory: Any, args: LoaderRestore | None = None) -> Any:
        """Load this process's position into ``args.loader`` (returned); without args, the state dict."""
        path = directory / state_filename()
        if not path.exists():
            raise DataError(_missing_state(directory, path))
        try:
            state = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"loader checkpoint {str(path)!r} is not JSON ({exc}); expected a loader state") from exc
        if args is None:
            return state
        loader = _loader(args.loader, "LoaderRestore", "load_state_dict")
        try:
            loader.load_state_dict(state)
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
    """Restore the saved position into ``loader``: its next ``iter()`` resumes there."""

    loader: Any


def _step_handlers(step_dir: Any) -> dict[str, str]:
    """Item name -> handler type name, from the step's ``_CHECKPOINT_METADATA`` (empty when unreadable)."""
    try:
        meta = json.loads((step_dir / "_CHECKPOINT_METADATA").read_text())
        return {str(k): str(v) for k, v in (meta.get("item_handlers") or {}).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _missing_state(directory: Any, path: Any) -> str:
    """Why this process's file is absent: another process count, another handler, or a damaged item."""
    step, item = directory.parent.name, directory.name
    present = sorted(p.name for p in directory.iterdir()) if directory.exists() else []
    counts = sorted({int(m.group(2)) for m in map(_PROCESS_FILE.match, present) if m})
    where = f"item {item!r} of checkpoint step {step} ({str(path)!r})"
    if counts:
        return (
            f"{where}: no position for this process; it was saved by {', '.join(map(str, counts))} process(es), "
            f"this job runs {jax.process_count()} (expected as many processes as when it was saved)"
        )
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


def restore_checkpoint(manager: Any, step: int | None, loader: Any, *, item: str = "data", **items: Any) -> Any:
    """``manager.restore(step, Composite(item=LoaderRestore(loader), **items))`` after checking the step.

    ``step=None`` restores the latest. A missing step, a missing item, or an item saved by
    another handler is a ``DataError`` naming the step, the item and what the checkpoint holds.
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
    return manager.restore(step, args=ocp.args.Composite(**{item: LoaderRestore(loader)}, **items))
