"""A ``DataLoader``'s worker processes: when to start them, and the records of a pass, failures included.

``LoaderWorkers`` owns the loader's ``WorkerPool``: it lives across passes and is replaced when
it cannot serve the next batch. What a pass reads (``records``) is one item per batch of the
loader's plan, in order: the records, ``None`` (read them in this process) or a ``BatchFailure``,
which the loader raises in that batch's place; the pass then goes on with the next batch, as
with ``workers=0``. So a source that raises, a worker that dies and a worker that outlives
``timeout`` each cost one batch and a ``DataError`` naming its records and the worker, never
the rest of the pass. After a death or a timeout the pool is closed (the stuck worker killed)
and a fresh one decodes the batches that were in flight.

The loader's process reads too. While the pool starts (or restarts) it reads every batch, as
with ``workers=0``, so the first batch never waits for the workers' start-up. Once they run, it
gives them the next ``in_flight`` batches; when the batch due next is still with a worker, it
reads a later batch itself (at most ``STEAL_AHEAD`` held) instead of waiting idle. The workers
therefore add to what the loader's own threads decode rather than replace them: on a shared
machine, where two single-threaded workers got 0.67x the thread pool's share of the CPU, that
is what keeps ``workers=N`` from being slower than ``workers=0``.

The source the workers hold is a pickled copy. Each pass compares a hash of the source's
pickle with the copy's, and starts fresh workers when the source has changed since, so a pass
reads what ``workers=0`` would read at its start. (A change made during a pass is seen by
``workers=0`` at once and by workers at the next pass; ``DataLoader.close()`` stops them now.)
Hashing the pickle costs about what pickling costs (streamed: no copy is kept).
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
import threading
import time
import weakref
from collections import deque
from collections.abc import Generator, Iterator
from typing import Any

import numpy as np

from modalax._src.errors import ConfigError, DataError, ModalaxError
from modalax._src.loader.worker_choice import WorkerChoice, choose_workers
from modalax._src.loader.worker_guard import check_count, guard_error, unguarded_call, usable_cores
from modalax._src.loader.worker_launch import SERVER, payload_of
from modalax._src.loader.workers import (
    WaitTimeout,
    WorkerPool,
    check_start_method,
    check_timeout,
    in_worker_process,
)

__all__ = ["DEFAULT_TIMEOUT_S", "STEAL_AHEAD", "BatchFailure", "LoaderWorkers", "check_workers"]

DEFAULT_TIMEOUT_S = 600.0  # generous: a batch is milliseconds to seconds; a hang is never waited out unbounded
STEAL_AHEAD = 4


class BatchFailure:
    """A batch that could not be read: the loader raises ``error`` in its place and goes on."""

    __slots__ = ("error",)

    def __init__(self, error: DataError) -> None:
        self.error = error


def _source_bug(exc: DataError) -> BaseException | None:
    """The source's own non-modalax exception (a bug, such as a ``TypeError``) a worker raised, else None.

    A ``DataError`` (bad data) costs its batch and the pass goes on; any other exception of the
    source stops the pass, whichever process read the batch, so the worker's is raised as itself.
    """
    cause = exc.__cause__
    if cause is None or isinstance(cause, ModalaxError) or not isinstance(cause, Exception):
        return None
    cause.add_note(str(exc.__notes__[-1]) if getattr(exc, "__notes__", None) else f"raised in a worker: {exc}")
    return cause


class _Starting:
    """A pool starting in a thread: the pool or the error, once ``done``."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.pool: WorkerPool | None = None
        self.digest: bytes | None = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None


class _Digest:
    """A file-like object that only hashes what is written to it."""

    def __init__(self) -> None:
        self.hash = hashlib.blake2b(digest_size=16)

    def write(self, data: Any) -> int:
        self.hash.update(data)
        return len(data)


def _digest(source: Any) -> bytes:
    out = _Digest()
    pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(source)
    return out.hash.digest()


def check_workers(owner: str, workers: Any) -> int | str:
    """``workers`` as an int >= 0 or ``"auto"``; ``ConfigError`` otherwise (and for absurd counts)."""
    if workers == "auto" and isinstance(workers, str):
        return "auto"
    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 0:
        raise ConfigError(
            f"{owner}.workers: got {workers!r}, expected an int >= 0 (0 decodes in this process) or 'auto'"
        )
    check_count(owner, int(workers))
    return int(workers)


