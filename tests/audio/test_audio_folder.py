"""AudioFolderDataset: labels and splits, skip mode, pickling, and resampling at awkward rates."""

from __future__ import annotations

import pickle
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import modalax
from modalax import ConfigError, DataError
from modalax_audio import AudioFolderDataset, AudioModalityConfig, write_wav

librosa = pytest.importorskip("librosa")
soxr = pytest.importorskip("soxr")

CFG = AudioModalityConfig(sample_rate=8000, duration=0.1, normalize=False)


def tone(rate: int, seconds: float = 0.1, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return 0.5 * np.sin(2 * np.pi * freq * t)


def tree(root: Path, rels: list[str], rate: int = 8000) -> None:
    for i, rel in enumerate(rels):
        write_wav(root / rel, tone(rate, freq=200.0 + 50 * i), rate)


def test_the_top_level_folder_is_the_class(tmp_path: Path) -> None:
    tree(tmp_path, ["speakerA/session1/x.wav", "speakerB/session1/y.wav", "speakerB/z.wav"])
    ds = AudioFolderDataset(CFG, tmp_path)
    assert ds.class_names == ["speakerA", "speakerB"] and ds.labelled
    labels = ds.get_records(np.arange(3))["labels"]
    assert labels.dtype == np.int32
    assert {p.relative_to(tmp_path).as_posix(): int(v) for p, v in zip(ds.paths, labels, strict=True)} == {
        "speakerA/session1/x.wav": 0,
        "speakerB/session1/y.wav": 1,
        "speakerB/z.wav": 1,
    }


def test_class_names_fix_labels_across_splits(tmp_path: Path) -> None:
    tree(tmp_path, ["train/cat/a.wav", "train/dog/b.wav", "train/fox/c.wav", "val/cat/d.wav", "val/fox/e.wav"])
    train = AudioFolderDataset(CFG, tmp_path, "train")
    val = AudioFolderDataset(CFG, tmp_path, "val", class_names=train.class_names)
    assert train.class_names == val.class_names == ["cat", "dog", "fox"]
    fox = {int(v) for p, v in zip(val.paths, val.get_records(np.arange(2))["labels"], strict=True) if "fox" in str(p)}
    assert fox == {2}
    mapped = AudioFolderDataset(CFG, tmp_path, "val", class_names={"fox": 0, "cat": 1})
    assert sorted(int(v) for v in mapped.get_records(np.arange(2))["labels"]) == [0, 1]
    assert mapped.class_names == ["fox", "cat"]  # class_names[label] names the class
    assert val.split == "val" and val.dataset_key() is not None


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"split": "test"}, DataError, r"split.*'test'.*does not exist"),
        ({"split": "vall"}, DataError, r"'vall'"),
        ({"split": "val", "class_names": ["cat"]}, DataError, r"\['fox'\].*not in class_names"),
        ({"split": "train", "labels": "yes"}, ConfigError, r"labels"),
    ],
)
def test_bad_splits_and_class_names(tmp_path: Path, kwargs: dict, error: type, pattern: str) -> None:
    tree(tmp_path, ["train/cat/a.wav", "train/fox/b.wav", "val/cat/c.wav", "val/fox/d.wav"])
    with pytest.raises(error, match=pattern):
        AudioFolderDataset(CFG, tmp_path, **kwargs)


def test_files_list_with_labels(tmp_path: Path) -> None:
    tree(tmp_path, ["a.wav", "b.wav"])
    files = [tmp_path / "b.wav", tmp_path / "a.wav"]
    ds = AudioFolderDataset(CFG, files=files, labels=[4, 1])
    assert ds.paths == files and ds.get_records(np.arange(2))["labels"].tolist() == [4, 1]
    assert "labels" not in AudioFolderDataset(CFG, files=files).get_records(np.arange(2))
    with pytest.raises(ConfigError, match=r"labels: got shape \(1,\), expected \(2,\), one label per file"):
        AudioFolderDataset(CFG, files=files, labels=[0])
    with pytest.raises(ConfigError, match=r"labels: got -1 \(1 bad in all\)"):
        AudioFolderDataset(CFG, files=files, labels=[0, -1])


