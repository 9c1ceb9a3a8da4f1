"""``StreamingLoader``: batches of a stream with seeded shard order, a shuffle buffer and exact resume.

The loader of sources without random access (tar shards, HF ``IterableDataset``, Python
iterables), with the ``DataLoader``'s shape: ``batch_size`` (global), ``seed``,
``drop_last``, ``num_epochs``, ``operators`` (one key per record, from its shard and position),
``workers``, ``state_dict()``/``load_state_dict()``, and batches as dicts with a ``mask``.
What differs is what a stream allows: the order of an epoch is a seeded shard order, readers
interleaved and a shuffle buffer (``shuffle=True``, a global permutation, is refused), and
``len`` is known only when the shard sizes are (or ``batches_per_epoch`` fixes it).

Each of ``workers`` processes owns the readers ``r`` with ``r % workers`` equal to its index, and
reads and decodes their shards; the loader's process interleaves, buffers and batches. The
order depends on the seed, the number of processes and ``readers`` (default: ``workers``, at
least 1), never on timing; set ``readers`` to keep an order while changing ``workers``.
"""

from __future__ import annotations

import itertools
import pickle
import warnings
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.loader.worker_stream import DEFAULT_TIMEOUT_S
from modalax._src.loader.workers import WorkerPool, check_start_method, check_timeout
from modalax._src.operators.base import OperatorModule
from modalax._src.operators.compose import as_pipeline
from modalax._src.random import check_seed
from modalax._src.streaming.adapt import as_stream
from modalax._src.streaming.batching import BatchMaker
from modalax._src.streaming.buffer import ShuffleBuffer
from modalax._src.streaming.epoch import EpochRun, Tally
from modalax._src.streaming.iterator import StreamIterator
from modalax._src.streaming.plan import check_split, epoch_batches, names_digest, plan_epoch, process_records
from modalax._src.streaming.reader import ShardReader
from modalax._src.streaming.source import UnknownLengthError
from modalax._src.streaming.state import STATE_KIND, STATE_VERSION, epoch_start, parse_state
from modalax._src.streaming.step import StreamStep
from modalax._src.streaming.streams import Item, LocalFetcher, PoolFetcher

__all__ = ["StreamingLoader"]


