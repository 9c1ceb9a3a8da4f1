"""The streaming loader's jitted operator step: per-record keys from ``(shard, position)``.

A ``DataLoader`` folds a record's index into its epoch key; a stream has no record index, so a
record's key folds its shard and then its position in the shard into the epoch key:
``fold_in(fold_in(epoch_key, shard), position)``. The key depends on the record's identity
only, never on where the shuffle buffer put it, so a record gets the same augmentation in
every run of a seed and in a resumed one. The operator chain runs as in ``BatchStep``
(``modalax._src.loader.step``): its rng state and, when it holds no variables, the rest of its
state are split off once and closed over; one jitted call per batch.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax._src.loader.state import epoch_words, fold_epoch
from modalax._src.loader.step import _split_rng
from modalax._src.random import seed_key

__all__ = ["StreamStep", "stream_record_keys"]

_KEY_SALT = 0x737472  # separates stream keys from a DataLoader's and a dataset's of the same seed


def stream_record_keys(epoch_key: jax.Array, shards: jax.Array, positions: jax.Array) -> jax.Array:
    """One key per record: ``fold_in(fold_in(epoch_key, shard), position)``, vectorised."""
    return jax.vmap(lambda s, p: jax.random.fold_in(jax.random.fold_in(epoch_key, s), p))(shards, positions)


class StreamStep:
    """``step(batch, epoch_words, shards, positions)`` runs ``pipeline`` on a host batch, on the device."""

    def __init__(self, pipeline: Any, seed: int) -> None:
        self.pipeline = pipeline
        self.stochastic = bool(pipeline.stochastic)
        self._base = jax.random.fold_in(seed_key(seed), _KEY_SALT)
        key_shape = jax.random.key_data(self._base).shape
        graphdef, rng_state, rest = _split_rng(pipeline)
        static = rest if not jax.tree.leaves(rest) else None
        self._static = static is not None
        stochastic = self.stochastic

        def run(batch: Any, state: Any, words: jax.Array, shards: jax.Array, positions: jax.Array) -> Any:
            keys = None
            if stochastic:
                raw = jax.lax.bitcast_convert_type(words, jnp.uint32).reshape(key_shape)
                keys = stream_record_keys(jax.random.wrap_key_data(raw), shards, positions)
            module = nnx.merge(graphdef, rng_state, static if static is not None else state)
            return module.pipeline_fn(batch, keys)

        self.fn = jax.jit(run)
        self._words: dict[int, np.ndarray] = {}

    def epoch_key(self, epoch: int) -> jax.Array:
        """The key whose folds with a record's shard and position give that record's key."""
        return fold_epoch(self._base, jnp.asarray(epoch_words(np.asarray([epoch]))[0]))

    def words(self, epoch: int) -> np.ndarray:
        """``epoch_key(epoch)``'s data as int32 words (zeros when no operator draws from it)."""
        if epoch not in self._words:
            if len(self._words) > 2:
                self._words.clear()
            if self.stochastic:
                data = np.asarray(jax.random.key_data(self.epoch_key(epoch)), np.uint32)
                self._words[epoch] = data.reshape(-1).view(np.int32)
            else:
                self._words[epoch] = np.zeros(int(np.prod(jax.random.key_data(self._base).shape)), np.int32)
        return self._words[epoch]

    def __call__(self, batch: Any, epoch: int, shards: np.ndarray, positions: np.ndarray) -> Any:
        state = None if self._static else _split_rng(self.pipeline)[2]
        return self.fn(batch, state, self.words(epoch), shards.astype(np.int32), positions.astype(np.int32))