def test_datasets_pickle_after_being_read(tmp_path: Path) -> None:
    tree(tmp_path, ["cat/a.wav", "cat/b.wav", "dog/c.wav"])
    ds = AudioFolderDataset(CFG, tmp_path, num_threads=2)
    before = ds.get_records(np.arange(3))  # starts the thread pool
    clone = pickle.loads(pickle.dumps(ds))
    after = clone.get_records(np.arange(3))
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(np.asarray(before[key]), np.asarray(after[key]))
    assert clone.class_names == ds.class_names and len(clone) == 3


def test_skip_mode_masks_bad_files_and_counts_them(tmp_path: Path) -> None:
    tree(tmp_path, ["cat/a.wav", "cat/b.wav", "dog/c.wav"])
    (tmp_path / "dog" / "broken.wav").write_bytes(b"RIFF\x00\x00 definitely not audio")
    strict = AudioFolderDataset(CFG, tmp_path)
    with pytest.raises(DataError, match=r"broken\.wav"):
        strict.get_records(np.arange(len(strict)))
    ds = AudioFolderDataset(CFG, tmp_path, on_error="skip")
    with pytest.warns(RuntimeWarning, match=r"broken\.wav"):
        batches = list(modalax.DataLoader(ds, batch_size=4, shuffle=False))
    (batch,) = batches
    assert batch["audio"].shape == (4, 800)
    bad = [i for i, p in enumerate(ds.paths) if p.name == "broken.wav"]
    assert np.asarray(batch["mask"]).tolist() == [i not in bad for i in range(4)]
    assert np.asarray(batch["labels"])[bad].tolist() == [1]  # the label still comes from the folder
    assert ds.skipped == [str(tmp_path / "dog" / "broken.wav")] and "__valid__" not in ds.element_spec()
    with pytest.raises(ConfigError, match="on_error"):
        AudioFolderDataset(CFG, tmp_path, on_error="ignore")


@pytest.mark.parametrize("rate", [44101, 7919])
def test_coprime_rates_resample_quickly_with_bounded_memory(tmp_path: Path, rate: int) -> None:
    x = np.random.default_rng(rate).uniform(-0.5, 0.5, rate).astype(np.float32)  # 1 s
    path = write_wav(tmp_path / "odd.wav", x, rate, "float32")
    cfg = AudioModalityConfig(sample_rate=16000, duration=1.0, normalize=False)
    # Imports, the thread pool and compiles happen outside the traced call (in the whole suite they
    # took 20 s under tracemalloc); the warm-up file has another rate, so nothing rate-specific is cached.
    warm = write_wav(tmp_path / "warm.wav", x[:22050], 22050, "float32")
    AudioFolderDataset(cfg, files=[warm]).get_records(np.arange(1))
    ds = AudioFolderDataset(cfg, files=[path])
    tracemalloc.start()
    got = ds.get_records(np.arange(1))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 * 2**20  # the polyphase kernel would have built a filter of 10^8 to 10^9 taps
    ref = librosa.resample(x, orig_sr=rate, target_sr=16000)  # soxr_hq, librosa's default
    n = int(got["length"][0])
    assert n == min(16000, len(ref)) and int(got["source_sample_rate"][0]) == rate
    np.testing.assert_allclose(got["audio"][0, :n], ref[:n], atol=1e-5)


def test_long_files_are_resampled_as_a_whole_would_be(tmp_path: Path) -> None:
    rate = 44100
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 5 * rate).astype(np.float32)
    path = write_wav(tmp_path / "long.wav", x, rate, "float32")
    cfg = AudioModalityConfig(sample_rate=16000, duration=0.5, normalize=False)
    got = AudioFolderDataset(cfg, files=[path]).get_records(np.arange(1))["audio"][0]
    np.testing.assert_allclose(got, soxr.resample(x, rate, 16000, quality="HQ")[:8000], atol=1e-6)
