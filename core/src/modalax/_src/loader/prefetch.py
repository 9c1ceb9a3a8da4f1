"""Producing ahead of the consumer: a background thread for host work, a lookahead for device work.

The producer thread runs a module-level function that holds the source iterator, the queue
and a stop flag, never the ``Prefetcher`` itself; so when the consumer's ``Prefetcher`` becomes
unreachable (an early ``break``, a dropped iterator) a ``weakref.finalize`` sets the flag and
the thread ends after its current item, releasing the source and everything it references.

The consumer never waits on a producer that is gone: it polls the queue with a short timeout
and checks, between polls, whether the prefetcher was closed (from any thread) or the
producer thread ended without a last word.
"""

from __future__ import annotations

import atexit
import contextlib
import queue
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

import jax

from modalax._src.errors import DataError

T = TypeVar("T")
_END = object()
_POLL_S = 0.05  # how often a waiting producer or consumer checks the stop flag
_LIVE: weakref.WeakSet[Prefetcher[Any]] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # A daemon thread still inside a jax call when the interpreter tears down aborts the process.
    for prefetcher in list(_LIVE):
        prefetcher.close()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _put(q: queue.Queue[Any], stop: threading.Event, item: Any, waiting: threading.Event) -> bool:
    """Put ``item`` unless stopped; ``waiting`` is set while the queue is full and the item waits."""
    try:
        q.put_nowait(item)
        return True
    except queue.Full:
        pass
    waiting.set()
    try:
        while not stop.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False
    finally:
        waiting.clear()


def _produce(source: Iterator[Any], q: queue.Queue[Any], stop: threading.Event, waiting: threading.Event) -> None:
    try:
        for item in source:
            if not _put(q, stop, item, waiting):
                break
        else:
            _put(q, stop, _END, waiting)
    except BaseException as exc:
        _put(q, stop, _Failure(exc), waiting)
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()  # a generator source runs its cleanup here, in the thread that ran it


def _stop(stop: threading.Event, q: queue.Queue[Any]) -> None:
    stop.set()
    while True:  # free the buffered items now, not when the queue is collected
        try:
            q.get_nowait()
        except queue.Empty:
            break


class Prefetcher(Generic[T]):
    """Run ``source`` in a daemon thread, ``size`` items ahead of the consumer."""

    def __init__(self, source: Iterator[T], size: int) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, size))
        self._stop = threading.Event()
        self._waiting = threading.Event()  # the producer holds an item and the queue is full
        self._done = False
        self._thread = threading.Thread(
            target=_produce, args=(source, self._queue, self._stop, self._waiting), name="modalax-prefetch", daemon=True
        )
        self._finalizer = weakref.finalize(self, _stop, self._stop, self._queue)
        self._thread.start()
        _LIVE.add(self)

    def __iter__(self) -> Prefetcher[T]:
        return self

    def _get(self) -> Any:
        while True:
            if self._stop.is_set():
                return _END
            try:
                return self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty() and not self._stop.is_set():
                    raise DataError("the prefetch thread ended without a result (interpreter shutting down?)") from None

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item = self._get()
        if item is _END:
            self._done = True
            raise StopIteration
        if isinstance(item, _Failure):
            self.close()
            raise item.exc
        return item

    def close(self) -> None:
        """Stop the producer and wait for it (unless called from it); safe to call twice, from any thread."""
        self._done = True
        self._finalizer()
        if self._thread is not threading.current_thread() and self._thread.ident is not None:
            self._thread.join(timeout=10)

    @property
    def alive(self) -> bool:
        """Whether the producer thread is still running."""
        return self._thread.is_alive()

    def settle(self) -> None:
        """Wait until the producer is idle: the queue full and the next item waiting, or the producer ended."""
        while self._thread.is_alive() and not self._stop.is_set() and not self._waiting.wait(_POLL_S):
            pass


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
        """Drop what was produced ahead and close the source; safe to call twice, from any thread."""
        self._buffer.clear()
        self._exhausted = True
        close = getattr(self._source, "close", None)
        if close is not None:
            # Closing from another thread while the owner is inside next(source) raises
            # "generator already executing"; the owner then finds the lookahead exhausted.
            with contextlib.suppress(ValueError):
                close()

    @property
    def alive(self) -> bool:
        """Whether more items may come (no thread is involved)."""
        return not self._exhausted


def auto_prefetch(source: Any) -> int:
    """The look-ahead ``prefetch="auto"`` picks, from measurements (``benchmarks/bench_prefetch.py``).

    A traceable source only dispatches device work per batch. On the CPU backend that work
    runs on the same cores as the look-ahead, which then only adds overhead (0-37% slower in the
    measurements, never faster): 0. On an accelerator, dispatching ahead overlaps the host's
    Python with the device: 2. Host arrays in memory (``ArraySource(on_device=False)``) are a
    numpy gather with nothing to overlap: a thread cost 15% in a bare loop and gained nothing
    beside a training step: 0. Sources that decode (files, foreign datasets) read in a background
    thread one batch ahead (12% faster beside a training step, level in a bare loop): 1.
    """
    from modalax._src.sources.array import ArraySource

    if not getattr(source, "traceable", False):
        return 0 if isinstance(source, ArraySource) else 1
    return 0 if jax.default_backend() == "cpu" else 2
