"""Other libraries' sources through the loader: grain, HF datasets, torch-style objects, lists and arrays.

The real ``grain`` and ``datasets`` packages are used (test-only dependencies); each source must
give exactly-once epochs, exact resume and disjoint shards like modalax's own sources.
"""

from __future__ import annotations

import io
import json
from collections import namedtuple
from typing import Any

import numpy as np
import pytest

from modalax import ConfigError, DataError, DataLoader
from modalax._src.sources import HFSource, SequenceSource, as_source


def epoch_ids(make: Any, key: str = "id", **kwargs: Any) -> list[int]:
    ids: list[int] = []
    for batch in DataLoader(make(), 4, seed=3, **kwargs):
        values = np.asarray(batch[key])
        ids += values[np.asarray(batch["mask"])].tolist() if "mask" in batch else values.tolist()
    return ids


def check_contract(make: Any, n: int, key: str = "id") -> None:
    """Exactly once per epoch, disjoint shards, and resume after 2 batches equal to an uninterrupted run."""
    assert sorted(epoch_ids(make, key)) == list(range(n))
    shards = [epoch_ids(make, key, num_shards=2, shard_index=i) for i in (0, 1)]
    assert sorted(shards[0] + shards[1]) == list(range(n)) and not set(shards[0]) & set(shards[1])
    full = [np.asarray(b[key]) for b in DataLoader(make(), 4, seed=3, num_epochs=2)]
    first = DataLoader(make(), 4, seed=3, num_epochs=2)
    it = iter(first)
    head = [np.asarray(next(it)[key]) for _ in range(2)]
    resumed = DataLoader(make(), 4, seed=3, num_epochs=2)
    resumed.load_state_dict(json.dumps(first.state_dict()))
    rest = [np.asarray(b[key]) for b in resumed]
    assert len(head + rest) == len(full)
    for a, b in zip(head + rest, full, strict=True):
        np.testing.assert_array_equal(a, b)


