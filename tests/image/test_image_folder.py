"""ImageFolderDataset: PNG/JPEG round trips, labels from sub-folders, clear decode errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from flax import nnx
from PIL import Image

import modalax
from modalax import DataError
from modalax_image import ImageFolderDataset, ImageModalityConfig, create_image_dataset

RNG = np.random.default_rng(11)


def write_pngs(folder: Path, n: int, size: tuple[int, int] = (8, 6), mode: str = "RGB") -> list[np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    arrays = []
    for i in range(n):
        a = RNG.integers(0, 256, (size[0], size[1], channels), dtype=np.uint8)
        Image.fromarray(a[..., 0] if channels == 1 else a, mode).save(folder / f"img_{i:03d}.png")
        arrays.append(a)
    return arrays


def test_png_round_trip_is_exact_at_the_configured_size(tmp_path):
    arrays = write_pngs(tmp_path, 5)
    ds = ImageFolderDataset(ImageModalityConfig(height=8, width=6), root=tmp_path, rngs=nnx.Rngs(0))
    assert len(ds) == 5 and not ds.labelled and ds.class_names == []
    batch = ds.get_records(np.arange(5))
    assert set(batch) == {"images"} and batch["images"].dtype == np.float32
    np.testing.assert_array_equal(batch["images"], np.stack(arrays).astype(np.float32) / 255.0)


def test_class_subfolders_become_labels_and_files_are_resized(tmp_path):
    cats = write_pngs(tmp_path / "cat", 3, size=(10, 12))
    dogs = write_pngs(tmp_path / "dog", 2, size=(10, 12))
    cfg = ImageModalityConfig(height=5, width=6)
    ds = create_image_dataset("folder", cfg, root=tmp_path, rngs=nnx.Rngs(0))
    assert ds.class_names == ["cat", "dog"] and ds.labelled
    batch = ds.get_records(np.arange(5))
    np.testing.assert_array_equal(batch["labels"], [0, 0, 0, 1, 1])
    expected = np.asarray(Image.fromarray(dogs[1]).resize((6, 5), Image.Resampling.BILINEAR)) / np.float32(255)
    np.testing.assert_array_equal(batch["images"][4], expected)
    assert len(cats) == 3


def test_split_subfolder_grayscale_and_nearest(tmp_path):
    write_pngs(tmp_path / "train" / "a", 2, size=(4, 4), mode="RGB")
    val = write_pngs(tmp_path / "val" / "a", 1, size=(4, 4), mode="RGB")
    cfg = ImageModalityConfig(representation="grayscale", height=8, resize_method="nearest")
    ds = ImageFolderDataset(cfg, root=tmp_path, split="val", rngs=nnx.Rngs(0))
    assert len(ds) == 1
    img = ds[0]["images"]
    gray = np.asarray(Image.fromarray(val[0]).convert("L"))
    np.testing.assert_array_equal(img[..., 0], np.repeat(np.repeat(gray, 2, 0), 2, 1) / np.float32(255))


def test_jpeg_and_rgba_decode(tmp_path):
    ramp = np.linspace(40, 220, 6)
    a = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], np.full((6, 6), 128.0)), -1).astype(np.uint8)
    Image.fromarray(a).save(tmp_path / "photo.JPG", quality=95)
    write_pngs(tmp_path, 1, size=(6, 6), mode="RGBA")
    ds = ImageFolderDataset(ImageModalityConfig(representation="rgba", height=6), root=tmp_path, rngs=nnx.Rngs(0))
    batch = ds.get_records(np.arange(2))
    assert batch["images"].shape == (2, 6, 6, 4)
    jpg = batch["images"][[p.name for p in ds.paths].index("photo.JPG")]
    decoded = np.asarray(Image.open(tmp_path / "photo.JPG").convert("RGBA"), np.float32) / np.float32(255)
    np.testing.assert_array_equal(jpg, decoded)
    assert np.all(jpg[..., 3] == 1.0) and np.abs(jpg[..., :3] * 255 - a).mean() < 12  # lossy, opaque


def test_undecodable_file_raises_data_error_naming_it(tmp_path):
    write_pngs(tmp_path, 2)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not a png")
    ds = ImageFolderDataset(ImageModalityConfig(height=8, width=6), root=tmp_path, rngs=nnx.Rngs(0))
    index = [p.name for p in ds.paths].index("broken.png")
    with pytest.raises(DataError, match=r"cannot decode '.*broken\.png'"):
        ds.get_records(np.array([index]))


def test_missing_or_empty_folders(tmp_path):
    with pytest.raises(DataError, match=r"root: got '.*nowhere', expected an existing folder"):
        ImageFolderDataset(root=tmp_path / "nowhere", rngs=nnx.Rngs(0))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"no \.apng/\.avif/.*\(\d+ extensions\) files in"):
        ImageFolderDataset(root=tmp_path, rngs=nnx.Rngs(0))
    with pytest.raises(DataError, match=r"root: got None"):
        ImageFolderDataset(rngs=nnx.Rngs(0))


def test_loader_reads_every_file_once(tmp_path):
    arrays = write_pngs(tmp_path / "only", 7, size=(8, 6))
    ds = ImageFolderDataset(ImageModalityConfig(height=8, width=6), root=tmp_path, rngs=nnx.Rngs(0))
    loader = modalax.DataLoader(ds, 3, seed=0, drop_last=False, with_indices=True)
    seen = {}
    for batch in loader:
        for i, valid, img in zip(
            np.asarray(batch["index"]), np.asarray(batch["mask"]), np.asarray(batch["images"]), strict=True
        ):
            if valid:
                seen[int(i)] = img
    assert sorted(seen) == list(range(7))
    for i, img in seen.items():
        np.testing.assert_array_equal(img * 255, arrays[i].astype(np.float32))
