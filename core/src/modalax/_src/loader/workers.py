"""Decoding host-side records in worker processes; results come back through shared memory.

``WorkerPool(source, workers)`` starts ``workers`` processes, each holding an unpickled copy of
``source``; ``submit(indices)`` sends a batch to the least busy worker and returns a handle
whose ``result()`` is exactly ``source.get_records(indices)`` (same keys in the same order,
same dtypes, same bytes). ``imap(batches)`` keeps ``in_flight`` batches submitted ahead and
yields their records in order: the loader's host path reads through it.

Engine: a standard-library pool (one process and one pipe per worker), not grain's
``mp_prefetch`` (new processes for every pass or resume, a killed worker reported without its
records; measured in ``docs/workers.md``). Shared memory: one segment per batch, unlinked by the
main process as soon as the batch is received (see ``modalax._src.loader.worker_process``).

Start method: ``forkserver`` (default), the workers forked from a server process that imported
the source's modules once (``worker_launch``: milliseconds a worker, against seconds for a
spawned interpreter importing jax), or ``spawn``, a fresh interpreter per worker that imports
the main script (``worker_guard`` checks its main guard first). Never ``fork`` of this
process: it inherits jax's runtime threads and locks in whatever state they were. Workers run
with ``JAX_PLATFORMS=cpu`` so that a source holding jax values never initialises (and takes
memory on) an accelerator. The pool starts all its workers or none (those started are stopped,
and the error names the limit that was reached).

Lifecycle: ``close()``, the garbage collection of an unreachable pool (``weakref.finalize``)
and interpreter exit (``atexit``) stop the workers (a polite stop, then SIGTERM, then SIGKILL)
and unlink every segment not yet received. A consumer waits with bounded polls and checks the
worker's liveness between them: a worker that died, or raised, becomes a ``DataError`` naming
the records of its batch. After a death the pool is broken (every later result raises); a
``DataError`` raised by the source keeps its class. A wait past ``WATCH_S`` warns once, naming
the worker and the records; the pool's ``timeout`` (or ``result(timeout=...)``) bounds it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import secrets
import sys
import time
import warnings
import weakref
from collections import deque
from collections.abc import Generator, Iterable
from multiprocessing import get_context
from typing import Any

import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.loader.worker_guard import (
    START_METHODS,
    check_count,
    check_start_method,
    check_timeout,
    guard_error,
    start_failure,
    unguarded_call,
)
from modalax._src.loader.worker_launch import SERVER, ServerLauncher, main_spec, payload_of
from modalax._src.loader.worker_process import StartError, read_batch, start_workers
from modalax._src.loader.worker_state import PoolState, Task, preview

__all__ = [
    "START_METHODS",
    "WATCH_S",
    "BatchHandle",
    "WaitTimeout",
    "WorkerPool",
    "check_start_method",
    "check_timeout",
    "in_worker_process",
]

_POLL_S = 0.05  # a waiting consumer checks the worker's liveness this often
WATCH_S = 60.0  # a wait this long for one batch warns (once) that its worker may be stuck
START_TIMEOUT_S = 600.0  # the longest a pool waits for the fork server to start a worker (its imports)
_LIVE: weakref.WeakSet[WorkerPool] = weakref.WeakSet()
_END = object()


class WaitTimeout(DataError):
    """A batch not delivered within the wait's timeout (the pool is intact; it may be waited for again)."""


def in_worker_process() -> bool:
    """Whether this process is a worker (or the fork server): it must not start workers itself."""
    return "_modalax_worker_server" in sys.modules or get_context().current_process().name.startswith("modalax-worker-")


@atexit.register
def _close_all() -> None:
    for pool in list(_LIVE):
        pool.close()


class BatchHandle:
    """A submitted batch; ``result()`` waits for its records (``cancel()`` drops them)."""

    def __init__(self, pool: WorkerPool, task: Task) -> None:
        self._pool, self._task = pool, task
        self.indices = task.indices
        self._value: Any = None
        self._error: BaseException | None = None
        self._taken = False
        self._finalizer = weakref.finalize(self, _abandon, pool._state, task)

    def result(self, timeout: float | str | None = "pool") -> Any:
        """``source.get_records(indices)``; ``DataError`` naming the records if a worker failed.

        The wait is bounded by ``timeout`` seconds (None: no bound), by default the pool's own.
        """
        if self._error is not None:
            raise self._error
        wait = self._pool.timeout if isinstance(timeout, str) else timeout
        if not self._taken:
            try:
                self._value = self._pool._wait(self._task, wait)
            except DataError as exc:
                if "not decoded within" not in str(exc):  # a timeout may be waited out again
                    self._error = exc
                raise
            self._taken = True
            self._finalizer.detach()
        return self._value

    def done(self) -> bool:
        """Whether ``result()`` would return (or raise) without waiting."""
        if self._taken or self._error is not None:
            return True
        state = self._pool._state
        with state.lock:
            state.dispatch()  # reads what the workers have sent, without waiting
            return self._task.message is not None or state.broken is not None or state.closed

    def cancel(self) -> None:
        """Drop this batch: its records are freed when they arrive."""
        if not self._taken:
            self._finalizer()


