"""How one batch is made: operator keys, the packed step inputs, the step, placement.

``DataLoader`` plans which records make each batch (``loader.py``); this mixin turns a block
of planned batches into batches. The step's inputs of a whole block (each batch's epoch key
words, record ids and mask as one int32 row) are built in one numpy call and, on an
accelerator, copied to the device at once: a numpy argument of a jitted call costs about
0.1 ms a copy on a GPU, most of a small step. A record's operator key is the epoch key folded
with the record id inside the step, so keys cost nothing per record on the host. A batch that
fails to read (``DataError``) becomes a ``BatchFailure`` the iterator raises in its place.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.loader.gather import host_take
from modalax._src.loader.state import MAX_EPOCH, epoch_words, fold_epoch
from modalax._src.loader.worker_stream import BatchFailure
from modalax._src.operators.fields import split_host_fields
from modalax._src.random import seed_key
from modalax._src.sources.checks import check_batch
from modalax._src.sources.file import VALID_KEY
from modalax._src.sources.stack import merge_trees

__all__ = ["BatchProduction"]

_KEY_SALT = 0x6D6F64  # separates loader keys from dataset keys derived from the same seed


@jax.jit
def _epoch_key_data(base: jax.Array, words: jax.Array) -> jax.Array:
    """``epoch_key``'s data in one dispatch (per epoch; eager, its three ops cost ~1 ms)."""
    return jax.random.key_data(fold_epoch(base, words))


