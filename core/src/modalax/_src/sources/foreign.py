"""Any random-access object as a source: the one adapter between other libraries and the loader.

The loader needs ``__len__`` and ``get_records(indices)``. ``as_source`` finds it for:

* modalax sources and datasets (returned as they are);
* a HF ``datasets.Dataset``: one Arrow slice per batch, media columns (``Image()``,
  ``Audio()``) decoded by their modality's registered decoder exactly as its folder dataset
  decodes files (see ``HFSource``); a ``DatasetDict`` or a streaming dataset is refused with the
  way out (pick a split);
* anything with ``__len__`` and ``__getitem__`` returning a dict of arrays, a tuple of them
  (torchvision's ``(image, label)``: fields named by position, ``"0"``, ``"1"``, or by
  ``fields=("images", "labels")``), an array or a scalar: a grain ``RandomAccessDataSource`` or
  ``MapDataset``, a torch ``Dataset`` (``SequenceSource``; ``__getitems__`` is used when the
  object has it, as grain and torch define it);
* a list of records, a dict of arrays or of Python lists, a bare array or torch tensor
  (stacked once into an ``ArraySource``).

Torch tensors arrive as numpy arrays: detached (``requires_grad`` is irrelevant to data), on the
host, bfloat16 as float32 (every bfloat16 value is exact in float32). A ``None`` (grain's
``filter()`` leaves them), a field that changes type between records, or a source of
unbounded length (grain's ``repeat()``) is refused, naming the record by its index.

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
from modalax._src.sources.base import Batch, Fingerprint, IndexedSource, fingerprint_of
from modalax._src.sources.hf import HFSource, hf_kind
from modalax._src.sources.stack import check_fields, plain_value, stack_records

__all__ = ["SequenceSource", "as_source"]

#: The most records a source may have: record indices are int32 on the device.
MAX_RECORDS = int(np.iinfo(np.int32).max)


def _length(obj: Any, owner: str) -> int:
    try:
        n = len(obj)
    except OverflowError as exc:  # len() beyond sys.maxsize
        raise ConfigError(f"{owner}: got {type(obj).__name__} of unbounded length; expected a finite dataset") from exc
    if n > MAX_RECORDS:
        raise ConfigError(
            f"{owner}: got {type(obj).__name__} of length {n}, more than the {MAX_RECORDS} records a source may "
            "hold (an endless repeat()?); expected a finite dataset: drop .repeat() and let "
            "DataLoader(num_epochs=...) repeat it"
        )
    return int(n)


class SequenceSource(IndexedSource):
    """Records of an object with ``__len__`` and ``__getitem__`` (optionally ``__getitems__``).

    ``transform`` maps one raw record (say the bytes an ArrayRecord file holds) to a record; a
    record that is an array or a scalar is served under ``key``; a tuple's values are named by
    ``fields`` (else their namedtuple names or positions). ``fill`` and ``dtype`` (keyed by
    dotted field name) are the stand-in for ``None`` values and a cast (see ``stack_records``).
    """

    traceable = False

    def __init__(
        self,
        obj: Any,
        *,
        transform: Callable[[Any], Any] | None = None,
        key: str = "data",
        fields: Sequence[str] | None = None,
        fill: Mapping[str, Any] | None = None,
        dtype: Mapping[str, Any] | None = None,
    ) -> None:
        if not (hasattr(obj, "__len__") and hasattr(obj, "__getitem__")):
            raise ConfigError(
                f"SequenceSource: got {type(obj).__name__}, expected an object with __len__ and __getitem__"
            )
        self._n = _length(obj, "SequenceSource")
        self.obj = obj
        self.transform = transform
        self.key = key
        self.fields = check_fields(fields, "SequenceSource")
        self.fill = fill
        self.dtype = dtype

    def __len__(self) -> int:
        return self._n

    def _one(self, i: int) -> Any:
        try:
            return self.obj[i]
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"{type(self.obj).__name__}[{i}] raised {type(exc).__name__}: {exc}") from exc

    def _items(self, idx: list[int]) -> list[Any]:
        getitems = getattr(self.obj, "__getitems__", None)
        if getitems is None:
            items = [self._one(i) for i in idx]
        else:
            try:
                items = list(getitems(idx))
            except DataError:
                raise
            except Exception:
                items = [self._one(i) for i in idx]  # one at a time, to name the record that fails
        if len(items) != len(idx):
            raise DataError(
                f"{type(self.obj).__name__}.__getitems__ returned {len(items)} records for {len(idx)} indices"
            )
        if self.transform is not None:
            items = [self.transform(item) for item in items]
        return items

    def get_records(self, indices: Any) -> Batch:
        idx = [int(i) for i in self.checked_indices(indices)]
        owner = f"SequenceSource({type(self.obj).__name__})"
        if not idx:
            raise DataError(f"{owner}: got no indices; expected at least one")
        return stack_records(
            self._items(idx),
            owner=owner,
            key=self.key,
            indices=idx,
            fields=self.fields,
            fill=self.fill,
            dtype=self.dtype,
        )

    def fingerprint(self) -> Fingerprint | None:
        """The wrapped object's ``fingerprint()`` with the count, when it has one; else None."""
        inner = fingerprint_of(self.obj)
        return None if inner is None else {"kind": "sequence", "count": self._n, "object": inner}


def as_source(
    obj: Any,
    *,
    key: str = "data",
    fields: Sequence[str] | None = None,
    fill: Mapping[str, Any] | None = None,
    dtype: Mapping[str, Any] | None = None,
    **options: Any,
) -> Any:
    """``obj`` as something the loader reads by index (see the module docstring for what is accepted).

    ``fields`` names the values of tuple records; ``fill`` and ``dtype`` (keyed by dotted field
    name) give the stand-in for ``None`` and a cast. Other ``options`` go to the adapter:
    ``transform=`` for ``SequenceSource``; ``columns=``, ``configs=``, ``decode_options=`` and
    ``num_threads=`` for ``HFSource``.
    """
    if hasattr(obj, "get_records") and hasattr(obj, "__len__"):
        return obj
    kind = hf_kind(obj)
    if kind is not None:
        if fields is not None:
            raise ConfigError(f"as_source.fields: got {fields!r} for a HF dataset, whose columns are named already")
        return HFSource(obj, fill=fill, dtype=dtype, **options)
    obj = plain_value(obj)  # a torch tensor as a numpy array
    if isinstance(obj, np.ndarray) or (isinstance(obj, Sequence) and not isinstance(obj, str | bytes)):
        if len(obj) == 0:
            raise DataError(f"DataLoader.source: got an empty {type(obj).__name__}; expected at least one record")
        if not options:
            return ArraySource(obj, key=key, fields=fields, fill=fill, dtype=dtype)
    if isinstance(obj, Mapping):
        if options:
            raise ConfigError(f"as_source: got options {sorted(options)} for a dict of columns; expected none")
        return ArraySource(obj, key=key, fill=fill, dtype=dtype)
    if hasattr(obj, "__len__") and hasattr(obj, "__getitem__"):
        return SequenceSource(obj, key=key, fields=fields, fill=fill, dtype=dtype, **options)
    raise ConfigError(
        f"DataLoader.source: got {type(obj).__name__}; expected a modalax source or dataset, a HF datasets.Dataset, "
        "an object with __len__ and __getitem__ (grain, torch-style), a list of records, a dict of arrays or an array"
    )
