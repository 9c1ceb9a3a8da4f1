"""Frozen records a plugin passes to the ``register`` callback of each hook.

Factories may be objects or ``"module:attr"`` strings; strings keep the hook module light,
because nothing heavy is imported until the thing is first used.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modalax._src.errors import ConfigError, PluginError

__all__ = [
    "AdapterRecord",
    "CommandRecord",
    "DatasetRecord",
    "KernelRecord",
    "ModalityRecord",
    "OperatorRecord",
    "resolve",
]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: What the leading axis of a kernel's example holds (see ``KernelRecord``).
BATCH_AXES = ("records", "mixed", "none")
_KERNEL = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


def _check_name(kind: str, value: object, pattern: re.Pattern[str], expected: str) -> None:
    if not isinstance(value, str) or not pattern.match(value):
        raise ConfigError(f"{kind}: got {value!r}, expected {expected}")


def resolve(target: Any) -> Any:
    """Import ``"pkg.module:attr"`` strings; return any other object unchanged."""
    if not isinstance(target, str):
        return target
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"factory: got {target!r}, expected 'package.module:attribute'")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise PluginError(f"cannot import {module_name!r} (from {target!r}): {exc!r}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise PluginError(f"{module_name!r} has no attribute {attr!r} (from {target!r})") from exc
    return obj


@dataclass(frozen=True)
class ModalityRecord:
    """A modality: its name, its class (or ``"module:attr"``) and its config class.

    ``previewer(batch, out_dir, *, dataset=None) -> list[Path]`` writes preview files of a batch
    (``modalax preview``) and returns them.
    ``decoder(source, config, **options) -> record`` turns one file (a path or its bytes) into
    a record: the single decode path of the modality, which its folder and packed datasets and
    any foreign source (HF ``datasets`` columns) use, so a file gives the same values through
    every door. ``extensions()`` lists the file extensions the decoder reads (``".png"``).
    """

    name: str
    modality_class: type | str
    description: str = ""
    config_class: type | str | None = None
    previewer: Callable[..., Any] | str | None = None
    decoder: Callable[..., Any] | str | None = None
    extensions: Callable[[], Any] | str | None = None

    def __post_init__(self) -> None:
        _check_name("modality name", self.name, _NAME, "lower-case letters, digits and '_'")


@dataclass(frozen=True)
class DatasetRecord:
    """A dataset type of a modality, built by ``factory(**kwargs)``."""

    modality: str
    name: str
    factory: Callable[..., Any] | str
    description: str = ""

    def __post_init__(self) -> None:
        _check_name("dataset modality", self.modality, _NAME, "a modality name")
        _check_name("dataset type", self.name, _NAME, "lower-case letters, digits and '_'")


@dataclass(frozen=True)
class AdapterRecord:
    """An adapter that builds models of ``model_family`` for ``modality``."""

    modality: str
    model_family: str
    adapter: type | str
    description: str = ""

    def __post_init__(self) -> None:
        _check_name("adapter modality", self.modality, _NAME, "a modality name")
        _check_name("adapter model_family", self.model_family, _NAME, "lower-case letters, digits and '_'")


@dataclass(frozen=True)
class KernelRecord:
    """A pure jittable function; core jits it once with ``static_argnames``.

    ``example() -> (args, kwargs)`` gives a small call (arrays with a leading batch axis in
    ``args``, static values in ``kwargs``): the conformance kit jits the kernel on it and, when
    ``batch_axis="records"`` (the default: each record is computed on its own), checks that each
    record's output equals the kernel applied to that record alone. ``"mixed"`` declares a kernel
    that combines the records of a batch by design (MixUp, a contrastive loss) and ``"none"`` one
    without a batch axis; the kit then checks that the example jits and gives finite values.
    """

    name: str
    fn: Callable[..., Any] | str
    static_argnames: tuple[str, ...] = ()
    description: str = ""
    example: Callable[[], Any] | str | None = None
    batch_axis: str = "records"

    def __post_init__(self) -> None:
        _check_name("kernel name", self.name, _KERNEL, "a qualified name like 'audio.mel_spectrogram'")
        object.__setattr__(self, "static_argnames", tuple(self.static_argnames))
        if self.batch_axis not in BATCH_AXES:
            raise ConfigError(f"kernel {self.name!r}.batch_axis: got {self.batch_axis!r}, expected one of {BATCH_AXES}")


@dataclass(frozen=True)
class OperatorRecord:
    """An operator class of a modality (a ``ModalityOperator`` subclass) and its config class.

    ``config_class`` may be left out when the operator class annotates ``config: TheConfig``;
    ``modalax.get_operator_config(modality, name)`` finds it either way. ``example() -> (config,
    batch)`` gives the conformance kit a config and a small batch to run the operator on (without
    one it runs the default config on the modality's generated records).
    """

    modality: str
    name: str
    operator_class: type | str
    description: str = ""
    config_class: type | str | None = None
    example: Callable[[], Any] | str | None = None

    def __post_init__(self) -> None:
        _check_name("operator modality", self.modality, _NAME, "a modality name")
        _check_name("operator name", self.name, _NAME, "lower-case letters, digits and '_'")


@dataclass(frozen=True)
class CommandRecord:
    """A ``modalax`` CLI sub-command contributed by a plugin.

    ``add_arguments(parser)`` declares options; ``run(args) -> int`` executes it.
    """

    name: str
    run: Callable[..., int] | str
    help: str = ""
    add_arguments: Callable[..., None] | str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        _check_name("command name", self.name, _NAME, "lower-case letters, digits and '_'")
