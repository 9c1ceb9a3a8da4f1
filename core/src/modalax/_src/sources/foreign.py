"""Any random-access object as a source: the one adapter between other libraries and the loader.

The loader needs ``__len__`` and ``get_records(indices)``. ``as_source`` finds it for:

* modalax sources and datasets (returned as they are);
* a HF ``datasets.Dataset``: one Arrow slice per batch (``dataset[indices]``), columns of
  ``Image()`` features decoded with Pillow into ``images`` (float32 in [0, 1]) and ``Audio()``
  features decoded with soundfile into ``audio`` (see ``HFSource``);
* anything with ``__len__`` and ``__getitem__`` returning a dict of arrays, an array or a
  scalar: a grain ``RandomAccessDataSource`` or ``MapDataset``, a torch-style dataset
  (``SequenceSource``; ``__getitems__`` is used when the object has it, as grain and torch
  define it);
* a list of records or a bare array (stacked once into an ``ArraySource``).

Records are still pure functions of their index, so exactly-once epochs, resume and sharding
hold unchanged. Reading a ``__getitem__`` source costs one Python call per record, which is
what that protocol allows; decoding-heavy sources scale with the loader's worker processes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.sources.array import ArraySource
from modalax._src.sources.base import Batch, IndexedSource
from modalax._src.sources.hf import HFSource, is_hf_dataset
from modalax._src.sources.stack import stack_records

__all__ = ["SequenceSource", "as_source"]


class SequenceSource(IndexedSource):
    """Records of an object with ``__len__`` and ``__getitem__`` (optionally ``__getitems__``).

    ``transform`` maps one raw record (say the bytes an ArrayRecord file holds) to a dict of
    arrays; a record that is an array or a scalar is served under ``key``.
    """

    traceable = False

    def __init__(self, obj: Any, *, transform: Callable[[Any], Any] | None = None, key: str = "data") -> None:
        if not (hasattr(obj, "__len__") and hasattr(obj, "__getitem__")):
            raise ConfigError(
                f"SequenceSource: got {type(obj).__name__}, expected an object with __len__ and __getitem__"
            )
        self.obj = obj
        self.transform = transform
        self.key = key

    def __len__(self) -> int:
        return len(self.obj)

    def _items(self, idx: list[int]) -> list[Any]:
        getitems = getattr(self.obj, "__getitems__", None)
        try:
            items = list(getitems(idx)) if getitems is not None else [self.obj[i] for i in idx]
        except DataError:
            raise
        except Exception as exc:
            raise DataError(
                f"{type(self.obj).__name__}[{idx[0] if len(idx) == 1 else idx}] raised {type(exc).__name__}: {exc}"
            ) from exc
        if len(items) != len(idx):
            raise DataError(
                f"{type(self.obj).__name__}.__getitems__ returned {len(items)} records for {len(idx)} indices"
            )
        if self.transform is not None:
            items = [self.transform(item) for item in items]
        return items

    def get_records(self, indices: Any) -> Batch:
        idx = [int(i) for i in self.checked_indices(indices)]
        if not idx:
            raise DataError(f"SequenceSource({type(self.obj).__name__}): got no indices; expected at least one")
        owner = f"SequenceSource({type(self.obj).__name__})"
        return stack_records(self._items(idx), owner=owner, key=self.key)


def as_source(obj: Any, *, key: str = "data", **options: Any) -> Any:
    """``obj`` as something the loader reads by index (see the module docstring for what is accepted).

    ``options`` go to the adapter: ``transform=`` for ``SequenceSource``; ``image_size=``,
    ``audio_length=`` and ``columns=`` for ``HFSource``.
    """
    if hasattr(obj, "get_records") and hasattr(obj, "__len__"):
        return obj
    if is_hf_dataset(obj):
        return HFSource(obj, **options)
    if isinstance(obj, np.ndarray) or (isinstance(obj, Sequence) and not isinstance(obj, str | bytes)):
        if len(obj) == 0:
            raise DataError(f"DataLoader.source: got an empty {type(obj).__name__}; expected at least one record")
        if not options:
            return ArraySource(obj, key=key)
    if isinstance(obj, Mapping):
        return ArraySource(obj, key=key)
    if hasattr(obj, "__len__") and hasattr(obj, "__getitem__"):
        return SequenceSource(obj, key=key, **options)
    raise ConfigError(
        f"DataLoader.source: got {type(obj).__name__}; expected a modalax source or dataset, a HF datasets.Dataset, "
        "an object with __len__ and __getitem__ (grain, torch-style), a list of records, a dict of arrays or an array"
    )