def _count(name: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
        raise ConfigError(f"StreamingLoader.{name}: got {value!r}, expected an int >= {lo}")
    return int(value)


def _optional(name: str, value: Any, lo: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
        raise ConfigError(f"StreamingLoader.{name}: got {value!r}, expected an int >= {lo} or None")
    return int(value)


class StreamingLoader:
    """Batches of a streaming source (see the module docstring and ``docs/data-at-scale.md``).

    ``shuffle_shards`` permutes the shards per epoch from ``(seed, epoch)``; ``shuffle_buffer``
    mixes records within that many. Process ``p`` of ``P`` (``shard_index``/``num_shards``,
    default ``jax.process_index()``/``process_count()``) reads every ``P``-th shard of the
    epoch's order; with ``P > 1`` every process must yield as many batches, which needs the
    source's ``shard_sizes`` or ``batches_per_epoch``. ``chunk_size`` samples travel per request
    to a reader, ``read_ahead`` requests ahead.
    """

    def __init__(
        self,
        source: Any,
        batch_size: int,
        *,
        shuffle: bool = False,
        shuffle_shards: bool = False,
        shuffle_buffer: int = 0,
        seed: int = 0,
        drop_last: bool = False,
        num_epochs: int | None = 1,
        batches_per_epoch: int | None = None,
        operators: OperatorModule | Sequence[OperatorModule] | None = None,
        workers: int = 0,
        timeout: float | None = DEFAULT_TIMEOUT_S,
        start_method: str = "forkserver",
        readers: int | None = None,
        chunk_size: int = 64,
        read_ahead: int = 2,
        shard_index: int | None = None,
        num_shards: int | None = None,
        mesh: jax.sharding.Mesh | None = None,
        sharding: jax.sharding.Sharding | None = None,
        data_axis: str | None = None,
        prefetch: int | str = "auto",
        with_indices: bool = False,
        progress: bool = False,
        mask_key: str = "mask",
        index_key: str = "index",
    ) -> None:
        if shuffle:
            raise ConfigError(
                "StreamingLoader.shuffle: got True, but a stream has no global permutation (it cannot be read out of "
                "order without holding the epoch); expected shuffle_shards=True and shuffle_buffer=N (records mixed "
                "within N), or a random-access source with DataLoader"
            )
        self.source = as_stream(source)
        self.seed = check_seed("StreamingLoader.seed", seed)
        self.batch_size = _count("batch_size", batch_size, 1)
        self.shuffle_shards = bool(shuffle_shards)
        self.shuffle_buffer = _count("shuffle_buffer", shuffle_buffer, 0)
        self.drop_last = bool(drop_last)
        self.num_epochs = _optional("num_epochs", num_epochs, 1)
        self.batches_per_epoch = _optional("batches_per_epoch", batches_per_epoch, 1)
        self.workers = _count("workers", workers, 0)
        self.timeout = check_timeout("StreamingLoader", timeout)
        self.start_method = check_start_method("StreamingLoader", start_method)
        self.readers = _count("readers", max(1, self.workers) if readers is None else readers, 1)
        self.chunk_size = _count("chunk_size", chunk_size, 1)
        self.read_ahead = _count("read_ahead", read_ahead, 1)
        if self.workers > self.readers:
            raise ConfigError(
                f"StreamingLoader.workers: got {workers} with readers={self.readers}; expected workers <= readers "
                "(each worker reads whole readers' shards; more workers would idle)"
            )
        count = jax.process_count() if num_shards is None else _count("num_shards", num_shards, 1)
        index = (jax.process_index() if count == jax.process_count() else 0) if shard_index is None else shard_index
        self.process_count = int(count)
        self.process_index = _count("shard_index", index, 0)
        if self.process_index >= self.process_count:
            raise ConfigError(f"StreamingLoader.shard_index: got {index}, expected < num_shards={self.process_count}")
        if self.batch_size % self.process_count:
            raise ConfigError(
                f"StreamingLoader.batch_size: got {batch_size}, expected a multiple of num_shards={self.process_count} "
                "(batch_size is the global batch)"
            )
        self.local_batch = self.batch_size // self.process_count
        check_split(self.source.num_shards, self.process_count)
        if self.process_count > 1 and self.source.shard_sizes is None and self.batches_per_epoch is None:
            raise ConfigError(
                f"StreamingLoader: {self.process_count} processes must yield the same number of batches, but the "
                "source's shard sizes are unknown; expected the source's shard_sizes=[...] (count_samples() finds "
                "them) or batches_per_epoch=N"
            )
        self._check_one_pass()
        if prefetch == "auto":
            prefetch = 1
        self.prefetch = _count("prefetch", prefetch, 0)
        self.with_indices, self.mask_key, self.index_key = bool(with_indices), mask_key, index_key
        self.progress = bool(progress)
        # Several processes yield a common count of batches; one process ends an epoch with its stream.
        self._equal_counts = self.process_count > 1 or self.batches_per_epoch is not None
        self.pads = not self.drop_last or self._equal_counts  # batches may hold padding: they carry a mask
        if mesh is not None and sharding is not None:
            raise ConfigError("StreamingLoader: got both mesh and sharding; expected at most one")
        if mesh is not None:
            axis = data_axis or mesh.axis_names[0]
            if axis not in mesh.axis_names:
                raise ConfigError(f"StreamingLoader.data_axis: got {axis!r}, expected one of {mesh.axis_names}")
            sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(axis))
        self.sharding = sharding
        pipeline = as_pipeline(operators)
        step = StreamStep(pipeline, self.seed) if pipeline is not None else None
        self._make = BatchMaker(self, step)
        self._pools: list[WorkerPool] = []
        self._start: dict[str, Any] | None = None  # the loaded position, for the next iterator
        self._snapshot: dict[str, Any] | None = None  # the position after the last batch handed out
        self._tally = Tally()
        self._tokens = itertools.count()  # reader streams' names in the readers, unique over the loader's life
        self._generation = 0
        self._current: weakref.ref[StreamIterator] | None = None

    def _check_one_pass(self) -> None:
        source = self.source
        if self.workers > 0:
            if source.one_pass:
                raise ConfigError(
                    "StreamingLoader.workers: an iterator (a generator object) cannot be sent to worker processes; "
                    "expected workers=0, or a generator function as IterableSource(factory)"
                )
            try:
                pickle.dumps(source)
            except Exception as exc:
                raise ConfigError(
                    f"StreamingLoader.workers: {type(source).__name__} cannot be pickled for the worker processes "
                    f"({type(exc).__name__}: {exc}); expected a picklable source (functions defined at module level) "
                    "or workers=0"
                ) from exc
        if source.one_pass and self.num_epochs != 1:
            raise ConfigError(
                f"StreamingLoader.num_epochs: got {self.num_epochs}, but an iterator can be read once; expected "
                "num_epochs=1, or a generator function as IterableSource(factory) to read it every epoch"
            )

    # ---------------------------------------------------------------- geometry
    def epoch_batches(self, epoch: int) -> int | None:
        """Batches every process yields in ``epoch``: known with ``batches_per_epoch`` or shard sizes, else None."""
        if self.batches_per_epoch is not None:
            return self.batches_per_epoch
        sizes = self.source.shard_sizes
        if sizes is None:
            return None
        args = (self.source.num_shards, self.seed, epoch, self.shuffle_shards, self.process_count)
        return epoch_batches(process_records(sizes, *args), self.local_batch, self.drop_last)

    def __bool__(self) -> bool:
        """Always true (``if loader:`` must not ask for a length a stream may not know)."""
        return True

    def __len__(self) -> int:
        """Batches per epoch, when known and the same for every epoch; else ``UnknownLengthError`` (a TypeError)."""
        first = self.epoch_batches(0)
        if first is not None and (self.process_count == 1 or not self.shuffle_shards or self.batches_per_epoch):
            return first
        why = (
            "the shard sizes are unknown (pass shard_sizes=[...] to the source, or batches_per_epoch=N)"
            if first is None
            else "it changes with the shard order of each epoch across processes (see epoch_batches(epoch))"
        )
        raise UnknownLengthError(f"len(StreamingLoader): a stream's number of batches is not fixed: {why}")

    # ---------------------------------------------------------------- reading
    def _fetcher(self) -> Any:
        if self.workers == 0:
            return LocalFetcher(ShardReader(self.source))
        if not self._pools or not all(p.alive for p in self._pools):
            for pool in self._pools:
                pool.close()
            per_worker = -(-self.readers // self.workers)
            reader = ShardReader(self.source)
            self._pools = [
                WorkerPool(
                    reader,
                    1,
                    in_flight=self.read_ahead * per_worker,
                    start_method=self.start_method,
                    timeout=self.timeout,
                )
                for _ in range(self.workers)
            ]
        return PoolFetcher(self._pools)

    def _where(self, shard: int) -> str:
        return self.source.where(shard)

    def _run(self, start: dict[str, Any]) -> Iterator[tuple[dict[str, Any] | None, dict[str, Any]]]:
        """``(batch, position after it)`` from ``start`` to the end of the run, then ``(None, final position)``."""
        fetcher = self._fetcher()
        position = start
        try:
            while self.num_epochs is None or position["epoch"] < self.num_epochs:
                epoch = position["epoch"]
                plan = plan_epoch(
                    self.source.num_shards,
                    self.seed,
                    epoch,
                    self.shuffle_shards,
                    self.process_index,
                    self.process_count,
                    self.readers,
                )
                buffer: ShuffleBuffer[Item] = ShuffleBuffer(
                    self.shuffle_buffer, self.seed, epoch, self.process_index, lambda it: (it.shard, it.pos)
                )
                run = EpochRun(
                    plan,
                    position,
                    fetcher=fetcher,
                    where=self._where,
                    sizes=self.source.shard_sizes,
                    local_batch=self.local_batch,
                    drop_last=self.drop_last,
                    target=self.epoch_batches(epoch) if self._equal_counts else None,
                    buffer=buffer,
                    chunk=self.chunk_size,
                    ahead=self.read_ahead,
                    tally=self._tally,
                    tokens=self._tokens,
                )
                for items, real in run.batches():
                    batch = self._make(items, real, epoch, fetcher, plan.shards)
                    yield batch, {**run.position(), **self._counts()}
                if run.records == 0:
                    raise DataError(
                        f"epoch {epoch}: process {self.process_index} read no records from its "
                        f"{len(plan.shards)} shard(s) (first: {self._where(plan.shards[0])}); expected at least one"
                    )
                position = epoch_start(epoch + 1, self.readers)
            yield None, {**position, **self._counts()}  # the end of the run: its final counts
        finally:
            fetcher.close()

    def _counts(self) -> dict[str, Any]:
        tally = self._tally
        return {"skipped_count": tally.skipped_count, "dropped": tally.dropped, "messages": len(tally.skipped)}

    # ---------------------------------------------------------------- iteration and state
    def __iter__(self) -> StreamIterator:
        """A new pass from the loader's start position (the loaded one, else the beginning)."""
        self._supersede()
        start = self._start or epoch_start(0, self.readers)
        if self._start is None:
            self._tally = Tally()  # a loaded state brought its own counts
        self._start = None
        if self.num_epochs is not None and start["epoch"] >= self.num_epochs:
            warnings.warn(
                f"StreamingLoader: the loaded state is the end of the run ({self.num_epochs} epoch(s)); this "
                "iterator yields nothing",
                RuntimeWarning,
                stacklevel=2,
            )
        self._snapshot = {**start, **self._counts()}
        it = StreamIterator(self, self._run(start), self._generation, self.prefetch)
        self._current = weakref.ref(it)
        return it

    def _supersede(self) -> None:
        self._generation += 1
        previous = self._current() if self._current is not None else None
        self._current = None
        if previous is not None:
            previous.close()

    def _settings(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "kind": STATE_KIND,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "drop_last": self.drop_last,
            "shuffle_shards": self.shuffle_shards,
            "shuffle_buffer": self.shuffle_buffer,
            "readers": self.readers,
            "process_index": self.process_index,
            "process_count": self.process_count,
            "num_shards": self.source.num_shards,
            "shards_crc": names_digest(self.source.shards),
            "batches_per_epoch": self.batches_per_epoch,
        }

    def state_dict(self) -> dict[str, Any]:
        """Plain-JSON position after the last batch handed out (per process: save each process's own)."""
        snap = self._snapshot or self._start or {**epoch_start(0, self.readers), **self._counts()}
        tally = self._tally
        return {
            **self._settings(),
            **{k: snap[k] for k in ("epoch", "batch", "records", "turn", "draws", "dropped", "skipped_count")},
            "streams": [list(map(int, c)) for c in snap["streams"]],
            "active": [int(a) for a in snap["active"]],
            "buffer": np.asarray(snap["buffer"], np.int64).reshape(-1, 2).tolist(),
            "skipped": tally.skipped[: snap.get("messages", len(tally.skipped))],
        }

    def load_state_dict(self, state: dict[str, Any] | str) -> None:
        """Resume: the next ``iter(loader)`` continues after the saved batch, exactly."""
        if self.source.one_pass:
            raise ConfigError(
                "StreamingLoader.load_state_dict: an iterator cannot be read again to resume; expected a generator "
                "function as IterableSource(factory)"
            )
        parsed = parse_state(state, self._settings(), self.num_epochs)
        self._supersede()
        self._tally = Tally(list(parsed["skipped"]), parsed["skipped_count"], parsed["dropped"])
        self._start = parsed
        self._snapshot = {**parsed, **self._counts()}

    @property
    def skipped(self) -> list[str]:
        """Samples left out so far by ``on_error="skip"`` (messages naming shard and sample)."""
        snap = self._snapshot or {}
        return self._tally.skipped[: snap.get("messages", len(self._tally.skipped))]

    @property
    def skipped_count(self) -> int:
        """How many samples (or unreadable rests of shards) were left out so far."""
        return int((self._snapshot or {}).get("skipped_count", self._tally.skipped_count))

    @property
    def dropped(self) -> int:
        """Records read and not yielded so far (a dropped last batch, a process past the common count)."""
        return int((self._snapshot or {}).get("dropped", self._tally.dropped))

    def close(self) -> None:
        """Stop the current iterator and the worker processes."""
        self._supersede()
        for pool in self._pools:
            pool.close()
        self._pools = []
