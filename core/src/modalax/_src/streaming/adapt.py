"""What the streaming loader accepts as a source, and how a ``DataLoader`` can tell a stream apart."""

from __future__ import annotations

from typing import Any

from modalax._src.errors import ConfigError
from modalax._src.streaming.hf import HFStreamSource, is_hf_iterable
from modalax._src.streaming.iterable import IterableSource, is_one_pass
from modalax._src.streaming.source import StreamSource

__all__ = ["as_stream", "is_stream"]


def is_stream(obj: Any) -> bool:
    """Whether ``obj`` can only be streamed: a ``StreamSource``, a HF ``IterableDataset``, an iterator.

    Lists, arrays and other random-access objects are not streams (a ``DataLoader`` reads them by
    index); a generator *function* is a stream only when wrapped (``IterableSource(fn)``).
    """
    if hasattr(obj, "get_records") and hasattr(obj, "__len__"):
        return False
    return isinstance(obj, StreamSource) or is_hf_iterable(obj) or is_one_pass(obj)


def as_stream(obj: Any) -> StreamSource:
    """``obj`` as a ``StreamSource``: as it is, a HF ``IterableDataset``, or any iterable, iterator or factory."""
    if isinstance(obj, StreamSource):
        return obj
    if is_hf_iterable(obj):
        return HFStreamSource(obj)
    if isinstance(obj, str | bytes) or obj is None:
        raise ConfigError(
            f"StreamingLoader.source: got {obj!r}; expected a StreamSource (WebDatasetSource(paths) for tar shards), "
            "a datasets.IterableDataset, an iterable or a function returning iterators"
        )
    return IterableSource(obj)