def _abandon(state: PoolState, task: Task) -> None:
    with state.lock:
        if task.abandoned:
            return
        task.abandoned = True
        if task.worker is None:
            with contextlib.suppress(ValueError):
                state.queued.remove(task)
            state.tasks.pop(task.seq, None)
            return
        if task.message is not None:
            state.release(task)


class WorkerPool:
    """``workers`` processes running ``source.get_records``; see the module docstring."""

    def __init__(
        self,
        source: Any,
        workers: int,
        *,
        in_flight: int | None = None,
        start_method: str = "forkserver",
        timeout: float | None = None,
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers <= 0:
            raise ConfigError(f"WorkerPool.workers: got {workers!r}, expected a positive int")
        if in_flight is not None and (
            isinstance(in_flight, bool) or not isinstance(in_flight, int | np.integer) or in_flight <= 0
        ):
            raise ConfigError(f"WorkerPool.in_flight: got {in_flight!r}, expected a positive int or None")
        check_start_method("WorkerPool", start_method)
        self.timeout = check_timeout("WorkerPool", timeout)
        if not hasattr(source, "get_records"):
            raise ConfigError(f"WorkerPool.source: got {type(source).__name__}, expected a source with get_records")
        check_count("WorkerPool", int(workers))
        if in_worker_process():
            raise ConfigError(
                "WorkerPool: asked to start workers inside a worker process (or while one imports the main "
                'script); expected the code that starts workers under `if __name__ == "__main__":`'
            )
        try:
            payload, modules = payload_of(source)
        except Exception as exc:
            raise ConfigError(
                f"WorkerPool.source: {type(source).__name__} cannot be pickled ({type(exc).__name__}: {exc}); "
                "expected a picklable source (modalax datasets are), or workers=0"
            ) from exc
        self._source = source
        self.workers = int(workers)
        self.in_flight = int(in_flight) if in_flight is not None else 2 * self.workers
        self.start_method = start_method
        launcher = self._launcher(source, modules, start_method, self.timeout or START_TIMEOUT_S)
        prefix = f"mx{os.getpid():x}{secrets.token_hex(3)}_"
        try:
            procs, conns = start_workers(launcher, self.workers, payload, prefix)
        except BaseException as exc:
            if isinstance(launcher, ServerLauncher):
                launcher.server.release()
            if isinstance(exc, StartError):
                raise start_failure("WorkerPool", self.workers, exc.started, exc.cause) from exc.cause
            raise
        self._state = PoolState(procs, conns, prefix, self.in_flight)
        if isinstance(launcher, ServerLauncher):
            self._state.on_close = launcher.server.release
        self._pids = [p.pid for p in procs]
        self._seq = 0
        self._finalizer = weakref.finalize(self, self._state.shutdown)
        _LIVE.add(self)

    @staticmethod
    def _launcher(source: Any, modules: frozenset[str], start_method: str, timeout: float) -> Any:
        """What starts the workers; checks first that they can import what the source needs."""
        needs_main = "__main__" in modules
        main = main_spec()
        if start_method == "spawn" or needs_main:
            why = (
                "start method 'spawn'"
                if start_method == "spawn"
                else f"the fork server: {type(source).__name__} is defined in the script"
            )
            where = unguarded_call()
            if where is not None and main is not None:
                raise guard_error("WorkerPool", where, start_method, why)
        if start_method == "spawn":
            return get_context("spawn")
        if needs_main and main is None:
            raise ConfigError(
                f"WorkerPool.source: {type(source).__name__} is defined in an interactive session (__main__), "
                "which worker processes cannot import; expected it defined in a module (a .py file) that is "
                "imported, or workers=0"
            )
        SERVER.hold()
        return ServerLauncher(SERVER, modules, main if needs_main else None, timeout)

    def submit(self, indices: Any) -> BatchHandle:
        """Queue ``source.get_records(indices)``; at most ``in_flight`` batches are with the workers."""
        state = self._state
        with state.lock:
            if state.closed:
                raise DataError("WorkerPool.submit: the pool is closed; expected an open pool")
            task = Task(self._seq, np.asarray(indices))
            self._seq += 1
            state.tasks[task.seq] = task
            state.queued.append(task)
            state.dispatch()
        return BatchHandle(self, task)

    def imap(self, batches: Iterable[Any]) -> Generator[Any, None, None]:
        """The records of each batch of indices, in order, ``in_flight`` batches submitted ahead."""
        it = iter(batches)
        pending: deque[BatchHandle] = deque()
        try:
            while True:
                while len(pending) < self.in_flight:
                    nxt = next(it, _END)
                    if nxt is _END:
                        break
                    pending.append(self.submit(nxt))
                if not pending:
                    return
                yield pending.popleft().result()
        finally:
            for handle in pending:
                handle.cancel()

    def _wait(self, task: Task, timeout: float | None) -> Any:
        state = self._state
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        warned = False
        while True:
            with state.lock:
                if task.message is None:
                    self._poll(task)
                if task.message is not None:
                    return self._take(task)
            now = time.monotonic()
            if deadline is not None and now > deadline:
                where = f"records {preview(task.indices)} not decoded within {timeout} s{self._by(task)}"
                raise WaitTimeout(f"WorkerPool: {where}")
            if not warned and now - start > WATCH_S:
                warned = True
                warnings.warn(
                    f"WorkerPool: waiting {now - start:.0f} s for records {preview(task.indices)}{self._by(task)}; "
                    "a source that hangs blocks here (DataLoader(timeout=...) bounds the wait)",
                    RuntimeWarning,
                    stacklevel=4,
                )

    def _by(self, task: Task) -> str:
        """`` by worker w (pid p)`` for a task a worker holds, or what it waits behind."""
        w = task.worker
        if w is None:
            return " (still queued behind the workers' batches)"
        return f" by worker {w} (pid {self._pids[w]})"

    def _poll(self, task: Task) -> None:
        state = self._state
        failed = self._failure(task)
        if failed is not None:
            raise DataError(failed)
        if task.worker is None:
            state.dispatch()
        # A queued batch waits for the worker holding the oldest batch to deliver it.
        w = task.worker if task.worker is not None else next(i for i, q in enumerate(state.sent) if q)
        proc = state.procs[w]
        alive = state.receive(w, _POLL_S) and (proc.may_run() if hasattr(proc, "may_run") else proc.is_alive())
        if task.message is not None:
            return
        if state.broken is None and not alive and state.conns[w].poll(0):
            alive = state.receive(w, 0)  # a message that came just before the worker ended
            if task.message is not None:
                return
        if state.broken is None and alive:
            return
        state.broken = state.broken or state.death(w)
        message = self._failure(task)
        state.shutdown()
        raise DataError(message)

    def _failure(self, task: Task) -> str | None:
        state = self._state
        if state.broken is not None:
            return f"WorkerPool: records {preview(task.indices)} were not decoded: {state.broken}"
        if state.closed:
            return f"WorkerPool: records {preview(task.indices)} were not decoded: the pool was closed"
        return None

    def _take(self, task: Task) -> Any:
        state = self._state
        message = task.message
        assert message is not None
        task.abandoned = True  # taken: nothing left to free when its handle goes
        try:
            for category, text in message[-2]:
                warnings.warn(text, category, stacklevel=4)
            if message[-1] and callable(getattr(self._source, "note_skipped", None)):
                self._source.note_skipped(message[-1])  # so that `source.skipped` lists them here too
            if message[0] == "ok":
                records = read_batch(message[2], message[3])
                task.message = None
                return records
            blob, kind, text, trace = message[2]
            original = None
            with contextlib.suppress(Exception):
                original = pickle.loads(blob) if blob is not None else None
            worker = f"worker {task.worker} raised {kind}: {text}"
            error_text = f"WorkerPool: records {preview(task.indices)} failed: {worker}"
            cls = type(original) if isinstance(original, DataError) else DataError
            try:
                error = cls(error_text)
            except Exception:
                error = DataError(error_text)
            error.add_note(f"worker traceback:\n{trace}")
            raise error from original
        finally:
            state.release(task)
            state.dispatch()

    @property
    def alive(self) -> bool:
        """Whether the pool is open and every worker is running."""
        return not self._state.closed and all(p.is_alive() for p in self._state.procs)

    @property
    def broken(self) -> bool:
        """Whether a worker died or could not load the source (every later result raises)."""
        return self._state.broken is not None

    @property
    def pending(self) -> int:
        """Batches submitted and not yet delivered by a worker (queued in this process or decoding)."""
        state = self._state
        with state.lock:
            state.dispatch()
            return len(state.queued) + sum(map(len, state.sent))

    def settle(self) -> None:
        """Wait until no batch is queued or decoding (or the pool is closed or broken)."""
        while self.pending and not self._state.closed and self._state.broken is None and self.alive:
            time.sleep(0.001)

    @property
    def pids(self) -> list[int]:
        """The workers' process ids."""
        return list(self._pids)

    def close(self) -> None:
        """Stop the workers and unlink every segment not received; safe to call twice."""
        self._finalizer()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
