"""Other libraries' sources through the loader: grain, HF datasets, torch-style objects, lists and arrays.

The real ``grain`` and ``datasets`` packages are used (test-only dependencies); each source must
give exactly-once epochs, exact resume and disjoint shards like modalax's own sources.
"""

from __future__ import annotations

import io
import json
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


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    soundfile = pytest.importorskip("soundfile")
    buf = io.BytesIO()
    soundfile.write(buf, samples, rate, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def hf_dataset(n: int, *, sizes: list[int] | None = None) -> Any:
    datasets = pytest.importorskip("datasets")
    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 256, (s, s, 3), dtype=np.uint8) for s in sizes or [6] * n]
    sounds = [rng.uniform(-1, 1, 40).astype(np.float32) for _ in range(n)]
    ds = datasets.Dataset.from_dict(
        {
            "id": list(range(n)),
            "caption": [f"picture {i}" for i in range(n)],
            "img": [{"bytes": png_bytes(p), "path": None} for p in pictures],
            "sound": [{"bytes": wav_bytes(s, 8000), "path": None} for s in sounds],
        }
    )
    # Built as plain structs, cast like `load_dataset("imagefolder"/"audiofolder")` features
    # (encoding audio through `datasets` itself would need torchcodec).
    return ds.cast_column("img", datasets.Image()).cast_column("sound", datasets.Audio()), pictures, sounds


def test_hf_dataset_with_image_and_audio_features() -> None:
    ds, pictures, sounds = hf_dataset(10)
    check_contract(lambda: ds, 10)
    batch = next(iter(DataLoader(ds, 3, shuffle=False)))
    np.testing.assert_array_equal(batch["images"], np.stack(pictures[:3]).astype(np.float32) / 255)
    np.testing.assert_allclose(batch["audio"], np.stack(sounds[:3]), atol=1e-7)
    assert batch["audio_length"].tolist() == [40] * 3 and batch["audio_sample_rate"].tolist() == [8000] * 3
    assert list(batch["caption"]) == ["picture 0", "picture 1", "picture 2"]
    spec = as_source(ds).element_spec()
    assert spec["images"].shape == (6, 6, 3) and spec["audio"].shape == (40,)


def test_hf_images_of_different_sizes() -> None:
    ds, _, _ = hf_dataset(3, sizes=[6, 6, 8])
    with pytest.raises(DataError, match=r"HF column 'img': row 2 decodes to shape \(8, 8, 3\).*image_size=\(H, W\)"):
        as_source(ds).get_records([0, 2])
    fixed = HFSource(ds, image_size=(4, 5), audio_length=30)
    batch = fixed.get_records([0, 2])
    assert batch["images"].shape == (2, 4, 5, 3) and batch["audio"].shape == (2, 30)
    with pytest.raises(ConfigError, match=r"HFSource.columns: got \['nope'\]"):
        HFSource(ds, columns=["nope"])


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
        (Broken(8), [0, 3], DataError, r"Broken\[\[0, 3\]\] raised OSError: disk on fire"),
        (Broken(8), [0, 5], DataError, r"field 'x' of record 1 has shape \(3,\), expected \(2, 2\)"),
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
