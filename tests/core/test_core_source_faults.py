"""Sources that misbehave, folders laid out badly, files that do not decode: each a clear error or a masked record."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modalax import ArraySource, ConfigError, DataError, DataLoader, RecordIndexError
from modalax.plugin import VALID_KEY, FileSource, scan_class_folders, split_folder

from .source_fixtures import NoiseDataset, NpyFolder, ids_source


class Drifting(ArraySource):
    """A host source whose batch number ``at`` differs from the others as ``change`` says."""

    def __init__(self, change: str, at: int = 1) -> None:
        super().__init__({"x": np.zeros((20, 3), np.float32)}, on_device=False)
        self.change, self.at, self.calls = change, at, 0

    def get_records(self, indices: Any) -> dict[str, Any]:
        out = super().get_records(indices)
        self.calls += 1
        if self.calls - 1 != self.at:
            return out
        if self.change == "shape":
            return {"x": np.zeros((len(out["x"]), 4), np.float32)}
        if self.change == "dtype":
            return {"x": out["x"].astype(np.float64)}
        if self.change == "extra":
            return {**out, "y": np.zeros(len(out["x"]))}
        if self.change == "missing":
            return {"z": out["x"]}
        return {"x": out["x"][:1]}  # "rows": fewer rows than indices


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("shape", r"field 'x' is \(4,\) float32 per record, expected \(3,\) float32 like the first batch"),
        ("dtype", r"field 'x' is \(3,\) float64 per record, expected \(3,\) float32"),
        ("extra", r"fields changed between batches \(extra \['y'\], missing \[\]\)"),
        ("missing", r"fields changed between batches \(extra \['z'\], missing \['x'\]\)"),
        ("rows", r"field 'x' has shape \(1, 3\), expected a leading axis of 4"),
    ],
)
def test_a_source_that_changes_between_batches_is_an_error(change: str, message: str) -> None:
    loader = DataLoader(Drifting(change), batch_size=4, prefetch=0)
    with pytest.raises(DataError, match=r"Drifting.get_records: " + message):
        list(loader)


class Npy(FileSource):
    """A FileSource over .npy files holding dicts of arrays (``allow_pickle`` for the test)."""

    def decode(self, path: Path) -> dict[str, np.ndarray]:
        return dict(np.load(path, allow_pickle=True).item())


def npy_files(tmp_path: Path, records: list[dict[str, Any]]) -> list[Path]:
    paths = []
    for i, record in enumerate(records):
        paths.append(tmp_path / f"{i}.npy")
        np.save(paths[-1], np.asarray(record, dtype=object), allow_pickle=True)
    return paths


@pytest.mark.parametrize(
    ("odd", "message"),
    [
        ({"x": np.zeros(3), "extra": np.zeros(1)}, r"1\.npy' decodes to fields \['extra', 'x'\] \(extra \['extra'\]"),
        ({"y": np.zeros(3)}, r"1\.npy' decodes to fields \['y'\] \(extra \['y'\], missing \['x'\]\)"),
        ({"x": np.zeros(3, np.int32)}, r"1\.npy' decodes to field 'x' of shape \(3,\) int32, expected \(3,\) float64"),
    ],
)
def test_file_source_names_the_file_whose_fields_differ(tmp_path: Path, odd: dict, message: str) -> None:
    src = Npy(npy_files(tmp_path, [{"x": np.zeros(3)}, odd]))
    with pytest.raises(DataError, match=message):
        src.get_records([0, 1])


def test_file_source_empty_and_out_of_range_indices(tmp_path: Path) -> None:
    src = Npy(npy_files(tmp_path, [{"x": np.ones(3)}, {"x": np.ones(3)}]))
    empty = src.get_records([])
    assert empty["x"].shape == (0, 3) and empty["x"].dtype == np.float64
    np.testing.assert_array_equal(src.get_records([-1])["x"], [[1, 1, 1]])
    with pytest.raises(RecordIndexError, match=r"index 2 is out of range; expected -2 <= index < 2"):
        src.get_records([0, 2])


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "4"])
def test_file_source_num_threads(tmp_path: Path, value: Any) -> None:
    with pytest.raises(ConfigError, match=rf"Npy.num_threads: got {value!r}, expected a positive int or None"):
        Npy([tmp_path / "a.npy"], num_threads=value)


def test_skip_mode_masks_undecodable_files_and_counts_them(tmp_path: Path) -> None:
    paths = npy_files(tmp_path, [{"x": np.full(2, float(i))} for i in range(6)])
    paths[3].write_bytes(b"not an npy file")
    with pytest.raises(DataError, match=r"cannot decode '.*3\.npy'"):
        list(DataLoader(Npy(paths), batch_size=3, shuffle=False, prefetch=0))
    src = Npy(paths, on_error="skip")
    loader = DataLoader(src, batch_size=3, shuffle=False, drop_last=True, prefetch=0)
    with pytest.warns(RuntimeWarning, match=r"skipping '.*3\.npy' \(on_error='skip'\)"):
        batches = list(loader)
    assert [np.asarray(b["mask"]).tolist() for b in batches] == [[True] * 3, [False, True, True]]
    np.testing.assert_array_equal(batches[1]["x"][0], [0, 0])  # zeros of the right structure
    np.testing.assert_array_equal(batches[1]["x"][1:, 0], [4, 5])
    assert VALID_KEY not in batches[0] and src.skipped == [str(paths[3])]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per file, not once per epoch
        list(loader)
    assert len(src.skipped) == 1


def test_with_indices_never_overwrites_a_field() -> None:
    src = ArraySource({"index": np.arange(4)}, on_device=False)
    with pytest.raises(ConfigError, match=r"DataLoader.index_key: the batch already has a field 'index'"):
        next(iter(DataLoader(src, 2, with_indices=True)))
    batch = next(iter(DataLoader(src, 2, with_indices=True, index_key="position", shuffle=False)))
    np.testing.assert_array_equal(batch["position"], batch["index"])


@pytest.mark.parametrize("on_device", [True, False])
def test_array_source_indices_agree_on_device_and_host(on_device: bool) -> None:
    src = ArraySource({"x": np.arange(5) * 10}, on_device=on_device)
    np.testing.assert_array_equal(src.get_records([-1, 0])["x"], [40, 0])
    for bad in ([5], [-6], [0, 7]):
        with pytest.raises(RecordIndexError, match=r"ArraySource.get_records: index -?\d+ is out of range"):
            src.get_records(bad)
    with pytest.raises(IndexError):  # the sequence protocol still sees an IndexError
        src[5]


def test_synthetic_dataset_rejects_out_of_range_indices() -> None:
    ds = NoiseDataset(None, 8)
    np.testing.assert_array_equal(ds.get_records([-1])["id"], [7])
    with pytest.raises(RecordIndexError, match=r"NoiseDataset.get_records: index 8 is out of range"):
        ds.get_records([0, 8])


def test_wide_integers_and_strings_on_the_device() -> None:
    with pytest.raises(DataError, match=r"field 'big' of record 1 holds 2147483648, which int32 .* cannot hold"):
        ArraySource({"big": np.array([0, 2**31], np.int64)})
    ok = ArraySource({"small": np.array([0, 2**31 - 1], np.int64), "name": np.array(["a", "b"])})
    batch = next(iter(DataLoader(ok, 2, shuffle=False)))
    np.testing.assert_array_equal(batch["small"], [0, 2**31 - 1])
    assert batch["name"].tolist() == ["a", "b"]  # strings stay on the host and reach the batch
    host = ArraySource({"big": np.array([0, 2**40], np.int64)}, on_device=False)
    with pytest.raises(DataError, match=r"field 'big' of record 1 holds 1099511627776"):  # the loader names the record
        list(DataLoader(host, 2, prefetch=0))


@pytest.mark.parametrize("seed", [-1, 2**64, 1.0, "abc", True])
def test_loader_seed_range(seed: Any) -> None:
    with pytest.raises(ConfigError, match=r"DataLoader.seed: got .*, expected an integer seed in \[0, 2\*\*64\)"):
        DataLoader(ids_source(4), 2, seed=seed)


def test_loader_accepts_the_largest_seed() -> None:
    assert len(list(DataLoader(ids_source(4), 2, seed=2**64 - 1))) == 2


def touch(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    return root


def test_top_level_folder_is_the_class_at_any_depth(tmp_path: Path) -> None:
    touch(tmp_path, "speakerA/session1/x.wav", "speakerB/session1/y.wav", "speakerB/z.WAV", "speakerB/notes.txt")
    scan = scan_class_folders(tmp_path, ["WAV"], owner="T")
    assert [p.relative_to(tmp_path).as_posix() for p in scan.paths] == [
        "speakerA/session1/x.wav",
        "speakerB/z.WAV",  # torchvision's order: a folder's own files before its sub-folders'
        "speakerB/session1/y.wav",
    ]
    assert scan.labels == [0, 1, 1] and scan.class_names == ["speakerA", "speakerB"]


def test_class_names_fix_labels_across_splits(tmp_path: Path) -> None:
    touch(tmp_path, "train/cat/1.png", "train/dog/2.png", "train/fox/3.png", "val/cat/4.png", "val/fox/5.png")
    train = scan_class_folders(split_folder(tmp_path, "train", owner="T"), [".png"], owner="T")
    val = scan_class_folders(
        split_folder(tmp_path, "val", owner="T"), [".png"], owner="T", class_names=train.class_names
    )
    assert val.labels == [0, 2] and val.class_names == ["cat", "dog", "fox"]
    mapped = scan_class_folders(tmp_path / "val", ["png"], owner="T", class_names={"fox": 0, "cat": 1})
    assert mapped.labels == [1, 0] and mapped.class_names == ["fox", "cat"]


@pytest.mark.parametrize(
    ("files", "kwargs", "split", "message"),
    [
        (["train/a/1.png"], {}, "val", r"T.split: got 'val', but .* does not exist; expected one of the split folders"),
        (["train/a/1.png"], {}, "trian", r"got 'trian'.*\['train'\]"),
        (["a/1.png"], {}, "test", r"got 'test'.*\(none\).*split=None"),
        (["a/1.png", "loose.png"], {}, None, r"1 file\(s\) directly in .* beside class folders \['a'\]"),
        (["a/1.png"], {"class_names": ["b"]}, None, r"class folder\(s\) \['a'\] .* are not in class_names \['b'\]"),
        (["a/1.png"], {"class_names": ["a", "a"]}, None, r"T.class_names: got duplicates"),
        (["a/1.txt"], {}, None, r"T: no .png files in"),
        (["1.txt"], {"labelled": True}, None, r"no class sub-folders with .png files"),
        (["a/1.png"], {"extensions": []}, None, r"T.extensions: got an empty list"),
    ],
)
def test_bad_folder_layouts(tmp_path: Path, files: list[str], kwargs: dict, split: str | None, message: str) -> None:
    touch(tmp_path, *files)
    exts = kwargs.pop("extensions", [".png"])
    with pytest.raises((DataError, ConfigError), match=message):
        scan_class_folders(split_folder(tmp_path, split, owner="T"), exts, owner="T", **kwargs)


def test_a_dangling_link_is_an_error_not_a_skip(tmp_path: Path) -> None:
    touch(tmp_path, "a/1.png")
    os.symlink(tmp_path / "gone.png", tmp_path / "a" / "2.png")
    with pytest.raises(DataError, match=r"2\.png' is a broken link"):
        scan_class_folders(tmp_path, [".png"], owner="T")


def test_train_split_of_a_plain_folder_is_the_folder(tmp_path: Path) -> None:
    touch(tmp_path, "a/1.png")
    assert split_folder(tmp_path, "train", owner="T") == tmp_path
    with pytest.raises(DataError, match=r"T.root: got '.*nope', expected an existing folder"):
        split_folder(tmp_path / "nope", "train", owner="T")


def test_npy_folder_fixture_still_reads(tmp_path: Path) -> None:
    np.save(tmp_path / "0.npy", np.arange(3.0))
    assert NpyFolder([tmp_path / "0.npy"])[0]["x"].tolist() == [0, 1, 2]
