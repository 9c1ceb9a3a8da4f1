"""``DataLoader``: one loader for every source, with exact epochs and exact resume."""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import Any

import jax
import numpy as np

from modalax._src.errors import ConfigError
from modalax._src.loader.gather import host_array_data
from modalax._src.loader.iterator import LoaderIterator
from modalax._src.loader.order import EpochOrder
from modalax._src.loader.plan import BatchPlan
from modalax._src.loader.prefetch import auto_prefetch
from modalax._src.loader.produce import BatchProduction
from modalax._src.loader.state import STATE_VERSION, parse_state
from modalax._src.loader.step import BatchStep
from modalax._src.loader.stream import is_epoch_aware, stream_fingerprint
from modalax._src.loader.worker_stream import DEFAULT_TIMEOUT_S, LoaderWorkers, check_workers
from modalax._src.operators.base import OperatorModule
from modalax._src.operators.compose import as_pipeline
from modalax._src.random import check_seed
from modalax._src.sources.array import ArraySource
from modalax._src.sources.checks import BatchSpec
from modalax._src.sources.foreign import MAX_RECORDS, as_source

_BLOCK = 64  # batches whose indices go to the device in one copy


def _positive_or_none(name: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
        raise ConfigError(f"DataLoader.{name}: got {value!r}, expected a positive int or None")


class DataLoader(BatchProduction):
    """Batches of a source, shuffled per epoch, through a jitted operator chain.

    * ``batch_size`` is the *global* batch; with ``num_shards`` processes each yields its
      ``batch_size // num_shards`` slice, and with a ``mesh`` (or ``sharding``) the slices are
      assembled into global ``jax.Array`` s.
    * ``shuffle`` draws a true permutation per epoch from ``(seed, epoch)``.
    * ``drop_last=False`` pads the last batch (wrapping to the first records) and every
      batch carries a boolean ``mask``; ``drop_last=True`` drops the partial batch.
    * Operators get one key per record from ``(seed, epoch, record index)``.
    * ``state_dict()`` is plain JSON with the stream's fingerprint; ``load_state_dict`` resumes
      at the next batch, and refuses a state of another stream naming what differs.
    * ``scan_epoch(step, carry)`` runs the epoch's remaining batches and a train step in one
      jitted ``lax.scan`` (sources in device memory; see ``modalax.train``).
    * An epoch-aware source (a ``Mixture``) maps each epoch's positions to records itself.

    A stream (tar shards, a HF ``IterableDataset``, a generator: no random access) gets a
    ``StreamingLoader`` instead, with the same arguments plus the stream's own (shard shuffling,
    a shuffle buffer): ``shuffle`` defaults to off there, since a stream has no permutation.
    """

    def __new__(cls, source: Any = None, *args: Any, **kwargs: Any) -> Any:
        if cls is DataLoader:
            from modalax._src.streaming import is_stream

            if is_stream(source):
                from modalax._src.streaming import StreamingLoader

                return StreamingLoader(source, *args, **kwargs)  # an explicit shuffle=True is refused there
        return super().__new__(cls)

    def __init__(
        self,
        source: Any,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        num_epochs: int | None = 1,
        operators: OperatorModule | Sequence[OperatorModule] | None = None,
        shard_index: int | None = None,
        num_shards: int | None = None,
        mesh: jax.sharding.Mesh | None = None,
        sharding: jax.sharding.Sharding | None = None,
        data_axis: str | None = None,
        prefetch: int | str = "auto",
        progress: bool = False,
        with_indices: bool = False,
        mask_key: str = "mask",
        index_key: str = "index",
        workers: int | str = 0,
        timeout: float | None = DEFAULT_TIMEOUT_S,
        start_method: str = "forkserver",
    ) -> None:
        source = as_source(source)
        # An epoch-aware source (a Mixture) maps the positions of each epoch to ids of its record
        # source; everything after the plan (gather, workers, keys, index field) reads record ids.
        records = source.record_source() if is_epoch_aware(source) else source
        if records is not source and len(records) > MAX_RECORDS:
            raise ConfigError(f"DataLoader.source: {len(records)} records by id, expected at most {MAX_RECORDS}")
        seed = check_seed("DataLoader.seed", seed)
        _positive_or_none("num_epochs", num_epochs)
        check_workers("DataLoader", workers)
        if prefetch == "auto":
            prefetch = auto_prefetch(records)
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 0:
            raise ConfigError(f"DataLoader.prefetch: got {prefetch!r}, expected 'auto' or an int >= 0")
        if mesh is not None and sharding is not None:
            raise ConfigError("DataLoader: got both mesh and sharding; expected at most one")
        self.source = source
        self._records = records
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.num_epochs = num_epochs
        self.prefetch = prefetch
        self.progress = progress
        self.with_indices = with_indices
        self.mask_key = mask_key
        self.index_key = index_key
        self.workers = workers
        self._spec: BatchSpec | None = None  # the first host batch's structure; later ones must match
        self.pipeline = as_pipeline(operators)
        if num_shards is None:
            num_shards = jax.process_count()
        if shard_index is None:
            shard_index = jax.process_index() if num_shards == jax.process_count() else 0
        self.plan = BatchPlan(len(source), batch_size, bool(drop_last), int(num_shards), int(shard_index))
        if mesh is not None:
            axis = data_axis or mesh.axis_names[0]
            if axis not in mesh.axis_names:
                raise ConfigError(f"DataLoader.data_axis: got {axis!r}, expected one of {mesh.axis_names}")
            sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(axis))
        self.sharding = sharding
        self._start = (0, 0)  # (epoch, batch) the next iterator starts at
        self._position = (0, 0)  # (epoch, batch) of the next batch of the current iterator
        self._finished = False  # the loaded state is the end of the run
        self._generation = 0  # bumped by iter() and load_state_dict: older iterators are stale
        self._current: weakref.ref[LoaderIterator] | None = None
        self._traceable = bool(getattr(records, "traceable", False))
        # A host batch may carry a skip mask to combine with the padding mask.
        want_mask = not self.plan.drop_last or not self._traceable
        self._step = BatchStep(
            records,
            self.pipeline,
            want_indices=with_indices,
            want_mask=want_mask,
            mask_key=mask_key,
            masked=not self.plan.drop_last,
        )
        self._host_rows = jax.default_backend() == "cpu"  # the step's packed rows stay numpy (see _pack)
        self._host_records = getattr(records, "host_records", None) if self._traceable else None
        own = isinstance(records, ArraySource) and type(records).host_records is ArraySource.host_records
        if own and records.on_device and not records.host_data:
            self._host_records = None  # ArraySource's own, and no string fields: nothing to call per batch
        self._host_arrays = host_array_data(records)  # a host ArraySource's arrays: gathered aligned (gather.py)
        self._fingerprint: dict[str, Any] | None = None  # the stream's, computed on first use
        self._checked_names: set[bool] = set()  # batches (with a skip mask or not) whose field names were checked
        self._salted: jax.Array | None = None
        self._epoch_keys: dict[int, Any] = {}  # epoch -> its key's words (a jax array while pending)
        # Worker processes (docs/workers.md): the pool lives across passes; the fork server starts importing now.
        self._workers = LoaderWorkers(records, workers, timeout, start_method)  # a mixture's workers read record ids
        self.timeout = self._workers.timeout

    # ----------------------------------------------------------------- geometry
    @property
    def batch_size(self) -> int:
        """The global batch size."""
        return self.plan.batch_size

    @property
    def drop_last(self) -> bool:
        """Whether the last partial batch is dropped."""
        return self.plan.drop_last

    def __len__(self) -> int:
        """Batches per epoch."""
        return self.plan.batches_per_epoch

    @property
    def trace_count(self) -> int:
        """How often the jitted step was traced (shared with earlier loaders of equal gather, chain and shapes)."""
        return self._step.trace_count

    def fingerprint(self) -> dict[str, Any]:
        """The JSON fingerprint of the stream this loader yields, as its state saves it (``load_state_dict``)."""
        if self._fingerprint is None:
            self._fingerprint = stream_fingerprint(
                self.source,
                self.pipeline,
                batch_size=self.plan.batch_size,
                seed=self.seed,
                shuffle=self.shuffle,
                drop_last=self.plan.drop_last,
            )
        return self._fingerprint

    # --------------------------------------------------------------- iteration
    def _batches(self, epoch: int, batch: int) -> Iterator[tuple[int, int, dict[str, Any]]]:
        # A numpy argument of a jitted call is copied to the device on every call, which costs
        # ~0.1 ms a copy on a GPU (most of a small step).  So the step's inputs go to the device
        # packed, once per block of about _BLOCK batches (across epochs when epochs are short),
        # and are split there.
        records = self._worker_records(epoch, batch)
        try:
            block: list[tuple[int, int, np.ndarray, np.ndarray]] = []
            for piece in self._pieces(epoch, batch):
                block.append(piece)
                if sum(len(p[2]) for p in block) >= _BLOCK:
                    yield from self._produce_block(block, records)
                    block = []
            yield from self._produce_block(block, records)
        finally:
            if records is not None:
                records.close()  # a dropped or superseded iterator frees its batches in flight

    def _worker_records(self, epoch: int, batch: int) -> Generator[Any, None, None] | None:
        """One item per batch from ``(epoch, batch)`` on, from the worker processes, in order (or None).

        The workers follow their own copy of the batch plan, so they stay ``in_flight`` batches
        ahead across block and epoch boundaries; the batches, their order and the resume
        positions are those of ``workers=0``. An item is the records, None (read here) or a
        ``BatchFailure`` (see ``worker_stream``).
        """
        rows = (row for _, _, idx, _ in self._pieces(epoch, batch) for row in idx)
        left = None if self.num_epochs is None else (self.num_epochs - epoch) * len(self) - batch
        return self._workers.records(rows, left)

    @property
    def worker_choice(self) -> Any:
        """What ``workers="auto"`` chose and why (a ``(workers, reason)`` tuple), once its first pass started."""
        return self._workers.choice

    def close(self) -> None:
        """Stop the current iterator and the worker processes (also done when the loader is collected).

        The loader stays usable: the next pass starts fresh workers.
        """
        self._supersede()
        self._workers.close()

    def _pieces(self, epoch: int, batch: int) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
        """``(epoch, first batch, indices, masks)`` for runs of at most _BLOCK batches, in order."""
        plan = self.plan
        while self.num_epochs is None or epoch < self.num_epochs:
            perm = EpochOrder(plan.num_records, self.seed, epoch, self.shuffle)
            for lo in range(batch, plan.batches_per_epoch, _BLOCK):
                hi = min(lo + _BLOCK, plan.batches_per_epoch)
                yield (epoch, lo, *self._block_indices(perm, epoch, lo, hi))
            epoch, batch = epoch + 1, 0

    def _block_indices(self, perm: EpochOrder, epoch: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """This shard's record ids and masks of batches ``lo .. hi-1`` of ``epoch`` (``BatchPlan``'s, mapped
        by an epoch-aware source)."""
        idx, masks = self.plan.local_indices_block(perm, lo, hi)
        if self._records is not self.source:
            idx = np.asarray(self.source.epoch_records(epoch, idx), np.int64)
        return idx, masks

    def __iter__(self) -> LoaderIterator:
        """A new pass from the loader's start position; supersedes (and stops) the previous iterator."""
        self._supersede()
        start, self._start = self._start, (0, 0)  # a loaded state serves the next iterator only
        if self._finished:
            warnings.warn(
                f"DataLoader: the loaded state is the end of the run ({self.num_epochs} epoch(s)); "
                "this iterator yields nothing",
                RuntimeWarning,
                stacklevel=2,
            )
            self._finished = False
        self._position = start
        it = LoaderIterator(self, *start, self._generation)
        self._current = weakref.ref(it)
        return it

    def _supersede(self) -> None:
        self._generation += 1
        previous = self._current() if self._current is not None else None
        self._current = None
        if previous is not None:
            previous.close()

    def scan_epoch(self, step: Callable[[Any, dict[str, Any]], tuple[Any, Any]], carry: Any) -> tuple[Any, Any]:
        """The remaining batches of the epoch through ``step(carry, batch) -> (carry, output)`` in one
        jitted ``lax.scan``; returns ``(carry, stacked outputs)`` (see ``modalax.train.scan_epoch``)."""
        from modalax._src.loader.scan import scan_epoch

        return scan_epoch(self, step, carry)

    def state_dict(self) -> dict[str, Any]:
        """Plain-JSON position: the next batch the current iterator would yield, and the stream's fingerprint."""
        epoch, batch = self._position
        return {
            "fingerprint": self.fingerprint(),
            "version": STATE_VERSION,
            "epoch": epoch,
            "batch": batch,
            "seed": self.seed,
            "shuffle": self.shuffle,
            "batch_size": self.plan.batch_size,
            "drop_last": self.plan.drop_last,
            "num_records": self.plan.num_records,
        }

    def load_state_dict(self, state: dict[str, Any] | str, *, allow_changes: bool | Iterable[str] = False) -> None:
        """Resume: the next ``iter(loader)`` (only that one) starts at the saved batch.

        Takes the dict of ``state_dict()`` or its JSON. The stream's fingerprint (source, its
        size and content signature, mixture weights, batch size, seed, shuffle, drop_last,
        operators) must match the saved one, else the remaining batches would not be those of
        the interrupted run: a ``ConfigError`` names every field that differs. ``allow_changes``
        (True, or the names of fields) continues anyway at the saved ``(epoch, batch)``. The
        number of processes and workers may differ. The current iterator is superseded.
        """
        mine = self.state_dict()
        (epoch, batch), finished = parse_state(state, mine, self.plan.batches_per_epoch, self.num_epochs, allow_changes)
        self._supersede()
        self._start = self._position = (epoch, batch)
        self._finished = finished


def create_data_loader(
    dataset: Any, batch_size: int, shuffle: bool = True, drop_last: bool = False, **kwargs: Any
) -> DataLoader:
    """The API reference's helper, fixed: each batch holds exactly its slice of the epoch permutation."""
    return DataLoader(dataset, batch_size, shuffle=shuffle, drop_last=drop_last, **kwargs)
