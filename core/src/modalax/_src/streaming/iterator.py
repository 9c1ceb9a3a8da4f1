"""``StreamIterator``: one pass of a ``StreamingLoader``; only the newest one runs.

As with the ``DataLoader``'s iterator: ``iter(loader)`` or ``load_state_dict`` supersedes the
previous iterator, whose producer stops at once and which raises ``StaleIteratorError`` when
used again; the loader keeps a weak reference, so a dropped iterator's producer thread ends.
The producer runs one batch ahead in a thread (``prefetch``) and hands each batch over with the
position after it, so ``state_dict()`` is the position of the batches handed out, not of
those read ahead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from modalax._src.errors import ConfigError, StaleIteratorError
from modalax._src.install_hints import extra_hint
from modalax._src.loader.prefetch import Prefetcher

if TYPE_CHECKING:
    from modalax._src.streaming.loader import StreamingLoader

__all__ = ["StreamIterator"]


class StreamIterator:
    """One pass of a ``StreamingLoader``; ``state_dict()`` saves the position after the last batch."""

    def __init__(
        self,
        loader: StreamingLoader,
        source: Iterator[tuple[dict[str, Any] | None, dict[str, Any]]],
        generation: int,
        prefetch: int,
    ) -> None:
        self.loader = loader
        self._generation = generation
        self._it: Any = Prefetcher(source, prefetch) if prefetch > 0 else source
        self._bar = _progress_bar(loader) if loader.progress else None

    @property
    def superseded(self) -> bool:
        """Whether a newer ``iter(loader)`` or ``load_state_dict`` replaced this iterator."""
        return self.loader._generation != self._generation

    def _check_current(self) -> None:
        if self.superseded:
            self.close()
            raise StaleIteratorError(
                "this iterator of the StreamingLoader was superseded by a newer iter(loader) or load_state_dict; "
                "expected one live iterator per loader"
            )

    def __iter__(self) -> StreamIterator:
        return self

    def __next__(self) -> dict[str, Any]:
        self._check_current()
        try:
            batch, position = next(self._it)
        except StopIteration:
            self._check_current()
            self.close()
            raise
        except BaseException:
            self.close()
            raise
        self._check_current()
        self.loader._snapshot = position
        if batch is None:  # the run is over; its final position (and counts) is now the state
            self.close()
            raise StopIteration
        if self._bar is not None:
            self._bar.update(1)
        return batch

    def state_dict(self) -> dict[str, Any]:
        """Same as ``StreamingLoader.state_dict`` while this iterator is the loader's current one."""
        self._check_current()
        return self.loader.state_dict()

    @property
    def skipped(self) -> list[str]:
        """Samples left out so far (``on_error="skip"``), as of the last batch handed out."""
        return self.loader.skipped

    @property
    def skipped_count(self) -> int:
        """How many samples (or unreadable rests of shards) were left out so far."""
        return self.loader.skipped_count

    @property
    def dropped(self) -> int:
        """Records read and not yielded so far."""
        return self.loader.dropped

    def close(self) -> None:
        """Stop the producer (and drop what it read ahead); safe to call twice, from any thread."""
        bar, self._bar = getattr(self, "_bar", None), None
        if bar is not None:
            bar.close()
        it = self._it
        if isinstance(it, Prefetcher):
            it.close()
        else:
            close = getattr(it, "close", None)
            if close is not None:
                try:  # noqa: SIM105 - a generator closed from another thread while running raises ValueError
                    close()
                except ValueError:
                    pass

    def __del__(self) -> None:
        try:  # noqa: SIM105 - at interpreter shutdown module globals may already be None
            self.close()
        except Exception:
            pass


def _progress_bar(loader: StreamingLoader) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:
        raise ConfigError(
            f"StreamingLoader.progress: got True, but tqdm is not installed: {extra_hint('progress')}"
        ) from exc
    try:
        total = None if loader.num_epochs is None else len(loader) * loader.num_epochs
    except TypeError:  # the stream's length is unknown: the bar counts without a total
        total = None
    return tqdm(total=total, unit="batch", desc="modalax stream")
