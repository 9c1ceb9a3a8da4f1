"""Streaming sources and their loader: tar shards, HF ``IterableDataset``, Python iterables.

See ``docs/data-at-scale.md``. ``StreamingLoader`` is imported lazily (it imports jax); the
sources import only numpy until they read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modalax._src.streaming.adapt import as_stream, is_stream
from modalax._src.streaming.hf import HFStreamSource
from modalax._src.streaming.iterable import IterableSource
from modalax._src.streaming.source import StreamSource, UnknownLengthError
from modalax._src.streaming.webdataset import WebDatasetSource

if TYPE_CHECKING:
    from modalax._src.streaming.loader import StreamingLoader

__all__ = [
    "HFStreamSource",
    "IterableSource",
    "StreamSource",
    "StreamingLoader",
    "UnknownLengthError",
    "WebDatasetSource",
    "as_stream",
    "is_stream",
]


def __getattr__(name: str) -> Any:
    if name == "StreamingLoader":
        from modalax._src.streaming.loader import StreamingLoader

        return StreamingLoader
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
