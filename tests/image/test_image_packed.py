"""image/packed: a packed image folder decodes to exactly the folder's values."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from flax import nnx
from PIL import Image

pytest.importorskip("array_record")

import modalax
from modalax import DataError, pack
from modalax_image import ImageModalityConfig
from modalax_image.operator_configs import FlipConfig
from modalax_image.operators import FlipOperator
from modalax_image.packed import PackedImageDataset

RNG = np.random.default_rng(5)


def _write_folder(root: Path) -> None:
    """Two classes of files in many formats and modes, written by Pillow."""
    (root / "cat").mkdir(parents=True)
    (root / "dog" / "deep").mkdir(parents=True)
    rgb = RNG.integers(0, 256, (21, 17, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(root / "cat" / "a.png")
    Image.fromarray(rgb).save(root / "cat" / "b.jpg", quality=85)
    Image.fromarray(RNG.integers(0, 256, (9, 30, 4), dtype=np.uint8), "RGBA").save(root / "cat" / "c.png")
    Image.fromarray(RNG.integers(0, 65536, (12, 12), dtype=np.uint16)).save(root / "dog" / "d.png")
    Image.fromarray(rgb).convert("P").save(root / "dog" / "e.gif")
    Image.fromarray(rgb).save(root / "dog" / "deep" / "f.bmp")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: must load upright, as in the folder
    Image.fromarray(RNG.integers(0, 256, (10, 16, 3), dtype=np.uint8)).save(root / "dog" / "g.jpg", exif=exif)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    _write_folder(tmp_path / "images")
    return tmp_path / "images"


@pytest.mark.parametrize(
    "config",
    [ImageModalityConfig(height=8, width=8), ImageModalityConfig(height=5, width=7, representation="grayscale")],
)
def test_packed_folder_values_equal_the_folder(folder: Path, tmp_path: Path, config: ImageModalityConfig) -> None:
    source = modalax.create_dataset("image", "folder", root=folder, config=config, background=(0, 128, 255))
    index = pack(source, tmp_path / "packed", shards=3, progress=False)
    assert index.modality == "image" and index.decode["background"] == [0, 128, 255]
    packed = modalax.create_dataset("image", "packed", root=tmp_path / "packed")
    assert isinstance(packed, PackedImageDataset) and packed.config == config
    assert packed.class_names == source.class_names == ["cat", "dog"]
    idx = np.arange(len(source))[::-1]
    want, got = source.get_records(idx), packed.get_records(idx)
    assert sorted(got) == sorted(want) == ["images", "labels"]
    for key in want:
        assert got[key].dtype == want[key].dtype
        assert float(np.max(np.abs(got[key] - want[key]))) == 0.0
    assert packed.element_spec() == source.element_spec()


def test_packed_folder_is_no_larger_than_its_files(folder: Path, tmp_path: Path) -> None:
    source = modalax.create_dataset("image", "folder", root=folder)
    pack(source, tmp_path / "packed", shards=2, progress=False)
    files = sum(p.stat().st_size for p in source.paths)
    shards = sum(p.stat().st_size for p in (tmp_path / "packed").glob("data.array_record-*"))
    # ArrayRecord adds ~100-200 bytes a record and rounds each shard up to 64 KiB blocks; a folder
    # costs a filesystem block (4 KiB) per file on disk, more than either.
    assert shards <= files + 2 * 128 * 1024 + 256 * len(source.paths)
    assert shards <= max(files, 4096 * len(source.paths)) + 2 * 128 * 1024


def test_loader_batches_equal_the_folder_loader(folder: Path, tmp_path: Path) -> None:
    config = ImageModalityConfig(height=6, width=6)
    source = modalax.create_dataset("image", "folder", root=folder, config=config)
    pack(source, tmp_path / "packed", shards=2, progress=False)
    packed = pickle.loads(pickle.dumps(modalax.create_dataset("image", "packed", root=tmp_path / "packed")))

    def flip() -> FlipOperator:
        return FlipOperator(FlipConfig(), rngs=nnx.Rngs(0, augment=1))

    for a, b in zip(
        modalax.DataLoader(source, 3, seed=9, operators=[flip()], prefetch=0),
        modalax.DataLoader(packed, 3, seed=9, operators=[flip()], prefetch=0),
        strict=True,
    ):
        assert sorted(a) == sorted(b)
        for key in a:
            np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]))


def test_generated_images_pack_as_arrays(tmp_path: Path) -> None:
    config = ImageModalityConfig(height=8, width=8)
    source = modalax.create_dataset("image", "mnist_like", config=config, dataset_size=12)
    index = pack(source, tmp_path / "packed", progress=False)
    assert index.fields["images"].shape == (8, 8, 3) and index.config == config.to_dict()
    packed = modalax.create_dataset("image", "packed", root=tmp_path / "packed")
    want, got = source.get_records(np.arange(12)), packed.get_records(np.arange(12))
    for key in want:
        np.testing.assert_array_equal(got[key], np.asarray(want[key]))


def test_stored_images_of_another_size_are_a_field_the_config_does_not_expect(tmp_path: Path) -> None:
    source = modalax.create_dataset("image", "synthetic", config=ImageModalityConfig(height=8, width=8), dataset_size=4)
    pack(source, tmp_path / "packed", progress=False)
    with pytest.raises(DataError, match=r"index\.json.*field 'images'.*\(8, 8, 3\).*\(16, 16, 3\)"):
        modalax.create_dataset(
            "image", "packed", root=tmp_path / "packed", config=ImageModalityConfig(height=16, width=16)
        )


def test_other_modalities_are_refused(tmp_path: Path) -> None:
    pack(modalax.create_dataset("audio", "synthetic", n_samples=3), tmp_path / "audio", progress=False)
    with pytest.raises(DataError, match=r"index\.json.*packed as modality 'audio', expected 'image'"):
        modalax.create_dataset("image", "packed", root=tmp_path / "audio")


def test_a_record_that_fails_to_decode_names_the_shard_and_record(folder: Path, tmp_path: Path) -> None:
    (folder / "dog" / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    source = modalax.create_dataset("image", "folder", root=folder)
    pack(source, tmp_path / "packed", shards=2, progress=False)
    packed = modalax.create_dataset("image", "packed", root=tmp_path / "packed")
    broken = [p.name for p in source.paths].index("zz_broken.png")
    others = [i for i in range(len(source)) if i != broken]
    packed.get_records(np.array(others))  # the others decode
    shard, record = (0, broken) if broken < len(source) // 2 else (1, broken - len(source) // 2)
    where = rf"data\.array_record-0000{shard}-of-00002' record {record} \(index {broken}\): cannot decode"
    with pytest.raises(DataError, match=where):
        packed.get_records(np.array([0, broken]))


def test_cli_packs_a_folder_detected_as_images(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from modalax._src.cli import main

    out = tmp_path / "cli"
    argv = ["pack", str(folder), "--out", str(out), "--shards", "2", "--set", "config={'height': 6, 'width': 6}"]
    assert main([*argv, "--no-progress"]) == 0
    assert "packed 7 image records into 2 shard(s)" in capsys.readouterr().out
    source = modalax.create_dataset("image", "folder", root=folder, config=ImageModalityConfig(height=6, width=6))
    packed = modalax.create_dataset("image", "packed", root=out)
    np.testing.assert_array_equal(
        packed.get_records(np.arange(7))["images"], source.get_records(np.arange(7))["images"]
    )
    assert (
        main(["pack", "image:synthetic", "--out", str(tmp_path / "syn"), "--set", "dataset_size=5", "--no-progress"])
        == 0
    )
    assert len(modalax.create_dataset("image", "packed", root=tmp_path / "syn")) == 5
