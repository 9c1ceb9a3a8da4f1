"""The fingerprint of a loader's stream, and the check that a saved state belongs to it.

A saved position ``(epoch, batch)`` means something only for the stream that produced it: the
same records (the source's type, size and cheap content signature, ``fingerprint_of``), in the
same order (seed, shuffle, batch size, drop_last; a mixture's weights), through the same
operators (their types and configs). The loader's state carries that fingerprint as JSON; a
restore compares it field by field and refuses a different stream with one ``ConfigError``
naming every field that differs (``old -> new``, with the path inside a nested field), unless the
caller names the fields it means to change (``allow_changes``). The number of processes and of
workers is not part of the stream: a global batch is the same whoever reads it, so a state
restores under another process or worker count (elastic resume).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from modalax._src.errors import ConfigError
from modalax._src.loader.chain import chain_fingerprint
from modalax._src.sources.base import fingerprint_of

__all__ = ["FIELDS", "allowed_fields", "check_fingerprint", "describe_changes", "is_epoch_aware", "stream_fingerprint"]

#: The fields of a stream fingerprint, in the order a mismatch names them.
FIELDS = (
    "source",
    "num_records",
    "signature",
    "mixture_weights",
    "batch_size",
    "seed",
    "shuffle",
    "drop_last",
    "operators",
)
_SHOWN = 80  # characters of a value shown in a message


def is_epoch_aware(source: Any) -> bool:
    """Whether ``source`` maps each epoch's positions to record ids itself (``epoch_records`` and
    ``record_source``: the epoch-aware source protocol the loader calls, which ``Mixture`` implements)."""
    return callable(getattr(source, "epoch_records", None)) and callable(getattr(source, "record_source", None))


def stream_fingerprint(
    source: Any, pipeline: Any, *, batch_size: int, seed: int, shuffle: bool, drop_last: bool
) -> dict[str, Any]:
    """The JSON fingerprint of the stream a loader yields (see the module docstring)."""
    weights = getattr(source, "weights", None) if is_epoch_aware(source) else None
    fp = {
        "source": f"{type(source).__module__}.{type(source).__qualname__}",
        "num_records": len(source),
        "signature": fingerprint_of(source),
        "mixture_weights": list(weights) if weights is not None else None,
        "batch_size": int(batch_size),
        "seed": int(seed),
        "shuffle": bool(shuffle),
        "drop_last": bool(drop_last),
        "operators": chain_fingerprint(pipeline),
    }
    return json.loads(json.dumps(fp))  # tuples as lists, as a saved state reads back


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _paths(old: Any, new: Any, path: str, out: list[str], limit: int = 3) -> None:
    """Up to ``limit`` leaf paths where ``old`` and ``new`` differ, as ``path: old -> new``."""
    if len(out) >= limit or old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            _paths(old.get(key, "<absent>"), new.get(key, "<absent>"), f"{path}.{key}", out, limit)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _paths(a, b, f"{path}[{i}]", out, limit)
        return
    out.append(f"{path}: {_short(old)} -> {_short(new)}")


def describe_changes(saved: dict[str, Any], current: dict[str, Any]) -> dict[str, list[str]]:
    """Per field that differs, its differences as ``path: saved -> current`` lines."""
    changes = {}
    for field in FIELDS:
        old, new = saved.get(field, "<absent>"), current.get(field, "<absent>")
        if old != new:
            lines: list[str] = []
            _paths(old, new, field, lines)
            changes[field] = lines
    return changes


def allowed_fields(allow_changes: bool | Iterable[str]) -> set[str]:
    """The fingerprint fields ``allow_changes`` names (all for True); ``ConfigError`` for an unknown one."""
    if isinstance(allow_changes, bool):
        return set(FIELDS) if allow_changes else set()
    if isinstance(allow_changes, str):
        allow_changes = [allow_changes]
    names = set(allow_changes)
    unknown = sorted(names - set(FIELDS))
    if unknown:
        raise ConfigError(f"load_state_dict.allow_changes: got unknown field(s) {unknown}; expected some of {FIELDS}")
    return names


def check_fingerprint(saved: Any, current: dict[str, Any], allow_changes: bool | Iterable[str] = False) -> None:
    """``ConfigError`` naming every field where ``saved`` differs from ``current`` and that is not allowed."""
    allowed = allowed_fields(allow_changes)
    if not isinstance(saved, dict):
        raise ConfigError(f"load_state_dict.fingerprint: got {type(saved).__name__}, expected the dict a state saves")
    changes = {f: lines for f, lines in describe_changes(saved, current).items() if f not in allowed}
    if not changes:
        return
    detail = "; ".join(line for lines in changes.values() for line in lines)
    raise ConfigError(
        f"load_state_dict: the state was saved by another stream; {len(changes)} field(s) differ "
        f"({', '.join(changes)}), saved -> this loader: {detail}. Expected a loader built as the one that saved "
        f"the state, or load_state_dict(state, allow_changes={sorted(changes)!r}) to continue anyway"
    )
