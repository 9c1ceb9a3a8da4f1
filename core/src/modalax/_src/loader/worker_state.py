"""The main process's bookkeeping of a ``WorkerPool``: its tasks, pipes and shutdown.

``PoolState`` holds everything the pool's finalizer needs and nothing that refers back to the
pool, so an unreachable pool can be collected and its workers stopped. Each worker has a pipe
and a queue of the tasks sent to it, answered in order; a task waits in ``queued`` while the
workers hold ``in_flight`` batches. Shutdown is a polite stop, then SIGTERM, then SIGKILL, and
every segment not yet received is unlinked (named by the pool's prefix and the task's number).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from modalax._src.loader.worker_process import unlink_segment

__all__ = ["STOP_S", "PoolState", "Task", "preview"]

STOP_S = 1.0  # a polite stop waits this long before SIGTERM


def preview(indices: np.ndarray) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:16])
    more = f", ... ({len(indices)} in all)" if len(indices) > 16 else ""
    return f"[{shown}{more}]"


class Task:
    __slots__ = ("abandoned", "indices", "message", "seq", "worker")

    def __init__(self, seq: int, indices: np.ndarray) -> None:
        self.seq, self.indices = seq, indices
        self.worker: int | None = None  # None while queued in the main process
        self.message: tuple[Any, ...] | None = None
        self.abandoned = False


class PoolState:
    """Everything the pool's finalizer needs (it must not reference the pool itself)."""

    def __init__(self, procs: list[Any], conns: list[Any], prefix: str, in_flight: int) -> None:
        self.procs, self.conns, self.prefix, self.in_flight = procs, conns, prefix, in_flight
        self.lock = threading.RLock()
        self.tasks: dict[int, Task] = {}
        self.queued: deque[Task] = deque()
        self.sent: list[deque[Task]] = [deque() for _ in procs]  # per worker, awaiting a message
        self.broken: str | None = None
        self.closed = False
        self.answered = [False] * len(procs)  # whether each worker has sent anything yet
        self.on_close: Callable[[], None] | None = None  # run once, after the workers are stopped

    def receive(self, w: int, timeout: float) -> bool:
        """Read one message of worker ``w`` if one comes within ``timeout``; False on a dead pipe."""
        conn = self.conns[w]
        try:
            if not conn.poll(timeout):
                return True
            message = conn.recv()
        except (EOFError, OSError):
            return False
        self.answered[w] = True
        if message[0] == "fatal":
            _, kind, text, _ = message[2]
            self.broken = f"worker {w} could not load the source: {kind}: {text}"
            return True
        task = self.sent[w].popleft()
        task.message = message
        if task.abandoned:
            self.release(task)
        return True

    def release(self, task: Task) -> None:
        message = task.message
        self.tasks.pop(task.seq, None)
        if message is not None and message[0] == "ok" and message[3] is not None:
            unlink_segment(message[3])
        task.message = None

    def dispatch(self) -> None:
        if self.closed:
            return
        self._drain()
        while self.queued and sum(map(len, self.sent)) < self.in_flight and self.broken is None:
            task = self.queued.popleft()
            w = min(range(len(self.sent)), key=lambda i: len(self.sent[i]))
            task.worker = w
            self.sent[w].append(task)
            with contextlib.suppress(OSError):  # a dead worker is found when its result is awaited
                self.conns[w].send((task.seq, task.indices))

    def death(self, w: int) -> str:
        proc = self.procs[w]
        proc.join(0.5)  # its pipe may close a moment before it exits
        code = proc.exitcode
        if getattr(proc, "server_gone", False):
            how = "exit code unknown: the worker server ended"
        elif code is not None and code < 0:
            how = f"signal {signal.Signals(-code).name}"
        else:
            how = f"exit code {code}"
        head = self.sent[w][0] if self.sent[w] else None
        where = f"records {preview(head.indices)}" if head is not None else "no batch"
        text = f"worker {w} (pid {proc.pid}) died ({how}) while decoding {where}"
        if code == 1 and not self.answered[w]:
            text += (
                "; it ended before answering, so it failed to start (its traceback is on standard error): with "
                'start_method="spawn" the usual cause is a script without `if __name__ == "__main__":`'
            )
        return text

    def shutdown(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.send(None)
            deadline = time.monotonic() + STOP_S
            while time.monotonic() < deadline and any(p.is_alive() for p in self.procs):
                self._drain()
                time.sleep(0.01)
            for proc in self.procs:
                if proc.is_alive():
                    proc.terminate()
                    proc.join(0.5)
                if proc.is_alive():
                    proc.kill()
                proc.join(2)
            self._drain()
            for task in list(self.tasks.values()):
                if task.message is None and task.worker is not None:
                    unlink_segment(f"{self.prefix}{task.seq}")  # a worker that died after creating it
                self.release(task)
            for conn in self.conns:
                conn.close()
            for proc in self.procs:
                with contextlib.suppress(ValueError):
                    proc.close()
            if self.on_close is not None:
                on_close, self.on_close = self.on_close, None
                on_close()

    def _drain(self) -> None:
        for w, conn in enumerate(self.conns):
            while self.sent[w] and not conn.closed:
                try:
                    if not conn.poll(0):
                        break
                except OSError:
                    break
                if not self.receive(w, 0):
                    break
