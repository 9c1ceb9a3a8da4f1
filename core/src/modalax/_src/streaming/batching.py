"""A local batch of stream records on the device: stacked, through the operators, masked, placed.

Padding rows repeat the batch's own records (masked out), as a ``DataLoader`` pads with records
of the epoch, so operators never meet values a record could not hold; a batch of padding only
(a process out of records while the others go on) holds zeros of a record's structure. With a
``mesh`` or ``sharding`` each process's batch becomes its slice of global ``jax.Array`` s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.operators.fields import split_host_fields
from modalax._src.sources.checks import BatchSpec, check_batch
from modalax._src.sources.stack import merge_trees
from modalax._src.streaming.collate import collate, pad_record
from modalax._src.streaming.reader import SELECT, unpack
from modalax._src.streaming.step import StreamStep
from modalax._src.streaming.streams import Item

if TYPE_CHECKING:
    from modalax._src.streaming.loader import StreamingLoader

__all__ = ["BatchMaker"]


class BatchMaker:
    """``maker(items, real, epoch, fetcher, shards)``: the batch of ``items`` (the first ``real`` are records)."""

    def __init__(self, loader: StreamingLoader, step: StreamStep | None) -> None:
        self.loader, self.step = loader, step
        self.spec: BatchSpec | None = None  # the first batch's structure; later ones must match
        self.pad: dict[str, Any] | None = None  # a record's structure, for batches of padding only

    def _pad_template(self, fetcher: Any, shards: Sequence[int]) -> dict[str, Any]:
        if self.pad is None:  # restored into an epoch's padding: read one record for its structure
            chunk = fetcher.submit(0, np.asarray([SELECT, shards[0], 0], np.int64)).result()
            records = unpack(chunk)
            if not records:
                raise DataError(f"{self.loader.source.where(shards[0])}: no record to shape a batch of padding with")
            self.pad = pad_record(records[0])
        return self.pad

    def __call__(self, items: list[Item], real: int, epoch: int, fetcher: Any, shards: Sequence[int]) -> dict[str, Any]:
        loader = self.loader
        n = loader.local_batch
        if real:
            if self.pad is None:
                self.pad = pad_record(items[0].record)
            rows = [items[i % real] for i in range(n)]
            records = [it.record for it in rows]
            ids = np.asarray([(it.shard, it.pos) for it in rows], np.int64)
        else:
            records = [self._pad_template(fetcher, shards)] * n
            ids = np.zeros((n, 2), np.int64)
        where = loader.source.where
        batch = collate(records, lambda i: f"{where(int(ids[i, 0]))} position {int(ids[i, 1])}")
        arrays, host = split_host_fields(batch)
        self.spec = check_batch(type(loader.source).__name__, arrays, n, self.spec)
        if self.step is not None:
            out = dict(self.step(arrays, epoch, ids[:, 0], ids[:, 1]))
        else:
            out = dict(jax.tree.map(jnp.asarray, arrays))
        for name in (loader.mask_key, loader.index_key):
            if name in out or name in host:
                raise ConfigError(
                    f"StreamingLoader: the batch already has a field {name!r}; expected another mask_key/index_key"
                )
        if loader.pads:
            out[loader.mask_key] = np.arange(n) < real
        if loader.with_indices:
            out[loader.index_key] = ids.astype(np.int32)
        return merge_trees(self._place(out), host)

    def _place(self, batch: dict[str, Any]) -> dict[str, Any]:
        sharding = self.loader.sharding
        if sharding is None:
            return dict(jax.tree.map(lambda v: v if isinstance(v, jax.Array) else jnp.asarray(v), batch))
        size = self.loader.batch_size

        def to_global(x: Any) -> jax.Array:
            return jax.make_array_from_process_local_data(sharding, np.asarray(x), (size, *np.shape(x)[1:]))

        return dict(jax.tree.map(to_global, batch))
