"""The loader's resume position as plain JSON, and its validation on the way back in.

A state names the next batch, ``(epoch, batch)``, and carries the fingerprint of the stream
that batch belongs to (``modalax._src.loader.stream``): resuming another stream would yield
batches of a different run, so a mismatch is refused, naming every field that differs, unless
the caller allows those changes. States of version 1 (no fingerprint) are still read, with
their five settings checked as they were then. Epochs reach the jitted step as two 32-bit
words (see ``epoch_words``), so any epoch below 2^63 augments distinctly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from modalax._src.errors import ConfigError
from modalax._src.loader.stream import allowed_fields, check_fingerprint

__all__ = ["MAX_EPOCH", "STATE_VERSION", "epoch_words", "fold_epoch", "parse_state"]

STATE_VERSION = 2
MAX_EPOCH = 2**63 - 1
_MATCHED = ("seed", "shuffle", "batch_size", "drop_last", "num_records")  # what a version 1 state checks


def epoch_words(epochs: np.ndarray) -> np.ndarray:
    """``(n, 2)`` int32 words ``[low 32 bits, high 32 bits]`` of int64 epochs (bit patterns kept)."""
    epochs = np.asarray(epochs, np.int64)
    low = (epochs & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
    high = (epochs >> 32).astype(np.int32)
    return np.stack([low, high], axis=-1)


def _as_dict(state: Any) -> dict[str, Any]:
    if isinstance(state, str | bytes):
        try:
            state = json.loads(state)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"load_state_dict: got a string that is not valid JSON ({exc}); expected the JSON of "
                "loader.state_dict()"
            ) from None
    if not isinstance(state, dict):
        raise ConfigError(f"load_state_dict: got {type(state).__name__}, expected a dict (or its JSON)")
    return state


def _count(state: dict[str, Any], field: str, upper: int) -> int:
    value = state.get(field)
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= value <= upper:
        raise ConfigError(f"load_state_dict.{field}: got {value!r}, expected an int in [0, {upper}]")
    return int(value)


def parse_state(
    state: Any,
    mine: dict[str, Any],
    batches_per_epoch: int,
    num_epochs: int | None,
    allow_changes: bool | Iterable[str] = False,
) -> tuple[tuple[int, int], bool]:
    """``((epoch, batch), finished)`` of a saved state; ``ConfigError`` naming what does not fit.

    ``mine`` is the loader's own state (its fingerprint must match the saved one, but for the
    fields in ``allow_changes``). ``finished`` is True for the state of a run that has yielded
    all its epochs (``(num_epochs, 0)``).
    """
    state = _as_dict(state)
    version = state.get("version")
    if version == 1:
        allowed = allowed_fields(allow_changes)
        for field in _MATCHED:
            if field not in allowed and state.get(field) != mine[field]:
                raise ConfigError(
                    f"load_state_dict.{field}: got {state.get(field)!r}, expected {mine[field]!r} "
                    "(the loader must be built as the one that saved the state)"
                )
    elif version == STATE_VERSION:
        saved = state.get("fingerprint")
        if isinstance(saved, dict):  # the readable copies beside the position are the saved values too
            saved = {**saved, **{f: state[f] for f in _MATCHED if f in state}}
        check_fingerprint(saved, mine["fingerprint"], allow_changes)
    elif version != 1:
        raise ConfigError(f"load_state_dict.version: got {version!r}, expected {STATE_VERSION} (or 1)")
    epoch = _count(state, "epoch", MAX_EPOCH - 1)
    batch = _count(state, "batch", batches_per_epoch)
    if batch == batches_per_epoch:
        epoch, batch = epoch + 1, 0
    if num_epochs is not None and (epoch, batch) > (num_epochs, 0):
        raise ConfigError(
            f"load_state_dict.epoch: got epoch {state['epoch']} batch {state['batch']}, but this loader runs "
            f"{num_epochs} epoch(s) of {batches_per_epoch} batches; expected a position inside the run"
        )
    return (epoch, batch), num_epochs is not None and epoch == num_epochs


@jax.jit  # eagerly, the cond below was traced and compiled anew for every epoch (~0.17 s each)
def fold_epoch(key: jax.Array, words: jax.Array) -> jax.Array:
    """Fold an epoch given as ``epoch_words`` into ``key``; the high word only when it is not 0.

    Epochs below 2^32 thus get the keys of a plain ``fold_in(key, epoch)``, and later epochs
    never repeat an earlier epoch's augmentation (a 32-bit fold would wrap at 2^32).
    """
    key = jax.random.fold_in(key, jax.lax.bitcast_convert_type(words[0], jnp.uint32))
    return jax.lax.cond(words[1] == 0, lambda k: k, lambda k: jax.random.fold_in(k, words[1]), key)
