"""Who may register which name: every name lives in a namespace that one distribution owns.

A record's namespace is a modality's own name, the ``modality`` of a dataset, operator or
adapter, and the first dotted part of a kernel (``audio`` for ``audio.mel_spectrogram``). The
owner of namespace ``N`` is

1. the distribution ``N`` is reserved for (``RESERVED_NAMES``: the official plugins' names),
2. else the distributions that register modality ``N``,
3. else the distribution whose plugin id (entry-point name) is ``N``.

A plugin registers freely in the namespaces it owns. In another's namespace it may add only
names that start with its plugin id and ``_`` (``image/acme_faces``, kernel ``image.acme_blur``),
so an add-on never takes a name the owner may want. Anything else is a *squat*: the record is
not registered and the problem names both distributions (a warning; an error in strict mode).
Command names of core's own sub-commands are reserved too. Runtime registrations
(``modalax.register``) are the user's own and are not checked. Cost: one pass over the records
discovery found.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from modalax._src.records import (
    AdapterRecord,
    CommandRecord,
    DatasetRecord,
    KernelRecord,
    ModalityRecord,
    OperatorRecord,
)

__all__ = [
    "CORE_COMMANDS",
    "RESERVED_COMMANDS",
    "RESERVED_NAMES",
    "Squat",
    "find_squats",
    "namespace_of",
    "reserved_for",
]

#: Namespaces reserved for a distribution, whether or not it is installed.
RESERVED_NAMES: dict[str, str] = {
    "image": "modalax-image",
    "text": "modalax-text",
    "audio": "modalax-audio",
    "multimodal": "modalax-multimodal",
    "core": "modalax",
    "modalax": "modalax",
}
#: Sub-commands of the ``modalax`` command itself.
CORE_COMMANDS = ("bench", "info", "list", "new-plugin", "new_plugin", "pack", "plugins", "preview")
#: Sub-commands reserved for an official plugin.
RESERVED_COMMANDS: dict[str, str] = {"demo": "modalax-multimodal"}


@dataclass(frozen=True)
class Squat:
    """A record a distribution may not register, and why."""

    record: Any
    message: str
    owners: tuple[str, ...] = field(default=())


def namespace_of(record: Any) -> str | None:
    """The namespace a record's name lives in (None for commands)."""
    if isinstance(record, ModalityRecord):
        return record.name
    if isinstance(record, DatasetRecord | OperatorRecord | AdapterRecord):
        return record.modality
    if isinstance(record, KernelRecord):
        return record.name.split(".", 1)[0]
    return None


def reserved_for(name: str) -> str | None:
    """The distribution a namespace is reserved for, or None."""
    return RESERVED_NAMES.get(name)


def _canonical(distribution: str) -> str:
    return distribution.lower().replace("_", "-").replace(".", "-")


def _label(record: Any) -> str:
    kind = {
        ModalityRecord: "modality",
        DatasetRecord: "dataset",
        OperatorRecord: "operator",
        AdapterRecord: "adapter",
        KernelRecord: "kernel",
        CommandRecord: "command",
    }[type(record)]
    if isinstance(record, DatasetRecord | OperatorRecord):
        return f"{kind} '{record.modality}/{record.name}'"
    if isinstance(record, AdapterRecord):
        return f"{kind} '{record.modality}/{record.model_family}'"
    return f"{kind} {record.name!r}"


def _owners(plugins: Sequence[tuple[str, str, Iterable[Any]]]) -> tuple[dict[str, set[str]], dict[str, str]]:
    """Namespace -> distributions registering it as a modality; plugin id -> distribution."""
    modalities: dict[str, set[str]] = {}
    ids: dict[str, str] = {}
    for plugin_id, dist, records in plugins:
        ids[plugin_id] = dist
        for record in records:
            if isinstance(record, ModalityRecord):
                modalities.setdefault(record.name, set()).add(dist)
    return modalities, ids


def find_squats(plugins: Sequence[tuple[str, str, Sequence[Any]]]) -> dict[int, Squat]:
    """Squats among ``(plugin id, distribution, records)`` of one discovery, keyed by ``id(record)``."""
    modalities, ids = _owners(plugins)
    found: dict[int, Squat] = {}
    for plugin_id, dist, records in plugins:
        for record in records:
            squat = _check(record, plugin_id, dist, modalities, ids)
            if squat is not None:
                found[id(record)] = squat
    return found


def _check(
    record: Any, plugin_id: str, dist: str, modalities: dict[str, set[str]], ids: dict[str, str]
) -> Squat | None:
    mine = _canonical(dist)
    if isinstance(record, CommandRecord):
        if record.name in CORE_COMMANDS or record.name.replace("_", "-") in CORE_COMMANDS:
            return Squat(
                record, f"{_label(record)} is a command of modalax itself ('modalax'), but {dist!r} registers it"
            )
        owner = RESERVED_COMMANDS.get(record.name)
        if owner is not None and _canonical(owner) != mine:
            return Squat(record, f"{_label(record)} is reserved for {owner!r}, but {dist!r} registers it", (owner,))
        return None
    space = namespace_of(record)
    assert space is not None
    reserved = reserved_for(space)
    if reserved is not None:
        if _canonical(reserved) == mine:
            return None
        if isinstance(record, ModalityRecord) or not record_name(record).startswith(f"{plugin_id}_"):
            return Squat(
                record,
                f"{_label(record)} is in namespace {space!r}, reserved for {reserved!r}, but {dist!r} registers it"
                + _addon_hint(record, plugin_id),
                (reserved,),
            )
        return None
    if isinstance(record, ModalityRecord):
        return None  # two distributions registering one modality: the registry's conflict rule
    owners = modalities.get(space)
    if owners is None:
        owner_by_id = ids.get(space)
        owners = {owner_by_id} if owner_by_id is not None else set()
    if mine in {_canonical(o) for o in owners} or record_name(record).startswith(f"{plugin_id}_"):
        return None
    if owners:
        names = ", ".join(repr(o) for o in sorted(owners))
        return Squat(
            record,
            f"{_label(record)} is in namespace {space!r}, owned by {names}, but {dist!r} registers it"
            + _addon_hint(record, plugin_id),
            tuple(sorted(owners)),
        )
    return Squat(
        record,
        f"{_label(record)} ({dist!r}) is in namespace {space!r}, which no installed plugin owns; register modality "
        f"{space!r} too, or use the plugin id {plugin_id!r} as the namespace",
    )


def record_name(record: Any) -> str:
    """The part of a record's key below its namespace (``synthetic`` of ``image/synthetic``)."""
    if isinstance(record, AdapterRecord):
        return record.model_family
    if isinstance(record, KernelRecord):
        return record.name.split(".", 1)[1]
    return str(record.name)


def _addon_hint(record: Any, plugin_id: str) -> str:
    if isinstance(record, ModalityRecord):
        return "; choose another modality name"
    return f"; an add-on may use names starting with '{plugin_id}_' there"
