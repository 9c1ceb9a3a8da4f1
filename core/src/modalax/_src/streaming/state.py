"""The streaming loader's resume position as plain JSON, and its validation on the way back in.

A position is where the stream is, not a batch number: per reader its cursor (shard slot and
sample position), the interleave's turn, the identities ``[shard, position]`` of the records in
the shuffle buffer (in slot order) and the buffer's number of draws, the batches and records
of the epoch so far, and what was skipped or dropped. Its size is ``O(readers + buffer size)``:
about 20 bytes of JSON per buffered record. Restoring reopens each reader's shard at its
cursor (passing over the samples before it without decoding them) and reads the buffered
records again (decoding only those): a raw re-read of the shards' prefixes, the price of a
format without random access.

The settings that decide the order (seed, batch size, drop_last, shard order, buffer size,
readers, processes, the shard list) must match the loader that saved the state, else the
rest would be the rest of another run.
"""

from __future__ import annotations

import json
from typing import Any

from modalax._src.errors import ConfigError

__all__ = ["STATE_KIND", "STATE_VERSION", "parse_state"]

STATE_VERSION = 1
STATE_KIND = "stream"
MATCHED = (
    "seed",
    "batch_size",
    "drop_last",
    "shuffle_shards",
    "shuffle_buffer",
    "readers",
    "process_index",
    "process_count",
    "num_shards",
    "shards_crc",
    "batches_per_epoch",
)
MAX_SKIPPED_MESSAGES = 1000  # a state keeps the first messages; the count is always exact


def _as_dict(state: Any) -> dict[str, Any]:
    if isinstance(state, str | bytes):
        try:
            state = json.loads(state)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"load_state_dict: got a string that is not valid JSON ({exc})") from None
    if not isinstance(state, dict):
        raise ConfigError(f"load_state_dict: got {type(state).__name__}, expected a dict (or its JSON)")
    return state


def _int(state: dict[str, Any], field: str, lo: int = 0) -> int:
    value = state.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ConfigError(f"load_state_dict.{field}: got {value!r}, expected an int >= {lo}")
    return value


def _pairs(state: dict[str, Any], field: str) -> list[tuple[int, int]]:
    value = state.get(field)
    ok = isinstance(value, list) and all(
        isinstance(p, list | tuple)
        and len(p) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in p)
        for p in value
    )
    if not ok:
        raise ConfigError(f"load_state_dict.{field}: got {value!r:.80}, expected a list of [int, int] pairs")
    return [(int(a), int(b)) for a, b in value]  # type: ignore[union-attr]


def parse_state(state: Any, mine: dict[str, Any], num_epochs: int | None) -> dict[str, Any]:
    """The saved position, checked against this loader's settings (``mine``); ``ConfigError`` otherwise."""
    state = _as_dict(state)
    if state.get("kind") != STATE_KIND or state.get("version") != STATE_VERSION:
        raise ConfigError(
            f"load_state_dict: got kind {state.get('kind')!r} version {state.get('version')!r}, expected kind "
            f"{STATE_KIND!r} version {STATE_VERSION} (the state of a StreamingLoader)"
        )
    for field in MATCHED:
        if state.get(field) != mine[field]:
            raise ConfigError(
                f"load_state_dict.{field}: got {state.get(field)!r}, expected {mine[field]!r} "
                "(the loader must be built as the one that saved the state)"
            )
    out: dict[str, Any] = {
        f: _int(state, f) for f in ("epoch", "batch", "records", "draws", "turn", "dropped", "skipped_count")
    }
    out["streams"] = _pairs(state, "streams")
    out["buffer"] = _pairs(state, "buffer")
    if len(out["streams"]) != mine["readers"]:
        raise ConfigError(f"load_state_dict.streams: got {len(out['streams'])} cursors, expected {mine['readers']}")
    active = state.get("active")
    if not isinstance(active, list) or not all(isinstance(a, int) and 0 <= a < mine["readers"] for a in active):
        raise ConfigError(f"load_state_dict.active: got {active!r}, expected reader indices below {mine['readers']}")
    if active and out["turn"] >= len(active):
        raise ConfigError(f"load_state_dict.turn: got {out['turn']}, expected an index into active {active}")
    out["active"] = list(active)
    skipped = state.get("skipped")
    if not isinstance(skipped, list) or not all(isinstance(s, str) for s in skipped):
        raise ConfigError("load_state_dict.skipped: expected a list of messages")
    out["skipped"] = list(skipped)
    if num_epochs is not None and out["epoch"] > num_epochs:
        raise ConfigError(
            f"load_state_dict.epoch: got {out['epoch']}, but this loader runs {num_epochs} epoch(s); expected a "
            "position inside the run"
        )
    return out


def epoch_start(epoch: int, readers: int) -> dict[str, Any]:
    """The position at the start of ``epoch``."""
    return {
        "epoch": epoch,
        "batch": 0,
        "records": 0,
        "streams": [(0, 0)] * readers,
        "active": list(range(readers)),
        "turn": 0,
        "buffer": [],
        "draws": 0,
    }
