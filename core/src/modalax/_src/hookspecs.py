"""pluggy hook specifications of the ``modalax`` entry-point group.

Each hook receives a ``register`` callback; the plugin calls it once per record.  Core calls
each plugin's implementations one plugin at a time, so it knows who registered what.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "modalax"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[[Any], None]


@hookspec
def register_modalities(register: Register) -> None:
    """Register modalities: ``register(ModalityRecord(...))``."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register dataset types: ``register(DatasetRecord(...))``."""


@hookspec
def register_adapters(register: Register) -> None:
    """Register model adapters: ``register(AdapterRecord(...))``."""


@hookspec
def register_kernels(register: Register) -> None:
    """Register jittable kernels: ``register(KernelRecord(...))``."""


@hookspec
def register_operators(register: Register) -> None:
    """Register operator classes: ``register(OperatorRecord(...))``."""


@hookspec
def register_commands(register: Register) -> None:
    """Register ``modalax`` CLI sub-commands: ``register(CommandRecord(...))``."""


HOOK_RECORDS: dict[str, str] = {
    "register_modalities": "ModalityRecord",
    "register_datasets": "DatasetRecord",
    "register_adapters": "AdapterRecord",
    "register_kernels": "KernelRecord",
    "register_operators": "OperatorRecord",
    "register_commands": "CommandRecord",
}
