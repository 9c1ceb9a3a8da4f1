"""ImageFolderDataset on real layouts: every format by default, extensions, labels across splits,
from_files, skip mode and pickling."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from flax import nnx
from PIL import Image

import modalax
from modalax_image import ImageFolderDataset, ImageModalityConfig

CFG = ImageModalityConfig(height=6, width=5)
RNG = np.random.default_rng(9)


def save(path: Path, **kwargs: object) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, **kwargs)
    return pixels


def reference(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), np.float32) / 255.0


FORMATS = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff", "PNG"]


def test_every_pillow_format_is_read_by_default(tmp_path):
    for i, ext in enumerate(FORMATS):
        save(tmp_path / f"img{i}.{ext}")
    (tmp_path / "notes.txt").write_text("not an image")
    ds = ImageFolderDataset(CFG, root=tmp_path, rngs=0)
    assert sorted(p.suffix for p in ds.paths) == sorted(f".{e}" for e in FORMATS)
    batch = ds.get_records(np.arange(len(ds)))
    for path, image in zip(ds.paths, batch["images"], strict=True):
        np.testing.assert_allclose(image, reference(path), atol=1 / 255 + 1e-6, err_msg=str(path))


@pytest.mark.parametrize("extensions", [("png",), (".png",), ("PNG",), [".Png"], "png"])
def test_extensions_are_normalised(tmp_path, extensions):
    save(tmp_path / "a.png")
    save(tmp_path / "b.PNG")
    save(tmp_path / "c.jpg")
    ds = ImageFolderDataset(CFG, root=tmp_path, extensions=extensions, rngs=0)
    assert [p.name for p in ds.paths] == ["a.png", "b.PNG"]


def test_class_names_give_every_split_the_same_labels(tmp_path):
    for split, names in (("train", ("cat", "dog", "fox")), ("val", ("cat", "fox"))):
        for name in names:
            save(tmp_path / split / name / "0.png")
            save(tmp_path / split / name / "deep" / "1.png")  # files below the class folder count too
    train = ImageFolderDataset(CFG, root=tmp_path, split="train", rngs=0)
    assert train.class_names == ["cat", "dog", "fox"]
    val = ImageFolderDataset(CFG, root=tmp_path, split="val", class_names=train.class_names, rngs=0)
    labels = val.get_records(np.arange(len(val)))["labels"]
    assert [p.parent.name if p.parent.name != "deep" else p.parent.parent.name for p in val.paths] == [
        "cat",
        "cat",
        "fox",
        "fox",
    ]
    np.testing.assert_array_equal(labels, [0, 0, 2, 2])
    by_mapping = ImageFolderDataset(CFG, root=tmp_path, split="val", class_names=train.class_to_idx, rngs=0)
    np.testing.assert_array_equal(by_mapping.get_records(np.arange(4))["labels"], [0, 0, 2, 2])
    assert by_mapping.class_to_idx == {"cat": 0, "dog": 1, "fox": 2}
    # without class_names the val split would number fox 1: the reason to pass them
    alone = ImageFolderDataset(CFG, root=tmp_path, split="val", rngs=0)
    np.testing.assert_array_equal(alone.get_records(np.arange(4))["labels"], [0, 0, 1, 1])


def test_from_files_with_and_without_labels(tmp_path):
    paths = [tmp_path / f"{i}.webp" for i in range(3)]
    pixels = [save(p, lossless=True) for p in paths]
    ds = ImageFolderDataset.from_files(
        [str(p) for p in paths[::-1]], np.array([2, 0, 1]), CFG, class_names=["a", "b", "c"], rngs=0
    )
    batch = ds.get_records(np.arange(3))
    np.testing.assert_array_equal(batch["labels"], [2, 0, 1])
    np.testing.assert_allclose(batch["images"][0], pixels[2] / 255.0, atol=1e-6)
    assert ds.class_names == ["a", "b", "c"] and ds.labelled
    plain = ImageFolderDataset.from_files(paths, config=CFG, rngs=0)
    assert not plain.labelled and set(plain.get_records(np.arange(3))) == {"images"}


def broken_folder(root: Path) -> tuple[list[np.ndarray], Path]:
    good = [save(root / "cat" / f"{i}.png") for i in range(3)]
    bad = root / "cat" / "1b.png"
    bad.write_bytes(b"broken")
    return good, bad


def test_skip_mode_masks_and_counts_bad_files(tmp_path):
    good, bad = broken_folder(tmp_path)
    ds = ImageFolderDataset(CFG, root=tmp_path, on_error="skip", rngs=0)
    with pytest.warns(RuntimeWarning, match=r"skipping '.*1b\.png'"):
        batch = ds.get_records(np.arange(len(ds)))
    order = [p.name for p in ds.paths]
    assert order == ["0.png", "1.png", "1b.png", "2.png"]
    np.testing.assert_array_equal(batch[modalax._src.sources.VALID_KEY], [True, True, False, True])
    np.testing.assert_array_equal(batch["images"][2], 0.0)
    np.testing.assert_allclose(batch["images"][3], good[2] / 255.0, atol=1e-6)
    assert ds.skipped == [str(bad)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per file, not again
        ds.get_records(np.array([2]))
    assert len(ds.skipped) == 1


@pytest.mark.parametrize("workers", [0, 1], ids=["in process", "in a worker process"])
def test_skip_mode_through_the_loader_marks_the_record_in_the_mask(tmp_path, workers):
    _, bad = broken_folder(tmp_path)
    ds = ImageFolderDataset(CFG, root=tmp_path, on_error="skip", rngs=0)
    loader = modalax.DataLoader(ds, 4, seed=0, with_indices=True, workers=workers)
    with pytest.warns(RuntimeWarning, match=r"1b\.png"):
        (batch,) = list(loader)
    loader.close()
    masked = {int(i) for i, ok in zip(np.asarray(batch["index"]), np.asarray(batch["mask"]), strict=True) if not ok}
    assert masked == {2} and batch["images"].shape == (4, 6, 5, 3)
    assert ds.skipped == [str(bad)]  # a worker's skips are listed in the caller's dataset too


def test_a_bad_file_raises_by_default(tmp_path):
    broken_folder(tmp_path)
    ds = ImageFolderDataset(CFG, root=tmp_path, rngs=0)
    with pytest.raises(modalax.DataError, match=r"cannot decode '.*1b\.png'"):
        ds.get_records(np.arange(len(ds)))


@pytest.mark.parametrize("kind", ["folder", "from_files", "skip"])
def test_datasets_pickle_after_being_read(tmp_path, kind):
    broken_folder(tmp_path)
    if kind == "from_files":
        ds = ImageFolderDataset.from_files(sorted(tmp_path.glob("cat/[0-9].png")), [0, 1, 0], CFG, rngs=nnx.Rngs(3))
    else:
        if kind == "folder":
            (tmp_path / "cat" / "1b.png").unlink()
        ds = ImageFolderDataset(CFG, root=tmp_path, on_error="skip" if kind == "skip" else "raise", rngs=nnx.Rngs(3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        before = ds.get_records(np.arange(len(ds)))  # starts the decoding thread pool
        clone = pickle.loads(pickle.dumps(ds))
        after = clone.get_records(np.arange(len(clone)))
    assert sorted(before) == sorted(after) and clone.skipped == ds.skipped
    for key in before:
        np.testing.assert_array_equal(after[key], before[key])
    assert clone.paths == ds.paths and clone.class_names == ds.class_names


def test_keys_are_those_of_the_data_keys_table(tmp_path):
    from modalax_image import MNISTLikeDataset, SyntheticImageDataset

    assert set(SyntheticImageDataset(CFG, dataset_size=2, rngs=0).get_records(np.arange(2))) == {"images"}
    assert set(MNISTLikeDataset(dataset_size=2, rngs=0).get_records(np.arange(2))) == {"images", "labels"}
    good, _bad = broken_folder(tmp_path)
    ds = ImageFolderDataset(CFG, root=tmp_path, on_error="skip", rngs=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        records = ds.get_records(np.arange(len(ds)))
        (batch,) = list(modalax.DataLoader(ds, len(ds), seed=0))
    assert set(records) == {"images", "labels", modalax._src.sources.VALID_KEY}
    assert records["images"].dtype == np.float32 and records["labels"].dtype == np.int32
    assert set(ds.element_spec()) == {"images", "labels"}  # the flag is not part of the records the loader yields
    assert set(batch) == {"images", "labels", "mask"}
    unlabelled = ImageFolderDataset(CFG, root=tmp_path / "cat", extensions=["png"], on_error="skip", rngs=0)
    assert set(unlabelled.element_spec()) == {"images"} and len(good) == 3


@pytest.mark.parametrize("kind", ["synthetic", "mnist_like"])
def test_generated_datasets_pickle_after_being_read_and_check_indices(kind):
    import jax

    from modalax_image import create_image_dataset

    extra = {"pattern_type": "circles"} if kind == "synthetic" else {}
    ds = create_image_dataset(kind, CFG if extra else None, dataset_size=5, rngs=nnx.Rngs(4), **extra)
    before = ds.get_records(np.arange(5))
    clone = pickle.loads(pickle.dumps(ds))
    after = clone.get_records(np.arange(5))
    for key in before:
        np.testing.assert_array_equal(np.asarray(after[key]), np.asarray(before[key]))
    if kind == "synthetic":
        same = (
            jax.tree.leaves(clone.pattern_parameters(np.arange(2))),
            jax.tree.leaves(ds.pattern_parameters(np.arange(2))),
        )
        assert all(np.array_equal(a, b) for a, b in zip(*same, strict=True))
    np.testing.assert_array_equal(
        np.asarray(ds.get_records(np.array([-1]))["images"]), np.asarray(before["images"][4:])
    )
    with pytest.raises(IndexError, match=r"index 5 is out of range; expected -5 <= index < 5"):
        ds.get_records(np.array([0, 5]))