class TorchStyle:
    """What a torch ``Dataset`` offers: ``__len__`` and ``__getitem__`` returning a dict of arrays."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return {"id": np.int32(i), "x": np.full((2, 2), i, np.float32)}


def test_grain_map_dataset_and_data_source() -> None:
    grain = pytest.importorskip("grain")
    check_contract(lambda: grain.MapDataset.source(list(range(11))).map(lambda i: {"id": np.int32(i)}), 11)
    source = grain.sources.RangeDataSource(0, 9, 1)
    assert isinstance(as_source(source), SequenceSource)
    check_contract(lambda: source, 9, key="data")  # a bare scalar record is served under "data"


def test_torch_style_list_of_records_and_array() -> None:
    check_contract(lambda: TorchStyle(10), 10)
    batch = as_source(TorchStyle(10)).get_records([7, 2])
    np.testing.assert_array_equal(batch["x"][:, 0, 0], [7, 2])
    check_contract(lambda: [{"id": i, "name": f"n{i}"} for i in range(7)], 7)
    names = next(iter(DataLoader([{"id": i, "name": f"n{i}"} for i in range(7)], 7, shuffle=False)))["name"]
    assert list(names) == [f"n{i}" for i in range(7)]
    check_contract(lambda: np.arange(10), 10, key="data")


def png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_hf_dataset_plain_columns_through_the_loader() -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict(
        {"id": list(range(10)), "caption": [f"picture {i}" for i in range(10)], "pair": [[i, -i] for i in range(10)]}
    )
    check_contract(lambda: ds, 10)
    batch = next(iter(DataLoader(ds, 3, shuffle=False)))
    assert list(batch["caption"]) == ["picture 0", "picture 1", "picture 2"]
    np.testing.assert_array_equal(batch["pair"], [[0, 0], [1, -1], [2, -2]])
    assert as_source(ds).element_spec()["pair"].shape == (2,)


def test_hf_image_column_needs_its_modality() -> None:
    datasets = pytest.importorskip("datasets")
    from modalax._src.record_store import Registry
    from modalax._src.registry import set_current

    ds = datasets.Dataset.from_dict(
        {"img": [{"bytes": png_bytes(np.zeros((4, 4, 3), np.uint8)), "path": None}], "id": [7]}
    )
    ds = ds.cast_column("img", datasets.Image())
    previous = set_current(Registry(discover=False))  # no plugin installed
    try:
        with pytest.raises(
            ConfigError, match=r"needs the 'image' modality .*python -m pip install \"\./plugins/image\""
        ):
            HFSource(ds)
        assert HFSource(ds, columns=["id"]).get_records([0])["id"].tolist() == [7]  # the way without it
    finally:
        set_current(previous)
    with pytest.raises(ConfigError, match=r"HFSource.columns: got \[\], expected at least one"):
        HFSource(ds, columns=[])


class Broken(TorchStyle):
    def __getitem__(self, i: int) -> dict[str, Any]:
        if i == 3:
            raise OSError("disk on fire")
        if i == 5:
            return {"id": np.int32(i), "x": np.zeros(3)}
        return super().__getitem__(i)


@pytest.mark.parametrize(
    ("source", "indices", "error", "message"),
    [
        (Broken(8), [0, 3], DataError, r"Broken\[3\] raised OSError: disk on fire"),
        (Broken(8), [0, 5], DataError, r"field 'x' of record 5 has shape \(3,\), expected \(2, 2\) like record 0"),
        (Broken(8), [7, 5, 1], DataError, r"field 'x' of record 5 has shape \(3,\), expected \(2, 2\) like record 7"),
        (TorchStyle(4), [4], DataError, r"index 4 is out of range"),
    ],
)
def test_foreign_source_faults(source: Any, indices: list[int], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        as_source(source).get_records(indices)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (object(), r"DataLoader.source: got object; expected a modalax source or dataset"),
        ([], r"DataLoader.source: got an empty list"),
        ([1, {"a": 2}], r"record 1 has fields \['a'\] \(extra \['a'\], missing \['data'\]\)"),
        (np.float32(3.0), r"got float32; expected a modalax source"),
    ],
)
def test_unusable_sources(obj: Any, message: str) -> None:
    with pytest.raises((ConfigError, DataError), match=message):
        DataLoader(obj, 2)


class Pairs:
    """A torchvision-style dataset: ``(image, label)`` tuples, read in bulk through ``__getitems__``."""

    def __init__(self, n: int, bad: int | None = None) -> None:
        self.n, self.bad = n, bad

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        if i == self.bad:
            raise ValueError(f"cannot open image {i}")
        return np.full((2, 3), i, np.float32), i % 3

    def __getitems__(self, idx: list[int]) -> list[tuple[np.ndarray, int]]:
        return [self[i] for i in idx]


Point = namedtuple("Point", ["x", "y"])


def test_tuple_records_are_fields_by_position_by_name_or_by_namedtuple() -> None:
    batch = as_source(Pairs(6)).get_records([4, 1])
    assert sorted(batch) == ["0", "1"] and batch["1"].tolist() == [1, 1]
    named = next(iter(DataLoader(as_source(Pairs(6), fields=("images", "labels")), 3, shuffle=False)))
    np.testing.assert_array_equal(named["images"][:, 0, 0], [0, 1, 2])
    assert named["labels"].tolist() == [0, 1, 2]
    assert as_source([Point(1.0, 2.0), Point(3.0, 4.0)])[1] == {"x": 3.0, "y": 4.0}
    check_contract(lambda: as_source([(np.float32(i), i) for i in range(7)], fields=("x", "id")), 7)


def test_columns_as_python_lists() -> None:
    src = as_source({"x": [10, 11, 12, 13], "label": ("a", "b", "c", "d"), "meta": {"w": [0.5, 1.5, 2.5, 3.5]}})
    record = src[2]
    assert int(record["x"]) == 12 and record["label"] == "c" and float(record["meta"]["w"]) == 2.5
    batch = next(iter(DataLoader(src, 4, shuffle=False)))
    assert batch["x"].tolist() == [10, 11, 12, 13] and list(batch["label"]) == ["a", "b", "c", "d"]


class Mixed(TorchStyle):
    """Record 6 holds a str where the others hold ints, record 4 a None."""

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"id": "six" if i == 6 else None if i == 4 else i}


def grain_filtered() -> Any:
    grain = pytest.importorskip("grain")
    return grain.MapDataset.source(list(range(8))).map(lambda i: {"id": np.int32(i)}).filter(lambda r: r["id"] % 3)


def grain_forever() -> Any:
    grain = pytest.importorskip("grain")
    return grain.MapDataset.source(list(range(3))).repeat()


@pytest.mark.parametrize(
    ("make", "options", "indices", "error", "message"),
    [
        (lambda: Pairs(8, bad=5), {}, [2, 5, 1], DataError, r"Pairs\[5\] raised ValueError: cannot open image 5"),
        (lambda: Pairs(8), {"fields": ("a", "b", "c")}, [0], DataError, r"record 0 is a tuple of 2 values, expected 3"),
        (lambda: Pairs(8), {"fields": "images"}, [0], ConfigError, r"fields: got 'images', expected a tuple"),
        (lambda: Pairs(8), {"fields": ("a", "a")}, [0], ConfigError, r"fields: got \('a', 'a'\), expected distinct"),
        (lambda: Mixed(8), {}, [7, 6], DataError, r"field 'id' of record 6 is str 'six', but int 7 in record 7"),
        (lambda: Mixed(8), {}, [5, 4], DataError, r"field 'id' of record 4 is None.*fill=\{'id': value\}"),
        (lambda: Mixed(8), {"fill": {"id": -1}}, [7, 6], DataError, r"record 6 is str 'six'"),
        (grain_filtered, {}, [1, 3], DataError, r"record 3 is None; expected a record \(grain's MapDataset.filter\(\)"),
        (grain_forever, {}, [0], ConfigError, r"length 9223372036854775807, more than .* drop \.repeat\(\)"),
        (lambda: [{"x": 1.0}, {"x": 1e300}], {}, [0], DataError, r"field 'x' of record 1 holds 1e\+300"),
        (lambda: {"x": [1, None]}, {}, [0], DataError, r"field 'x' of record 1 is None"),
        (lambda: {"x": [[1, 2], [3]]}, {}, [0], DataError, r"field 'x' of record 1 has shape \(1,\), expected \(2,\)"),
        (lambda: {"x": []}, {}, [0], DataError, r"\['x'\]: got an empty list"),
        (lambda: [[1, 2], [3, 4]], {"fields": ("a", "b")}, [0], DataError, r"record 0 is a list; expected a dict"),
    ],
)
def test_foreign_values_arrive_as_they_were_or_are_refused(
    make: Any, options: dict[str, Any], indices: list[int], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        as_source(make(), **options).get_records(indices)


def test_explicit_fill_and_dtype_for_foreign_records() -> None:
    filled = as_source(Mixed(8), fill={"id": -1}).get_records([3, 4])
    assert filled["id"].tolist() == [3, -1]
    text = as_source(Mixed(8), dtype={"id": str}, fill={"id": "none"}).get_records([6, 4, 2])
    assert list(text["id"]) == ["six", "none", "2"]
