"""What foreign objects become: sequences as sources, HF cells decoded, data split into records to pack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modalax import ConfigError, DataError
from modalax._src.packed.adapt import FILE_FIELD, plan_for
from modalax._src.sources.array import ArraySource
from modalax._src.sources.file import VALID_KEY, FileSource
from modalax._src.sources.foreign import SequenceSource, as_source


class Items:
    """A torch-style dataset: records by ``__getitem__``, optionally a ``__getitems__``."""

    def __init__(self, n: int = 5, fail: type[Exception] | None = None, short: bool = False) -> None:
        self.n, self.fail, self.short = n, fail, short

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Any:
        if self.fail is not None and i == 3:
            raise self.fail("record 3 is corrupt")
        return {"x": np.full(2, i, np.float32), "y": i}


class Batched(Items):
    def __getitems__(self, idx: list[int]) -> list[Any]:
        items = [self[i] for i in idx]
        return items[:-1] if self.short else items


# ---------------------------------------------------------- SequenceSource
def test_sequence_source_stacks_items_and_applies_the_transform() -> None:
    got = SequenceSource(Items()).get_records(np.array([4, 1]))
    assert got["x"].tolist() == [[4, 4], [1, 1]] and got["y"].tolist() == [4, 1]
    raw = SequenceSource([b"ab", b"abcd"], transform=lambda b: np.frombuffer(b, np.uint8).sum(), key="total")
    assert raw.get_records([1, 0])["total"].tolist() == [394, 195]
    assert SequenceSource(Batched()).get_records([2, 0])["y"].tolist() == [2, 0]  # through __getitems__


@pytest.mark.parametrize(
    ("obj", "indices", "error", "message"),
    [
        (Items(fail=KeyError), [3], DataError, "Items[3] raised KeyError: 'record 3 is corrupt'"),
        (Batched(fail=OSError), [1, 3], DataError, "Batched[3] raised OSError: record 3 is corrupt"),
        (Items(fail=DataError), [3], DataError, "record 3 is corrupt"),
        (Batched(short=True), [0, 1], DataError, "Batched.__getitems__ returned 1 records for 2 indices"),
        (Items(), [], DataError, "SequenceSource(Items): got no indices; expected at least one"),
    ],
)
def test_sequence_source_errors_name_the_object_and_record(
    obj: Any, indices: list[int], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        SequenceSource(obj).get_records(np.array(indices, np.int64))
    assert str(info.value) == message


def test_sequence_source_needs_len_and_getitem() -> None:
    with pytest.raises(ConfigError, match="SequenceSource: got int, expected an object with __len__ and __getitem__"):
        SequenceSource(5)


def test_as_source_picks_the_adapter() -> None:
    src = ArraySource({"x": np.arange(3)})
    assert as_source(src) is src
    assert isinstance(as_source({"x": np.arange(3)}), ArraySource)
    arr = as_source(np.arange(6).reshape(3, 2), key="v")
    assert isinstance(arr, ArraySource) and np.asarray(arr.get_records([2])["v"]).tolist() == [[4, 5]]
    seq = as_source([b"a", b"bb"], transform=len)  # options: read item by item
    assert isinstance(seq, SequenceSource) and seq.get_records([1])["data"].tolist() == [2]
    assert isinstance(as_source(Items()), SequenceSource)
    for empty in ([], np.zeros((0, 2))):
        with pytest.raises(DataError, match=r"DataLoader.source: got an empty (list|ndarray); expected at least one"):
            as_source(empty)
    with pytest.raises(ConfigError, match=r"DataLoader\.source: got int; expected a modalax source or dataset"):
        as_source(7)


# ---------------------------------------------------------- pack plans
NONE_META = "pack: batch-level field 'meta' is NoneType; expected a number or str"


class Recs:
    def __init__(self, batch: Any, n: int = 3) -> None:
        self.batch, self.n = batch, n

    def __len__(self) -> int:
        return self.n

    def get_records(self, idx: Any) -> Any:
        return self.batch(np.asarray(idx)) if callable(self.batch) else self.batch


def test_records_plan_splits_batches_and_keeps_constants() -> None:
    def batch(idx: np.ndarray) -> dict[str, Any]:
        return {"x": idx * 2, "names": [f"n{i}" for i in idx], "rate": np.int64(16000), VALID_KEY: idx >= 0}

    plan = plan_for(Recs(batch))
    rows = plan.read(1, 3)
    assert plan.size == 3 and plan.constants == {"rate": 16000} and type(plan.constants["rate"]) is int
    assert [(int(r["x"]), r["names"]) for r in rows] == [(2, "n1"), (4, "n2")]
    assert all(set(r) == {"x", "names"} for r in rows)  # the validity flag is checked, not stored


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (lambda i: {"x": i, VALID_KEY: i != 1}, "pack: record 1 failed to decode in the source (skipped there)"),
        (
            lambda i: {"x": i, "meta": np.array(None, object)},
            "pack: batch-level field 'meta' is NoneType; expected a number or str",
        ),
        (lambda i: {"x": i, "rate": int(i[0])}, "pack: batch-level field 'rate' changes (0 then 2)"),
        (lambda i: {"x": i[:1]}, "pack: field 'x' holds 1 records at 0, expected 2"),
        (lambda i: [i], "pack: Recs returned list, expected a dict"),
    ],
)
def test_records_plan_errors(batch: Any, message: str) -> None:
    plan = plan_for(Recs(batch, n=4))
    with pytest.raises(DataError) as info:
        plan.read(0, 2)
        plan.read(2, 4)
    assert str(info.value) == message


def test_items_plan_and_what_cannot_be_packed() -> None:
    plan = plan_for([{"x": [1, 2], "s": "a", "b": b"\x00"}, {"x": [3, 4], "s": "b", "b": b"\x01"}])
    rows = plan.read(0, 2)
    assert rows[1]["x"].tolist() == [3, 4] and rows[1]["s"] == "b" and rows[0]["b"] == b"\x00"
    with pytest.raises(DataError, match="pack: item 1 of list is int, expected a dict"):
        plan_for([{"x": 1}, 5]).read(0, 2)
    for bad in (5, "text", b"bytes"):
        with pytest.raises(ConfigError, match=rf"pack: got {type(bad).__name__}; expected a modalax dataset"):
            plan_for(bad)


def test_files_plan_keeps_file_bytes_and_names_unreadable_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"\x01\x02")
    b.write_bytes(b"\x03")

    class Bytes(FileSource):
        def decode(self, path: Path) -> dict[str, np.ndarray]:
            return {"n": np.array(path.stat().st_size)}

        def extra_fields(self, index: int) -> dict[str, Any]:
            return {"label": index * 10}

    class Holder:  # a dataset that holds its files, as the folder datasets do
        def __init__(self, files: FileSource) -> None:
            self.files = files

    for data in (Bytes([a, b]), Holder(Bytes([a, b]))):
        plan = plan_for(data)
        assert plan.size == 2 and plan.decode == {"field": FILE_FIELD}
        rows = plan.read(0, 2)
        assert [r[FILE_FIELD] for r in rows] == [b"\x01\x02", b"\x03"]  # the bytes on disk, not decoded
        assert [int(r["label"]) for r in rows] == [0, 10] and set(rows[0]) == {FILE_FIELD, "label"}
    plan = plan_for(Bytes([a, b]))
    b.unlink()
    with pytest.raises(DataError, match=r"pack: cannot read '.*b.bin': No such file or directory"):
        plan.read(0, 2)
