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
``CheckpointManager`` needs no handler registry. Needs ``pip install modalax[orbax]``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

try:
    import orbax.checkpoint as ocp
except ImportError as exc:  # the extra is optional
    raise ImportError(
        "modalax.checkpoint needs orbax-checkpoint, which is not installed; expected `pip install modalax[orbax]`"
    ) from exc

import jax

from modalax._src.errors import ConfigError, DataError

__all__ = ["LoaderCheckpointHandler", "LoaderRestore", "LoaderSave", "state_filename"]


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
            present = sorted(p.name for p in directory.iterdir()) if directory.exists() else []
            raise DataError(
                f"loader checkpoint {str(path)!r} does not exist (the folder has {present}); expected one file "
                "per process, saved with as many processes as now"
            )
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
