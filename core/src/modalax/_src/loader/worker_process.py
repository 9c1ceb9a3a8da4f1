"""What runs in a worker process of a ``WorkerPool``, and the shared-memory layout of a batch.

Shared memory: one segment per batch, created by the worker with every plain numpy field of
the batch back to back, copied out and unlinked by the main process as soon as the batch is
received. A ring of reusable segments would save one create/unlink pair per batch (tens of
microseconds against the tens of milliseconds of decoding a batch), but needs a size fixed by
the first batch (strings and variable fields break it) and a slot hand-shake with each worker.
Segment names are a pool token plus the batch's sequence number, known to the main process
before the worker runs, so the main process can unlink the segment of a batch whose worker died
after creating it. Other values (lists of strings, object arrays) travel pickled.

This module imports only the standard library and numpy: the fork server loads it by file path
(see ``worker_server``), so that a worker never imports jax unless its source needs it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import threading
import traceback
import warnings
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import numpy as np

__all__ = ["WORKER_ENV", "StartError", "read_batch", "start_workers", "stop_started", "unlink_segment", "worker_main"]

#: Set in a worker's environment (and the fork server's); ``modalax._src.sources.file`` reads it.
WORKER_ENV = "MODALAX_WORKER_PROCESS"
#: What a worker's environment adds: no accelerator for a source holding jax values, one decode thread.
WORKER_VARS = {"JAX_PLATFORMS": "cpu", WORKER_ENV: "1"}

_ALIGN = 64
_START_LOCK = threading.Lock()  # the worker variables are set in os.environ while a child starts


class StartError(Exception):
    """A worker could not start (``cause``, an ``OSError``) after ``started`` others had; those were stopped."""

    def __init__(self, started: int, cause: OSError) -> None:
        super().__init__(f"{started} worker(s) started, then {type(cause).__name__}: {cause}")
        self.started, self.cause = started, cause


def start_workers(ctx: Any, workers: int, payload: bytes, prefix: str) -> tuple[list[Any], list[Any]]:
    """Start ``workers`` processes, all or none: their processes and pipes.

    ``ctx`` is a ``multiprocessing`` context (``spawn``), whose children copy ``os.environ`` (set
    to ``WORKER_VARS`` meanwhile), or a launcher with ``fork_worker(payload, prefix)`` (the fork
    server). When one fails to start (a process limit), those started are stopped before the
    error propagates: nothing is left running.
    """
    procs: list[Any] = []
    conns: list[Any] = []
    with _START_LOCK:
        before = {k: os.environ.get(k) for k in WORKER_VARS}
        os.environ.update(WORKER_VARS)
        try:
            for w in range(workers):
                if hasattr(ctx, "fork_worker"):
                    proc, mine = ctx.fork_worker(payload, prefix)
                else:
                    mine, theirs = ctx.Pipe(duplex=True)
                    proc = ctx.Process(
                        target=worker_main, args=(payload, theirs, prefix), name=f"modalax-worker-{w}", daemon=True
                    )
                    try:
                        proc.start()
                    finally:
                        theirs.close()
                procs.append(proc)
                conns.append(mine)
        except OSError as exc:
            stop_started(procs, conns)
            raise StartError(len(procs), exc) from exc
        except BaseException:
            stop_started(procs, conns)
            raise
        finally:
            for k, v in before.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return procs, conns


def stop_started(procs: list[Any], conns: list[Any]) -> None:
    """Stop workers that have no task yet: their pipes close (they end at EOF), then SIGKILL if needed."""
    for conn in conns:
        with contextlib.suppress(OSError):
            conn.close()
    for proc in procs:
        proc.join(1.0)
        if proc.is_alive():
            proc.kill()
            proc.join(2.0)
        with contextlib.suppress(ValueError):
            proc.close()


def _walk(value: Any, path: tuple[str, ...], out: list[tuple[tuple[str, ...], Any]]) -> None:
    if type(value) is dict:
        if not value:
            out.append((path, {}))
        for k, v in value.items():
            _walk(v, (*path, k), out)
    else:
        out.append((path, value))


def _describe(exc: BaseException) -> tuple[bytes | None, str, str, str]:
    try:
        blob: bytes | None = pickle.dumps(exc)
    except Exception:
        blob = None
    return blob, type(exc).__name__, str(exc), "".join(traceback.format_exception(exc))


def _publish(records: Any, name: str) -> tuple[Any, str | None]:
    """``((kind, body), segment name or None)``: plain arrays of a dict in one segment, the rest pickled.

    The kind tag keeps any other value a source returns (a list, say) from being read as a layout.
    """
    if not isinstance(records, dict):
        return ("value", records), None
    leaves: list[tuple[tuple[str, ...], Any]] = []
    _walk(records, (), leaves)
    layout: list[tuple[tuple[str, ...], str, Any]] = []
    total = 0
    for path, v in leaves:
        if type(v) is np.ndarray and not v.dtype.hasobject and v.nbytes > 0:
            offset = -(-total // _ALIGN) * _ALIGN
            layout.append((path, "shm", (v.dtype, v.shape, offset)))
            total = offset + v.nbytes
        else:
            layout.append((path, "obj", v))
    if total == 0:
        return ("layout", layout), None
    shm = SharedMemory(name=name, create=True, size=total)
    try:
        for (_path, kind, meta), (_, v) in zip(layout, leaves, strict=True):
            if kind == "shm":
                dtype, shape, offset = meta
                np.copyto(np.ndarray(shape, dtype, buffer=shm.buf, offset=offset), v)
    finally:
        shm.close()
    return ("layout", layout), name


def _skipped(source: Any) -> frozenset[str]:
    """The files a skip-mode source has replaced so far (empty for other sources)."""
    got = getattr(source, "skipped", None)
    return frozenset(got) if isinstance(got, list | tuple | set | frozenset) else frozenset()


def worker_main(payload: bytes, conn: Any, prefix: str) -> None:
    """A worker: unpickle the source, then decode batches until told to stop or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    if multiprocessing.parent_process() is not None:  # a worker process (tests also call this in-process)
        # Set here too, whoever started it. WORKER_ENV: sources decode on one thread (decode_threads).
        os.environ.update(WORKER_VARS)
    try:
        source = pickle.loads(payload)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            conn.send(("fatal", -1, _describe(exc), []))
        return
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the main process is gone
        if task is None:
            return
        seq, indices = task
        name = f"{prefix}{seq}"
        before = _skipped(source)
        with warnings.catch_warnings(record=True) as caught:
            try:
                layout, segment = _publish(source.get_records(indices), name)
                message: tuple[Any, ...] = ("ok", seq, layout, segment)
            except BaseException as exc:  # SystemExit from a source too: reported, not obeyed
                unlink_segment(name)
                message = ("error", seq, _describe(exc))
        notes = [(w.category, str(w.message)) for w in caught]
        skipped = sorted(_skipped(source) - before)
        try:
            conn.send((*message, notes, skipped))
        except Exception as exc:  # an unpicklable field
            unlink_segment(name)
            conn.send(("error", seq, _describe(exc), notes, skipped))


def unlink_segment(name: str) -> None:
    try:
        shm = SharedMemory(name=name)
    except (FileNotFoundError, OSError):
        return
    shm.close()
    with contextlib.suppress(FileNotFoundError):
        shm.unlink()


def read_batch(published: Any, name: str | None) -> Any:
    """The records a worker published: a dict rebuilt from its layout (segment copied, then unlinked)."""
    kind, layout = published
    if kind == "value":
        return layout
    shm = SharedMemory(name=name) if name is not None else None
    try:
        out: dict[str, Any] = {}
        for path, kind, meta in layout:
            if kind == "shm":
                dtype, shape, offset = meta
                value = np.ndarray(shape, dtype, buffer=shm.buf, offset=offset).copy()  # type: ignore[union-attr]
            else:
                value = meta
            node = out
            for part in path[:-1]:
                node = node.setdefault(part, {})
            if path:
                node[path[-1]] = value
        return out
    finally:
        if shm is not None:
            shm.close()
            with contextlib.suppress(FileNotFoundError):
                shm.unlink()
