"""``LoaderIterator``: one pass over a ``DataLoader``, and the rule that only the newest one runs.

A loader has one position (what ``state_dict`` saves), so it serves one iterator at a time:
``iter(loader)`` or ``load_state_dict`` supersedes the previous iterator, whose producer is
stopped at once and which raises ``StaleIteratorError`` when used again, instead of silently
ending or sharing the position. The loader keeps only a weak reference to its iterator, so an
iterator dropped mid-epoch (an early ``break``) is collected and its producer thread stops.

A batch that could not be read (a ``DataError`` from the source or a worker) is raised in its
place, and the next ``next()`` returns the following batch, with or without workers. Any other
error stops the pass: it is raised, and so is every later ``next()``, naming it; a pass never
ends early without a word (an early end is a ``DataError`` naming where it stopped).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modalax._src.errors import ConfigError, DataError, StaleIteratorError
from modalax._src.install_hints import extra_hint
from modalax._src.loader.prefetch import Lookahead, Prefetcher
from modalax._src.loader.worker_stream import BatchFailure

if TYPE_CHECKING:
    from modalax._src.loader.loader import DataLoader

__all__ = ["LoaderIterator"]


class LoaderIterator:
    """One pass of a ``DataLoader``; knows the position of the next batch it hands out."""

    def __init__(self, loader: DataLoader, epoch: int, batch: int, generation: int) -> None:
        self.loader = loader
        self.position = (epoch, batch)
        self._generation = generation
        self._per_epoch = loader.plan.batches_per_epoch
        loader._workers.before_pass()  # in the caller's thread: the main guard is checked on its stack
        source = loader._batches(epoch, batch)
        self._it: Any = source
        if loader.prefetch > 0:
            # Device-resident sources only dispatch work (async); host sources decode in a thread.
            on_device = loader._traceable  # the record source's (a mixture of device arrays is on the device)
            self._it = (Lookahead if on_device else Prefetcher)(source, loader.prefetch)
        self._bar = _progress_bar(loader, epoch, batch) if loader.progress else None
        self._stopped: BaseException | None = None  # the error that ended the pass
        self._closed = False

    @property
    def superseded(self) -> bool:
        """Whether a newer ``iter(loader)`` or ``load_state_dict`` replaced this iterator."""
        return self.loader._generation != self._generation

    def _check_current(self) -> None:
        if self.superseded:
            self.close()
            raise StaleIteratorError(
                f"this iterator of the DataLoader was superseded at epoch {self.position[0]} batch "
                f"{self.position[1]} by a newer iter(loader) or load_state_dict; expected one live iterator per "
                "loader (build one DataLoader per consumer, or keep using the newest iterator)"
            )

    def __iter__(self) -> LoaderIterator:
        return self

    def __next__(self) -> dict[str, Any]:
        self._check_current()
        if self._stopped is not None:
            epoch, b = self.position
            raise DataError(
                f"this DataLoader pass stopped before epoch {epoch} batch {b} because of "
                f"{type(self._stopped).__name__}: {self._stopped}; expected a new pass (iter(loader), after "
                "load_state_dict(state) to resume there)"
            ) from self._stopped
        try:
            epoch, b, batch = next(self._it)
        except StopIteration:
            self._check_current()  # stopped because a newer iterator closed this one
            self._check_end()
            self.close()
            raise
        except Exception as exc:
            self._stopped = exc
            raise
        self._check_current()
        self.position = (epoch, b + 1) if b + 1 < self._per_epoch else (epoch + 1, 0)
        self.loader._position = self.position
        if self._bar is not None:
            self._bar.update(1)
        if isinstance(batch, BatchFailure):
            raise batch.error  # this batch only: the next call returns the following one
        return batch

    def _check_end(self) -> None:
        """``DataError`` when the pass ends before the run's last batch (never silently)."""
        epochs = self.loader.num_epochs
        if self._closed or epochs is None or self.position >= (epochs, 0):
            return
        epoch, b = self.position
        self._stopped = DataError(f"the pass ended early, at epoch {epoch} batch {b} of {epochs} epoch(s)")
        raise self._stopped

    def settle(self) -> None:
        """Wait until the read-ahead is complete: every batch ahead produced, no worker decoding.

        Nothing else changes; the next batch is the same. For timing a steady state: background
        work of this iterator then never runs during the next thing timed (``benchmarks/``).
        """
        if isinstance(self._it, Prefetcher):
            self._it.settle()
        self.loader._workers.settle()

    def close(self) -> None:
        """Stop prefetching and release the progress bar; safe to call twice, from any thread."""
        self._closed = True
        if isinstance(self._it, Prefetcher | Lookahead):
            self._it.close()
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def state_dict(self) -> dict[str, Any]:
        """Same as ``DataLoader.state_dict`` while this iterator is the loader's current one."""
        self._check_current()
        return self.loader.state_dict()

    def __del__(self) -> None:
        # Not contextlib.suppress: at interpreter shutdown module globals may already be None.
        try:  # noqa: SIM105
            self.close()
        except Exception:
            pass


def _progress_bar(loader: DataLoader, epoch: int, batch: int) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:
        raise ConfigError(
            f"DataLoader.progress: got True, but tqdm is not installed; expected {extra_hint('progress')}"
        ) from exc
    per_epoch = loader.plan.batches_per_epoch
    total = None if loader.num_epochs is None else loader.num_epochs * per_epoch
    return tqdm(total=total, initial=epoch * per_epoch + batch, unit="batch", desc="modalax")
