"""A background producer with a bounded queue; errors reach the consumer, shutdown is clean."""

from __future__ import annotations

import atexit
import queue
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_END = object()
_LIVE: weakref.WeakSet[Prefetcher[object]] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # A daemon thread still inside a jax call when the interpreter tears down aborts the process.
    for prefetcher in list(_LIVE):
        prefetcher.close()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Prefetcher(Generic[T]):
    """Run ``source`` in a daemon thread, ``size`` items ahead of the consumer."""

    def __init__(self, source: Iterator[T], size: int) -> None:
        self._source = source
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, size))
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, name="modalax-prefetch", daemon=True)
        self._thread.start()
        _LIVE.add(self)

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:
            self._put(_Failure(exc))

    def __iter__(self) -> Prefetcher[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            self._done = True
            self._thread.join()
            raise StopIteration
        if isinstance(item, _Failure):
            self._done = True
            self.close()
            raise item.exc
        return item

    def close(self) -> None:
        """Stop the producer and wait for it; safe to call twice."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=10)
        close = getattr(self._source, "close", None)
        if close is not None and not self._thread.is_alive():
            close()
        self._done = True

    @property
    def alive(self) -> bool:
        """Whether the producer thread is still running."""
        return self._thread.is_alive()


class Lookahead(Generic[T]):
    """Keep ``size`` items produced ahead, in the calling thread.

    For sources gathered inside the jitted step, producing a batch only dispatches device work,
    which runs asynchronously; a thread would add GIL hand-offs and no overlap.  An error raised
    while producing ahead is held back until the items produced before it are consumed.
    """

    def __init__(self, source: Iterator[T], size: int) -> None:
        self._source = source
        self._size = max(1, size)
        self._buffer: deque[T] = deque()
        self._error: BaseException | None = None
        self._exhausted = False

    def _fill(self) -> None:
        while not self._exhausted and self._error is None and len(self._buffer) <= self._size:
            try:
                self._buffer.append(next(self._source))
            except StopIteration:
                self._exhausted = True
            except Exception as exc:
                self._error = exc

    def __iter__(self) -> Lookahead[T]:
        return self

    def __next__(self) -> T:
        self._fill()
        if self._buffer:
            return self._buffer.popleft()
        if self._error is not None:
            error, self._error = self._error, None
            self.close()
            raise error
        raise StopIteration

    def close(self) -> None:
        """Drop what was produced ahead and close the source; safe to call twice."""
        self._buffer.clear()
        self._exhausted = True
        close = getattr(self._source, "close", None)
        if close is not None:
            close()

    @property
    def alive(self) -> bool:
        """Whether more items may come (no thread is involved)."""
        return not self._exhausted
