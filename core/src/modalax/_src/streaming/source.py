"""``StreamSource``: records in shards, read in order from a position; no random access, no length.

A streaming source is a list of named shards. ``samples(shard, start)`` yields the raw samples
of one shard from position ``start`` (``(key, raw)`` pairs; positions count every sample of the
shard, good or bad, so a position names one sample for good); ``decode(key, raw, shard)`` turns
one into a record (a dict of arrays and host values). Reading and decoding are split so that a
reader can skip to a position without decoding what it passes, and so that decoding runs in
worker processes. A record's identity is ``(shard, position)``: the loader derives its
operator key and its place in a resume state from it.

What a stream cannot promise: ``len`` (unknown until read to the end; ``shard_sizes`` may
declare it) and a global permutation (see ``modalax._src.streaming.buffer``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from modalax._src.errors import ConfigError, DataError

__all__ = ["OnError", "Sample", "StreamSource", "UnknownLengthError", "check_on_error", "check_shard_sizes"]

OnError = Literal["raise", "skip"]
Sample = tuple[str, Any]


class UnknownLengthError(ConfigError, TypeError):
    """``len()`` of a stream whose size is not known; also a ``TypeError`` (so ``list(loader)`` works)."""


def check_on_error(owner: str, value: Any) -> OnError:
    """``value`` when it is ``"raise"`` or ``"skip"``, else ``ConfigError``."""
    if value not in ("raise", "skip"):
        raise ConfigError(f"{owner}.on_error: got {value!r}, expected 'raise' or 'skip'")
    return value


def check_shard_sizes(owner: str, sizes: Any, names: Sequence[str]) -> list[int] | None:
    """Declared samples per shard: None, a list (one int per shard) or a mapping shard name -> int."""
    if sizes is None:
        return None
    if isinstance(sizes, Mapping):
        missing = [n for n in names if n not in sizes]
        if missing:
            raise ConfigError(f"{owner}.shard_sizes: no size for shard {missing[0]!r} ({len(missing)} missing in all)")
        sizes = [sizes[n] for n in names]
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence | np.ndarray) or len(sizes) != len(names):
        raise ConfigError(
            f"{owner}.shard_sizes: got {sizes!r}, expected one sample count per shard ({len(names)}), "
            "as a list or a mapping shard name -> count"
        )
    out = []
    for name, value in zip(names, sizes, strict=True):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ConfigError(f"{owner}.shard_sizes: got {value!r} for shard {name!r}, expected an int >= 0")
        out.append(int(value))
    return out


class StreamSource:
    """Base of streaming sources; subclasses set ``shards`` and implement ``samples`` and ``decode``.

    ``on_error="skip"`` makes the loader leave out a sample that cannot be read or decoded (and
    the rest of a shard that cannot be read on), counting each in the iterator's ``skipped``;
    ``"raise"`` (the default) raises a ``DataError`` naming the shard and the sample.
    ``shard_sizes`` declares the samples of each shard (``count_samples()`` finds them by reading):
    the loader then knows every process's epoch, so ``len`` works and processes agree on batches.
    """

    #: A source that can be read only once (a bare iterator): one epoch, no workers, no resume.
    one_pass: bool = False

    def __init__(self, shards: Sequence[str], *, shard_sizes: Any = None, on_error: OnError = "raise") -> None:
        owner = type(self).__name__
        self.shards = [str(s) for s in shards]
        if not self.shards:
            raise DataError(f"{owner}: got no shards; expected at least one")
        if len(set(self.shards)) != len(self.shards):
            dup = next(s for s in self.shards if self.shards.count(s) > 1)
            raise ConfigError(f"{owner}: shard {dup!r} is listed twice; expected each shard once")
        self.on_error = check_on_error(owner, on_error)
        self.shard_sizes = check_shard_sizes(owner, shard_sizes, self.shards)

    def samples(self, shard: int, start: int = 0) -> Iterator[Sample]:
        """Raw ``(key, raw)`` samples of shard ``shard`` from position ``start`` on."""
        raise NotImplementedError(f"{type(self).__name__} must implement samples(shard, start)")

    def decode(self, key: str, raw: Any, shard: int) -> dict[str, Any]:
        """One raw sample as a record; ``DataError`` naming the shard and ``key`` when it cannot be."""
        raise NotImplementedError(f"{type(self).__name__} must implement decode(key, raw, shard)")

    def where(self, shard: int, key: str | None = None) -> str:
        """``"shard 'name'"`` (and ``" sample 'key'"``) for messages."""
        text = f"shard {self.shards[shard]!r}"
        return text if key is None else f"{text} sample {key!r}"

    @property
    def num_shards(self) -> int:
        """Number of shards."""
        return len(self.shards)

    def count_samples(self) -> list[int]:
        """Samples per shard, found by reading every shard once (no decoding): for ``shard_sizes``.

        Costs a full read of the raw data (for tar shards, the bytes of every member).
        """
        return [sum(1 for _ in self.samples(s)) for s in range(self.num_shards)]

    def __len__(self) -> int:
        if self.shard_sizes is not None:
            return sum(self.shard_sizes)
        raise UnknownLengthError(
            f"len({type(self).__name__}): a stream's length is unknown until it has been read to the end; "
            "expected shard_sizes=[...] (source.count_samples() finds them by reading every shard once)"
        )


def skip_to(it: Iterator[Sample], start: int) -> Iterator[Sample]:
    """``it`` from position ``start`` on: the samples before are passed, not decoded."""
    return itertools.islice(it, start, None) if start else it