class BatchProduction:
    """The batch-making half of ``DataLoader`` (its attributes are set by ``DataLoader.__init__``)."""

    # Set by DataLoader.__init__.
    plan: Any
    seed: int
    sharding: Any
    with_indices: bool
    mask_key: str
    index_key: str
    _step: Any
    _records: Any
    _spec: Any
    _traceable: bool
    _host_rows: bool
    _host_records: Any
    _host_arrays: Any
    _checked_names: set[bool]
    _salted: jax.Array | None
    _epoch_keys: dict[int, Any]

    def epoch_key(self, epoch: int) -> jax.Array:
        """The key whose fold with a record index gives that record's operator key."""
        if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or not 0 <= epoch < MAX_EPOCH:
            raise ConfigError(f"DataLoader.epoch_key: got epoch {epoch!r}, expected an int in [0, 2^63 - 1)")
        return fold_epoch(self._base_key(), jnp.asarray(epoch_words(np.asarray([epoch]))[0]))

    def _base_key(self) -> jax.Array:
        """The seed's key with the loader's salt folded in (eager jax ops: ~1 ms, so made once)."""
        if self._salted is None:
            self._salted = jax.random.fold_in(seed_key(self.seed), _KEY_SALT)
        return self._salted

    def _produce(
        self, indices: np.ndarray, mask: np.ndarray, packed: Any, read: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One batch: ``indices``/``mask`` on the host, ``packed`` (their device copy) for the step.

        ``read`` holds the records when a worker process read them already.
        """
        valid = None
        if self._traceable:
            out, device_indices, device_mask = self._step(self._step.gather_args, packed)
            host: dict[str, Any] = dict(self._host_records(indices)) if self._host_records is not None else {}
        else:
            if read is not None:
                records = read
            elif self._host_arrays is not None:
                records = host_take(self._host_arrays, indices)
            else:
                records = self._records.get_records(indices)
            if not isinstance(records, dict):
                raise DataError(
                    f"{type(self._records).__name__}.get_records returned {type(records).__name__}, "
                    "expected a dict of arrays"
                )
            records = dict(records)
            valid = records.pop(VALID_KEY, None)  # files skipped by on_error="skip"
            arrays, host = split_host_fields(records)
            self._spec = check_batch(type(self._records).__name__, arrays, len(indices), self._spec, indices=indices)
            if self._step.fn is not None:
                # The step combines the skip flags with the padding mask (and hands both to operators that read it).
                valid_arg = None if valid is None else np.asarray(valid, bool)
                out, device_indices, device_mask = self._step(arrays, packed, valid_arg)
            else:
                # One transfer call for every field; an aligned buffer is adopted without a copy on the CPU.
                wanted = (
                    indices.astype(np.int32) if self.with_indices else None,
                    (mask if valid is None else mask & np.asarray(valid, bool))
                    if not self.plan.drop_last or valid is not None
                    else None,
                )
                out, (device_indices, device_mask) = jax.device_put((arrays, wanted))
        if (valid is not None) not in self._checked_names:  # the fields are fixed by the first batch
            self._check_names(out, host, valid is not None)
        masked = not self.plan.drop_last or valid is not None
        if masked or self.with_indices:
            out = dict(out)  # the step's own dict is not extended in place
            if masked:
                out[self.mask_key] = device_mask
            if self.with_indices:
                out[self.index_key] = device_indices
        return self._place(out, host)

    def _check_names(self, out: dict[str, Any], host: dict[str, Any], masked: bool) -> None:
        """``ConfigError`` if the loader's own mask or index field would overwrite a batch field."""
        for param, name, wanted in (
            ("mask_key", self.mask_key, not self.plan.drop_last or masked),
            ("index_key", self.index_key, self.with_indices),
        ):
            # A chain that reads the mask passes it through: its step checked the batch it was given.
            inserted = param == "mask_key" and self._step.reads_mask
            if wanted and ((name in out and not inserted) or name in host):
                raise ConfigError(
                    f"DataLoader.{param}: the batch already has a field {name!r}; expected another name for the "
                    f"loader's own field ({param}='valid', say)"
                )
        self._checked_names.add(masked)

    def _epoch_key_words(self, epoch: int) -> np.ndarray:
        """``epoch_key(epoch)``'s data as int32 words (zeros when no operator draws from it).

        The next epoch's key is dispatched now and read when that epoch starts: read at once, it
        would wait for every batch queued on the device before it (a stall once per epoch).
        """
        if not self._step.stochastic:
            return np.zeros(self._step.key_words, np.int32)
        keys = self._epoch_keys
        for old in [e for e in keys if not epoch - 1 <= e <= epoch + 1]:
            del keys[old]  # an iterator spans one or two epochs at a time
        for e in (epoch, epoch + 1):
            if e < MAX_EPOCH and e not in keys:
                keys[e] = _epoch_key_data(self._base_key(), epoch_words(np.asarray([e]))[0])
        if not isinstance(keys[epoch], np.ndarray):
            keys[epoch] = np.asarray(keys[epoch], np.uint32).reshape(-1).view(np.int32)
        return keys[epoch]

    def _pack(self, block: list[tuple[int, int, np.ndarray, np.ndarray]]) -> list[Any]:
        """Per batch of the block, ``[*epoch key words, *indices, *mask]`` as one int32 row.

        On an accelerator the block goes to the device in one copy and is split there (a numpy
        argument costs ~0.1 ms a copy on a GPU). On the CPU backend the rows stay numpy: the
        jitted call takes them at the cost of a device row, and splitting a device array costs
        15-20 us a row there, on a loader's own per-batch cost of some 40 us.
        """
        if self._step.fn is None:
            return [None] * sum(len(idx) for _, _, idx, _ in block)
        width = self._step.key_words
        # A piece lies in one epoch: one key per piece (one or two a block), not one per batch.
        keys = [np.broadcast_to(self._epoch_key_words(e), (len(idx), width)) for e, _, idx, _ in block]
        indices = [idx for _, _, idx, _ in block]
        masks = [m for _, _, _, m in block]
        rows = np.concatenate([np.concatenate(part) for part in (keys, indices, masks)], axis=1, dtype=np.int32)
        if self._host_rows:
            return list(rows)
        if len(rows) == 1:  # a one-batch block needs no split on the device
            return [jnp.asarray(rows[0])]
        return list(jnp.asarray(rows))

    def _place(self, batch: dict[str, Any], host: dict[str, Any]) -> dict[str, Any]:
        """The batch's arrays (all ``jax.Array`` s already) assembled globally if sharded, with its host fields."""
        if self.sharding is None:
            return merge_trees(batch, host) if host else batch
        n = self.plan.batch_size

        def to_global(x: Any) -> jax.Array:
            return jax.make_array_from_process_local_data(self.sharding, x, (n, *np.shape(x)[1:]))

        return merge_trees(jax.tree.map(to_global, batch), host)

    def _produce_block(
        self, block: list[tuple[int, int, np.ndarray, np.ndarray]], records: Iterator[dict[str, Any]] | None = None
    ) -> Iterator[tuple[int, int, dict[str, Any]]]:
        if not block:
            return
        packed = iter(self._pack(block))
        for epoch, lo, idx, masks in block:
            for j in range(len(idx)):
                read = None if records is None else next(records)
                yield epoch, lo + j, self._produce_or_fail(idx[j], masks[j], next(packed), read)

    def _produce_or_fail(self, indices: np.ndarray, mask: np.ndarray, packed: Any, read: Any) -> Any:
        """``_produce``, or a ``BatchFailure`` that the iterator raises in the batch's place (the pass goes on)."""
        if isinstance(read, BatchFailure):
            return read
        try:
            return self._produce(indices, mask, packed, read)
        except DataError as exc:
            return BatchFailure(exc)