class LoaderWorkers:
    """The worker processes of one loader; see the module docstring."""

    def __init__(self, source: Any, workers: Any, timeout: Any, start_method: str) -> None:
        self.requested = check_workers("DataLoader", workers)
        self.timeout = check_timeout("DataLoader", timeout)
        check_start_method("DataLoader", start_method)
        self.source, self.start_method = source, start_method
        self.on_device = bool(getattr(source, "traceable", False))
        self.choice: WorkerChoice | None = None
        self.pool: WorkerPool | None = None
        self._digest: bytes | None = None
        self._starting: _Starting | None = None
        self._lock = threading.Lock()  # the pass's thread and the caller's (settle, close) hand the pool over
        self._unguarded: tuple[str, int] | None = None  # the main script's unguarded line running iter()
        self._needs_main = False  # the source's pickle names __main__
        self._release: weakref.finalize | None = None
        if isinstance(self.requested, int) and self.requested > 0 and not self.on_device:
            self._warm()

    def _warm(self) -> None:
        """Pickle the source now (an unpicklable one fails here) and have the fork server import its modules."""
        try:
            _, modules = payload_of(self.source)
            self._needs_main = "__main__" in modules
        except Exception as exc:
            raise ConfigError(
                f"DataLoader.source: {type(self.source).__name__} cannot be pickled for the worker processes "
                f"({type(exc).__name__}: {exc}); expected a picklable source (modalax datasets are), or workers=0"
            ) from exc
        if self.start_method == "forkserver" and "__main__" not in modules and not in_worker_process():
            SERVER.hold(modules)  # the imports run while the caller sets up the rest
            self._release = weakref.finalize(self, SERVER.release)

    @property
    def count(self) -> int | None:
        """Workers in use: the requested count, the automatic choice, or None before "auto" has chosen."""
        if self.on_device:
            return 0
        if self.requested == "auto":
            return None if self.choice is None else self.choice.workers
        return int(self.requested)

    def records(self, rows: Iterator[np.ndarray], remaining: int | None) -> Generator[Any, None, None] | None:
        """One item per batch of ``rows`` (see the module docstring); None when this process reads them all."""
        if self.count == 0:
            return None
        return self._stream(iter(rows), remaining)

    def before_pass(self) -> None:
        """Called by ``iter(loader)`` in the caller's thread: where the main script stands (for its guard)."""
        self._unguarded = unguarded_call() if self.count != 0 else None

    def _stream(self, rows: Iterator[np.ndarray], remaining: int | None) -> Generator[Any, None, None]:
        if self.count is None:  # "auto": decode the first batch here, measured, then choose
            first = next(rows, None)
            if first is None:
                return
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                records: Any = self.source.get_records(first)
            except DataError as exc:
                records = BatchFailure(exc)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            left = None if remaining is None else max(remaining - 1, 0)
            self.choice = choose_workers(wall, cpu, usable_cores(), left)
            yield records
            if self.choice.workers == 0:
                yield from (None for _ in rows)
                return
        yield from self._from_pool(rows)

    def _from_pool(self, rows: Iterator[np.ndarray]) -> Generator[Any, None, None]:
        """Items from the pool, with this process reading too (see the module docstring)."""
        if self.pool is not None and (not self.pool.alive or _digest(self.source) != self._digest):
            self.discard()  # broken, or the source changed since the workers copied it
        if self.pool is None and self._starting is None:
            self._start()
        # The batches ahead, in order: [indices, where, value]; where is "row" (not started yet),
        # "pool" (value: its handle) or "here" (value: what this process read ahead).
        window: deque[list[Any]] = deque()

        def more() -> bool:
            idx = next(rows, None)
            if idx is not None:
                window.append([idx, "row", None])
            return idx is not None

        try:
            while True:
                pool = self._ready()
                if pool is not None:
                    self._feed(pool, window, more)
                if not window and not more():
                    return
                head = window[0]
                if head[1] != "pool":
                    window.popleft()
                    yield head[2]  # "here": read ahead; "row": None, read here now, in order
                    continue
                if not head[2].done() and self._steal(window, more):
                    continue
                window.popleft()
                try:
                    records = head[2].result(self.timeout)
                except DataError as exc:
                    bug = _source_bug(exc)
                    if bug is not None:
                        raise bug from None  # as when this process reads the batch: the pass stops
                    if pool is not None and (pool.broken or isinstance(exc, WaitTimeout)):
                        # A dead or stuck worker: stop them all (the stuck one is killed); a fresh
                        # pool starts, and the batches that were at the pool are read again.
                        for slot in window:
                            if slot[1] == "pool":
                                slot[2].cancel()
                                slot[1:] = ["row", None]
                        self.discard()
                        self._start()
                    yield BatchFailure(exc)
                    continue
                yield records
        finally:
            for slot in window:
                if slot[1] == "pool":
                    slot[2].cancel()

    @staticmethod
    def _feed(pool: WorkerPool, window: deque[list[Any]], more: Any) -> None:
        """Keep ``in_flight`` batches decoding at the pool, the earliest not started first.

        Batches the workers have delivered wait in the window (in shared memory) until their turn;
        at most ``in_flight`` of those, so that memory stays bounded while this process reads.
        """
        at_pool = [slot for slot in window if slot[1] == "pool"]
        busy = sum(1 for slot in at_pool if not slot[2].done())
        room = min(pool.in_flight - busy, 2 * pool.in_flight - len(at_pool))
        for slot in window:
            if room <= 0:
                return
            if slot[1] == "row":
                slot[1:] = ["pool", pool.submit(slot[0])]
                room -= 1
        while room > 0 and more():
            window[-1][1:] = ["pool", pool.submit(window[-1][0])]
            room -= 1

    def _steal(self, window: deque[list[Any]], more: Any) -> bool:
        """Read the first batch not started here, if the read-ahead allows; whether one was read."""
        if sum(1 for slot in window if slot[1] == "here") >= STEAL_AHEAD:
            return False
        slot = next((slot for slot in window if slot[1] == "row"), None)
        if slot is None:
            if not more():
                return False
            slot = window[-1]
        try:
            slot[2] = self.source.get_records(slot[0])
        except DataError as exc:
            slot[2] = BatchFailure(exc)
        slot[1] = "here"
        return True

    def _start(self) -> None:
        """Start a pool in a thread; ``_ready`` hands it over once its workers run."""
        if self._unguarded is not None and self.requested == "auto":
            self._needs_main = "__main__" in payload_of(self.source)[1]
        if self._unguarded is not None and (self.start_method == "spawn" or self._needs_main):
            why = "start method 'spawn'" if self.start_method == "spawn" else "the source is defined in the script"
            raise guard_error("DataLoader", self._unguarded, self.start_method, why)
        box = _Starting()
        count = self.count
        assert count is not None

        def run() -> None:
            try:
                digest = _digest(self.source)
                box.pool = WorkerPool(self.source, count, start_method=self.start_method, timeout=self.timeout)
                box.digest = digest
            except BaseException as exc:
                box.error = exc
            finally:
                box.done.set()

        self._starting = box
        box.thread = threading.Thread(target=run, name="modalax-worker-start", daemon=True)
        box.thread.start()

    def _ready(self) -> WorkerPool | None:
        """The pool, once started; raises what stopped it from starting."""
        with self._lock:
            box = self._starting
            if box is not None and box.done.is_set():
                self._starting = None
                if box.error is not None:
                    raise box.error
                self.pool, self._digest = box.pool, box.digest
            return self.pool

    def settle(self) -> None:
        """Wait until the workers have started and none is decoding."""
        box = self._starting
        if box is not None:
            box.done.wait()
            with contextlib.suppress(Exception):  # a failed start is raised by the pass, not here
                self._ready()
        if self.pool is not None:
            self.pool.settle()

    def discard(self) -> None:
        """Stop the workers, waiting for a start under way (the next pass starts fresh ones)."""
        with self._lock:
            box, self._starting = self._starting, None
        if box is not None:
            box.done.wait()
            if box.pool is not None:
                box.pool.close()
        if self.pool is not None:
            self.pool.close()
            self.pool = None
            self._digest = None

    def close(self) -> None:
        """Stop the workers and let go of the fork server; safe to call twice."""
        self.discard()
        if self._release is not None:
            self._release()
