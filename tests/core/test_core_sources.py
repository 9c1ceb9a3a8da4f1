"""ArraySource, FileSource and the viz helpers: values and error messages."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest

from modalax import ArraySource, DataError, DataLoader
from modalax.plugin import image_grid, save_png, save_wav, to_uint8

from .source_fixtures import NpyFolder


def test_array_source_on_device_and_host_agree() -> None:
    data = {"x": np.arange(12, dtype=np.float32).reshape(6, 2), "y": np.arange(6)}
    dev, host = ArraySource(data), ArraySource(data, on_device=False)
    assert dev.traceable and not host.traceable
    idx = np.array([5, 0, 3])
    for src in (dev, host):
        out = src.get_records(idx)
        np.testing.assert_array_equal(out["x"], data["x"][idx])
        np.testing.assert_array_equal(src[-1]["y"], 5)
        np.testing.assert_array_equal(src.get_batch_at(4, 3)["y"], [4, 5, 0])
    shuffled = dev.get_batch_at(0, 6, key=jax.random.key(0))["y"]
    assert sorted(np.asarray(shuffled).tolist()) == list(range(6))
    spec = dev.element_spec()
    assert spec["x"] == jax.ShapeDtypeStruct((2,), np.float32) and spec["y"].shape == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, r"ArraySource.data: got an empty dict; expected a dict of arrays"),
        ([{"a": np.zeros(2)}, {"a": np.zeros(3)}], r"field 'a' of record 1 has shape \(3,\), expected \(2,\)"),
        ([{"a": 1}, {"b": 2}], r"record 1 has fields \['b'\] \(extra \['b'\], missing \['a'\]\)"),
        ("text", r"ArraySource.data: got str; expected a dict of arrays, a bare array or a list of records"),
        ({"a": [1, "x"]}, r"field 'a' of record 1 is str 'x', but int 1 in record 0; expected one type"),
        ({"a": [1, None]}, r"field 'a' of record 1 is None; expected a value .*fill=\{'a': value\}"),
        ({"a": [[1, 2], [3]]}, r"field 'a' of record 1 has shape \(1,\), expected \(2,\) like record 0"),
        ({"a": [object(), object()]}, r"field 'a' of record 0 is a object <object object"),
        ({"a": np.array([0.0, -1e39])}, r"field 'a' of record 1 holds -1e\+39, which float32 .* cannot hold"),
        ({"a": np.zeros(3), "b": np.zeros(4)}, r"leading axes differ: \{'a': 3, 'b': 4\}"),
        ({"a": np.float32(1.0)}, r"ArraySource.data\['a'\]: got float32, expected an array with a leading axis"),
    ],
)
def test_array_source_errors(data: Any, message: str) -> None:
    with pytest.raises(DataError, match=message):
        ArraySource(data)


def test_array_source_from_records_nested_dicts_and_bare_arrays() -> None:
    records = [{"x": np.full(2, i, np.float32), "meta": {"id": i, "name": f"r{i}"}} for i in range(5)]
    for on_device in (True, False):
        src = ArraySource(records, on_device=on_device)
        batch = src.fetch(np.array([3, 1]))
        np.testing.assert_array_equal(batch["x"], [[3, 3], [1, 1]])
        np.testing.assert_array_equal(batch["meta"]["id"], [3, 1])
        assert list(batch["meta"]["name"]) == ["r3", "r1"]
    bare = ArraySource(np.arange(12).reshape(6, 2), key="pairs")
    np.testing.assert_array_equal(bare[4]["pairs"], [8, 9])
    loader_ids = [np.asarray(b["meta"]["id"]) for b in DataLoader(ArraySource(records), 2, seed=1)]
    assert sorted(np.concatenate(loader_ids).tolist()[:5]) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("on_device", [True, False])
def test_one_record_has_no_batch_axis_at_any_depth(on_device: bool) -> None:
    records = [{"features": {"x": i, "deep": {"v": np.full(2, i)}, "name": f"r{i}"}, "y": float(i)} for i in range(7)]
    src = ArraySource(records, on_device=on_device)
    record = src[5]
    assert np.shape(record["features"]["x"]) == () and int(record["features"]["x"]) == 5
    assert np.asarray(record["features"]["deep"]["v"]).tolist() == [5, 5] and record["features"]["name"] == "r5"
    assert np.shape(record["y"]) == () and float(record["y"]) == 5.0
    columns = ArraySource(
        {"x": [10, 11, 12], "label": ("a", "b", "c"), "m": {"w": (0.5, 1.5, 2.5)}}, on_device=on_device
    )
    assert int(columns[1]["x"]) == 11 and columns[1]["label"] == "b" and float(columns[-1]["m"]["w"]) == 2.5
    assert columns.get_records([2, 0])["x"].tolist() == [12, 10]


def test_file_source_reads_lazily_and_names_mismatched_files(tmp_path: Path) -> None:
    for i, shape in enumerate([(3,), (3,), (4,)]):
        np.save(tmp_path / f"{i}.npy", np.full(shape, i, np.float32))
    src = NpyFolder(sorted(tmp_path.glob("*.npy")))
    np.testing.assert_array_equal(src.get_records([1, 0])["x"], [[1, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(src[1]["id"], 1)
    with pytest.raises(DataError, match=r"2\.npy' decodes to field 'x' of shape \(4,\) float32, expected \(3,\) "):
        src.get_records([0, 2])


def test_viz_writes_real_png_and_wav(tmp_path: Path) -> None:
    from PIL import Image

    imgs = np.linspace(0, 1, 4 * 5 * 6 * 3).reshape(4, 5, 6, 3)
    grid = image_grid(imgs, ncols=2, pad=1)
    assert grid.shape == (2 * 6 + 1, 2 * 7 + 1, 3) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[1:6, 1:7], to_uint8(imgs, (0, 1))[0])
    path = save_png(grid, tmp_path / "g.png")
    np.testing.assert_array_equal(np.asarray(Image.open(path)), grid)
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(800) / 8000)
    wav = save_wav(tone, tmp_path / "t.wav", 8000)
    with wave.open(str(wav)) as f:
        assert (f.getframerate(), f.getsampwidth(), f.getnframes()) == (8000, 2, 800)
        back = np.frombuffer(f.readframes(800), np.int16) / 32767
    np.testing.assert_allclose(back, tone, atol=1 / 32767)
    with pytest.raises(DataError, match="NaN"):
        save_wav(np.array([np.nan]), tmp_path / "n.wav", 8000)
