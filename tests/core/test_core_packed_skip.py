"""Bad files in packed datasets: skipped, masked and counted as the folder does, or named; and packs
opened only by the modality that wrote them.

The modality is the stranger's point clouds of test_core_files (``.npy`` decoded with numpy);
the image cases use real XPM icons Pillow cannot decode (X11 colour names).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("array_record")

from modalax import ArraySource, ConfigError, DataError, DataLoader
from modalax._src.packed import PackedDataset, pack
from modalax._src.sources.file import VALID_KEY

from .test_core_files import CloudFolder, PackedCloud, write_clouds

XPM = '/* XPM */\nstatic char * icon[] = {{\n"4 2 2 1",\n". c {}",\n"# c #0000FF",\n".#.#",\n"#.#."}};\n'


@pytest.fixture
def clouds(tmp_path: Path) -> Path:
    """7 good clouds in two classes, one that is not a .npy (index 2), one deleted after the scan (index 5)."""
    root = tmp_path / "clouds"
    write_clouds(root, {"chair": 4, "table": 4})
    (root / "chair" / "2.npy").write_bytes(b"\x93NUMPY not really")
    return root


def _folder(root: Path, on_error: str = "skip") -> CloudFolder:
    folder = CloudFolder(root=root, on_error=on_error)
    (root / "table" / "1.npy").unlink()  # index 5: gone between the scan and the read
    return folder


def _records(ds: Any) -> dict[str, Any]:
    with pytest.warns(RuntimeWarning, match="skipping"):
        return ds.get_records(np.arange(len(ds)))


def test_pack_skips_masks_and_counts_as_the_folder_does(clouds: Path, tmp_path: Path) -> None:
    folder = _folder(clouds)
    want = _records(folder)
    assert want[VALID_KEY].tolist() == [True, True, False, True, True, False, True, True]
    with pytest.warns(RuntimeWarning, match=r"2 record\(s\) skipped"):
        index = pack(folder, tmp_path / "p", progress=False)  # on_error from the folder: skip, files decoded now
    assert index.on_error == "skip" and [i for i, _ in index.skipped] == [2, 5]
    assert "cannot decode" in index.skipped[0][1] and "2.npy" in index.skipped[0][1]
    assert "cannot read" in index.skipped[1][1] and "1.npy" in index.skipped[1][1]
    packed = PackedCloud(root=tmp_path / "p")
    got = _records(packed)
    for key in ("cloud", "labels", VALID_KEY):
        np.testing.assert_array_equal(got[key], want[key])
    assert len(packed.skipped) == len(folder.skipped) == 2 and "index 5" in packed.skipped[1]
    masks = [[np.asarray(b["mask"]).tolist() for b in DataLoader(ds, 3, seed=4, prefetch=0)] for ds in (folder, packed)]
    assert masks[0] == masks[1] and sum(map(sum, masks[0])) == 6
    assert "__valid__" not in packed.element_spec()


def test_a_pack_with_skips_is_deterministic(clouds: Path, tmp_path: Path) -> None:
    folder = _folder(clouds)
    with pytest.warns(RuntimeWarning):
        pack(folder, tmp_path / "a", progress=False)
        pack(folder, tmp_path / "b", progress=False)
    for name in ("index.json", "records.crc32", "data.array_record-00000-of-00001"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_pack_with_skips_read_with_raise_names_the_record(clouds: Path, tmp_path: Path) -> None:
    with pytest.warns(RuntimeWarning):
        pack(_folder(clouds), tmp_path / "p", progress=False)
    packed = PackedCloud(root=tmp_path / "p", on_error="raise")
    assert VALID_KEY not in packed.get_records(np.array([0, 1, 3]))
    with pytest.raises(DataError, match=r"record 2 \(index 2\): skipped when packed \(cannot decode .*on_error='skip'"):
        packed.get_records(np.array([1, 2]))


def test_files_that_fail_at_read_time_are_skipped_when_asked(clouds: Path, tmp_path: Path) -> None:
    folder = CloudFolder(root=clouds)
    pack(folder, tmp_path / "p", progress=False)  # raise, files not decoded: the broken one is packed as is
    with pytest.raises(DataError, match=r"00000-of-00001' record 2 \(index 2\): cannot decode"):
        PackedCloud(root=tmp_path / "p").get_records(np.arange(8))
    skipping = PackedCloud(root=tmp_path / "p", on_error="skip")
    got = _records(skipping)
    assert got[VALID_KEY].tolist() == [i != 2 for i in range(8)] and not got["cloud"][2].any()
    assert len(skipping.skipped) == 1


@pytest.mark.parametrize(
    ("on_error", "check_files", "deleted", "match"),
    [
        ("raise", True, False, r"pack: cannot decode '.*2\.npy'.*\(record 2; on_error='skip' stores it"),
        (None, None, True, r"pack: cannot read '.*1\.npy': No such file.*\(record 5;"),
        ("maybe", None, False, r"pack.on_error: got 'maybe'"),
    ],
)
def test_pack_fails_on_a_bad_file_when_told_to(
    clouds: Path, tmp_path: Path, on_error: Any, check_files: Any, deleted: bool, match: str
) -> None:
    folder = _folder(clouds, "raise") if deleted else CloudFolder(root=clouds)
    with pytest.raises((DataError, ConfigError), match=match):
        pack(folder, tmp_path / "p", progress=False, on_error=on_error, check_files=check_files)
    assert not (tmp_path / "p").exists()


class MaskedSource(ArraySource):
    """A source that masks record 3 out itself, as a skipping file source does."""

    def get_records(self, indices: Any) -> dict[str, Any]:
        batch = super().get_records(indices)
        return {**batch, VALID_KEY: np.asarray(indices) != 3}


def test_records_a_source_masked_out_are_skipped_or_named(tmp_path: Path) -> None:
    source = MaskedSource({"v": np.arange(6.0)}, on_device=False)
    with pytest.raises(DataError, match=r"record 3 failed to decode in the source \(skipped there\) \(record 3;"):
        pack(source, tmp_path / "a", progress=False)
    with pytest.warns(RuntimeWarning, match="skipped"):
        pack(source, tmp_path / "b", progress=False, on_error="skip")
    got = _records(PackedDataset(root=tmp_path / "b"))
    assert got[VALID_KEY].tolist() == [True, True, True, False, True, True]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"on_error": "maybe"}, r"PackedCloud.on_error: got 'maybe'"), ({"checks": None}, r"checks: got None")],
)
def test_bad_reader_options(clouds: Path, tmp_path: Path, kwargs: dict[str, Any], match: str) -> None:
    pack(CloudFolder(root=clouds), tmp_path / "p", progress=False)
    with pytest.raises(ConfigError, match=match):
        PackedCloud(root=tmp_path / "p", **kwargs)


def test_a_modality_less_pack_is_not_a_modality_s_records(tmp_path: Path) -> None:
    pack({"cloud": np.zeros((3, 4, 3), np.float32)}, tmp_path / "arrays", progress=False)
    assert json.loads((tmp_path / "arrays" / "index.json").read_text())["modality"] is None
    with pytest.raises(DataError, match=r"index\.json.*without a modality .*modality None.*expected 'cloud'"):
        PackedCloud(root=tmp_path / "arrays")
    assert PackedDataset(root=tmp_path / "arrays").get_records(np.array([1]))["cloud"].shape == (1, 4, 3)


def test_an_array_pack_is_not_images(tmp_path: Path) -> None:
    modalax = pytest.importorskip("modalax")
    pytest.importorskip("modalax_image")
    pack({"x": np.zeros((4, 8, 8, 3), np.float32), "y": np.arange(4)}, tmp_path / "xy", progress=False)
    with pytest.raises(DataError, match=r"modality None.*expected 'image'.*PackedDataset"):
        modalax.create_dataset("image", "packed", root=tmp_path / "xy")


def test_xpm_icons_pillow_cannot_decode_are_skipped_packed_as_in_the_folder(tmp_path: Path) -> None:
    modalax = pytest.importorskip("modalax")
    pytest.importorskip("modalax_image")
    from PIL import Image

    root = tmp_path / "icons"
    root.mkdir()
    for i in range(4):
        Image.fromarray(np.full((5, 5, 3), 60 * i, np.uint8)).save(root / f"{i}.png")
    for name, colour in (("a.xpm", "white"), ("b.xpm", "gray50")):
        (root / name).write_text(XPM.format(colour))
    config = {"height": 4, "width": 4}
    folder = modalax.create_dataset("image", "folder", root=root, config=config, labels=False, on_error="skip")
    want = _records(folder)
    with pytest.warns(RuntimeWarning, match=r"2 record\(s\) skipped"):
        pack(folder, tmp_path / "p", progress=False)
    packed = modalax.create_dataset("image", "packed", root=tmp_path / "p")
    got = _records(packed)
    assert got[VALID_KEY].tolist() == want[VALID_KEY].tolist() == [True] * 4 + [False] * 2
    np.testing.assert_array_equal(got["images"], want["images"])
    assert len(packed.skipped) == len(folder.skipped) == 2
