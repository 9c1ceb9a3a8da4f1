"""Any Python iterable as a stream: a generator factory, a re-iterable object, or (read once) an iterator.

* ``IterableSource(factory, num_shards=N)``: ``factory(shard)`` returns a fresh iterator over
  shard ``shard`` (``factory()`` when ``num_shards`` is None: one shard). The factory is called
  again for every epoch and every resume, and pickled to worker processes (define it at module
  level). The records of a shard must come in the same order every time: that is what makes
  epochs, resume and per-record keys exact.
* A re-iterable object (a list, a ``range``, anything whose ``iter()`` returns a fresh
  iterator): one shard, ``iter(obj)`` per read.
* A bare iterator or generator object: one shard that can be read **once**; one epoch, decoded
  in this process (it cannot be pickled), and no resume (reading it again is impossible).

A record is a dict (nested dicts allowed) of arrays, numbers, strings or other values; numbers
and numeric lists become numpy arrays. A bare array, number or string is served under ``key``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.streaming.source import OnError, Sample, StreamSource, skip_to

__all__ = ["IterableSource", "is_one_pass"]


def is_one_pass(obj: Any) -> bool:
    """Whether ``obj`` is an iterator (its ``iter()`` is itself): it can be read once."""
    try:
        return iter(obj) is obj
    except TypeError:
        return False


def _leaf(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _leaf(v) for k, v in value.items()}
    if isinstance(value, np.ndarray | np.generic | str | bytes):
        return value
    if isinstance(value, bool | int | float):
        return np.asarray(value)
    if isinstance(value, list | tuple):
        array = np.asarray(value) if value else None
        return array if array is not None and array.dtype.kind in "biufc" else value
    if hasattr(value, "__array__") and hasattr(value, "dtype"):  # jax arrays and their kind
        return np.asarray(value)
    return value


class IterableSource(StreamSource):
    """Records of an iterable, a generator factory or an iterator (see the module docstring)."""

    def __init__(
        self,
        data: Any,
        *,
        num_shards: int | None = None,
        key: str = "data",
        name: str | None = None,
        shard_sizes: Any = None,
        on_error: OnError = "raise",
    ) -> None:
        owner = type(self).__name__
        if num_shards is not None and (
            isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1
        ):
            raise ConfigError(f"{owner}.num_shards: got {num_shards!r}, expected a positive int or None")
        label = name or getattr(data, "__qualname__", None) or type(data).__name__
        if is_one_pass(data):
            if num_shards not in (None, 1):
                raise ConfigError(f"{owner}: an iterator is one shard; got num_shards={num_shards} (pass a factory)")
            self.kind = "iterator"
        elif callable(data) and not hasattr(data, "__iter__"):
            self.kind = "factory"
        elif hasattr(data, "__iter__"):
            if num_shards not in (None, 1):
                raise ConfigError(f"{owner}: an iterable is one shard; got num_shards={num_shards} (pass a factory)")
            self.kind = "iterable"
        else:
            raise ConfigError(
                f"{owner}.data: got {type(data).__name__}, expected an iterable, an iterator or a function "
                "returning one iterator per shard"
            )
        count = num_shards or 1
        shards = [f"{label}[{i}]" for i in range(count)] if num_shards else [str(label)]
        super().__init__(shards, shard_sizes=shard_sizes, on_error=on_error)
        self.data = data
        self.sharded = num_shards is not None
        self.key = key
        self.one_pass = self.kind == "iterator"
        self._read = False

    def samples(self, shard: int, start: int = 0) -> Iterator[Sample]:
        if self.kind == "iterator":
            if self._read:
                raise DataError(
                    f"{self.where(shard)}: an iterator (a generator object) can be read once and was read already; "
                    "expected a function returning a fresh iterator (IterableSource(factory)) to read it again"
                )
            self._read = True
            it: Iterator[Any] = self.data
        elif self.kind == "factory":
            made = self.data(shard) if self.sharded else self.data()
            try:
                it = iter(made)
            except TypeError:
                raise DataError(
                    f"{self.where(shard)}: the factory returned {type(made).__name__}, expected an iterator"
                ) from None
        else:
            it = iter(self.data)
        return skip_to(((f"#{i}", item) for i, item in enumerate(it)), start)

    def decode(self, key: str, raw: Any, shard: int) -> dict[str, Any]:
        if isinstance(raw, Mapping):
            if not raw:
                raise DataError(f"{self.where(shard, key)} is an empty dict; expected fields")
            return {str(k): _leaf(v) for k, v in raw.items()}
        if isinstance(raw, np.ndarray | np.generic | bool | int | float | str | bytes) or hasattr(raw, "__array__"):
            return {self.key: _leaf(raw)}
        raise DataError(
            f"{self.where(shard, key)} is a {type(raw).__name__}; expected a dict of fields, an array, a number or text"
        )
