"""Picklable sources for the worker-pool tests, imported as a top-level module by the workers."""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from modalax import DataError, RecordIndexError
from modalax._src.sources.file import FileSource


def descendants(pid: int | None = None) -> set[int]:
    """Every live process below ``pid`` (default: this one), from /proc: workers of the fork server are
    grandchildren, which ``multiprocessing.active_children`` does not see."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":  # a zombie has ended
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid or os.getpid()}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def open_fds() -> set[int]:
    """This process's open file descriptors."""
    return {int(n) for n in os.listdir("/proc/self/fd")} - {-1}


def own_segments(prefix: str | None = None) -> set[str]:
    """Shared-memory segments whose names begin with ``prefix``: by default, those of pools this
    process started (``mx<pid in hex>``), not all of /dev/shm, where tests in parallel processes
    create their own."""
    shm, prefix = Path("/dev/shm"), prefix or f"mx{os.getpid():x}"
    return {p.name for p in shm.iterdir() if p.name.startswith(prefix)} if shm.is_dir() else set()


RAISE_AT, EXIT_AT, KILL_AT, UNPICKLABLE_AT, WARN_AT, HANG_AT, TYPE_AT, OOR = 13, 66, 67, 68, 69, 70, 71, 10**6


class MixedSource:
    """Fields of several dtypes, a nested dict, strings, a list of str and the validity flag."""

    def __init__(self, n: int = 100) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def get_records(self, indices: Any) -> dict[str, Any]:
        idx = np.asarray(indices)
        if (idx >= self.n).any():
            raise RecordIndexError(f"index {int(idx.max())} out of range for {self.n} records")
        rng = np.random.default_rng(idx)
        return {
            "images": rng.random((len(idx), 4, 5, 3), dtype=np.float32),
            "labels": (idx % 7).astype(np.int32),
            "raw": rng.integers(0, 255, (3, len(idx)), dtype=np.uint8).T,  # not C-contiguous
            "nested": {"a": idx.astype(np.int64), "b": {"c": idx.astype(np.float16)}},
            "texts": np.array([f"t{i}" for i in idx]),
            "names": [f"file{i}.jpg" for i in idx],
            "empty": np.zeros((len(idx), 0), np.float32),
            "__valid__": idx % 5 != 0,
        }


class FaultySource(MixedSource):
    """Raises, exits, is killed, returns an unpicklable value or warns at chosen indices."""

    def get_records(self, indices: Any) -> dict[str, Any]:
        idx = np.asarray(indices)
        if RAISE_AT in idx:
            raise DataError(f"cannot decode 'file{RAISE_AT}.jpg': truncated")
        if EXIT_AT in idx:
            os._exit(3)
        if KILL_AT in idx:
            os.kill(os.getpid(), signal.SIGKILL)
        out = super().get_records(idx)
        if UNPICKLABLE_AT in idx:
            out["gen"] = (i for i in idx)
        if WARN_AT in idx:
            warnings.warn(f"skipping 'file{WARN_AT}.jpg'", RuntimeWarning, stacklevel=1)
        return out


class HangingSource(MixedSource):
    """Never returns from a batch holding ``HANG_AT`` (a stuck network read, a deadlock)."""

    def get_records(self, indices: Any) -> dict[str, Any]:
        if HANG_AT in np.asarray(indices):
            time.sleep(3600)
        return super().get_records(indices)


class BuggySource(MixedSource):
    """A bug, not bad data: raises ``TypeError`` at ``TYPE_AT``."""

    def get_records(self, indices: Any) -> dict[str, Any]:
        if TYPE_AT in np.asarray(indices):
            raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")
        return super().get_records(indices)


class WorkerBugSource(MixedSource):
    """A bug only in a worker process (``TypeError``); this process reads slowly, so the workers get batches."""

    def get_records(self, indices: Any) -> dict[str, Any]:
        from modalax._src.loader.workers import in_worker_process

        if in_worker_process():
            raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")
        time.sleep(0.02)
        return super().get_records(indices)


class OffsetSource:
    """``x = index + offset``: a source whose attribute a user may change between passes."""

    def __init__(self, n: int = 24, offset: int = 0) -> None:
        self.n, self.offset = n, offset

    def __len__(self) -> int:
        return self.n

    def get_records(self, indices: Any) -> dict[str, Any]:
        return {"x": np.asarray(indices, np.int64) + self.offset}


class UnpicklableSource(MixedSource):
    """Holds a lambda: cannot be sent to a worker."""

    def __init__(self) -> None:
        super().__init__()
        self.fn = lambda x: x


class SlowSource(MixedSource):
    """Takes ``delay`` seconds per batch and counts its batches (in the process that runs it)."""

    def __init__(self, n: int = 100, delay: float = 0.2) -> None:
        super().__init__(n)
        self.delay = delay
        self.calls = 0

    def get_records(self, indices: Any) -> dict[str, Any]:
        time.sleep(self.delay)
        self.calls += 1
        return super().get_records(indices)


class ThreadProbe(FileSource):
    """A file source whose records say whether they were decoded on the process's main thread."""

    def decode(self, path: Path) -> dict[str, np.ndarray]:
        return {"main": np.array(threading.current_thread() is threading.main_thread())}


class PidSource(OffsetSource):
    """``x`` as ``OffsetSource``, and ``pid``: the process that read each record."""

    def get_records(self, indices: Any) -> dict[str, Any]:
        out = super().get_records(indices)
        out["pid"] = np.full(len(out["x"]), os.getpid(), np.int64)
        return out


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


class DyingSource(MixedSource):
    """Its worker ends at ``EXIT_AT``: ``os._exit(3)`` (``how="exit"``) or SIGKILL (``how="kill"``)."""

    def __init__(self, n: int = 100, how: str = "exit") -> None:
        super().__init__(n)
        self.how = how

    def get_records(self, indices: Any) -> dict[str, Any]:
        if EXIT_AT in np.asarray(indices) and os.environ.get("MODALAX_WORKER_PROCESS") == "1":
            if self.how == "exit":
                os._exit(3)
            os.kill(os.getpid(), signal.SIGKILL)
        return super().get_records(indices)


def same(got: Any, want: Any) -> None:
    """Equal records: the same types, keys in order, array dtypes, shapes and bytes."""
    assert type(got) is type(want)
    if isinstance(want, dict):
        assert list(got) == list(want)
        for k in want:
            same(got[k], want[k])
    elif isinstance(want, np.ndarray):
        assert (got.dtype, got.shape, got.tobytes()) == (want.dtype, want.shape, want.tobytes())
    else:
        assert got == want


def _cannot_load() -> None:
    """What unpickling an ``UnloadableSource`` calls: it raises."""
    raise RuntimeError("codec library missing")


class UnloadableSource:
    """Pickles, but unpickling it in a worker fails."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_cannot_load, ())

    def get_records(self, indices: Any) -> Any:
        raise AssertionError("never loaded")
