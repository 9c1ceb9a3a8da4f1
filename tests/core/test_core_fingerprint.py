"""``fingerprint()``: a cheap signature that changes when a source's records change and only then.

The loader keeps it in its state and refuses to resume onto a changed source; the case of the
issue is a folder where one file was renamed (same count): 4 images served twice, 4 skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modalax import ArraySource, Concat, Subset
from modalax._src.sources import SequenceSource, as_source, fingerprint_of

from .source_fixtures import NoiseDataset, NpyFolder

ROOT = Path(__file__).resolve().parents[2]


def npy_tree(root: Path, n: int = 6) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        paths.append(root / f"{i:02d}.npy")
        np.save(paths[-1], np.full(3, i, np.float32))
        os.utime(paths[-1], ns=(1_700_000_000_000_000_000 + i, 1_700_000_000_000_000_000 + i))
    return paths


def files_of(root: Path) -> NpyFolder:
    return NpyFolder(sorted(root.glob("*.npy")))


def rename(root: Path) -> None:
    (root / "02.npy").rename(root / "02b.npy")  # same count, same order, another name


def touch_one(root: Path) -> None:
    os.utime(root / "03.npy")


def replace_one(root: Path) -> None:
    np.save(root / "04.npy", np.zeros(5, np.float32))


def add_one(root: Path) -> None:
    np.save(root / "09.npy", np.zeros(3, np.float32))


def remove_one(root: Path) -> None:
    (root / "05.npy").unlink()


def swap_two(root: Path) -> None:
    (root / "00.npy").rename(root / "tmp.npy")
    (root / "01.npy").rename(root / "00.npy")
    (root / "tmp.npy").rename(root / "01.npy")


@pytest.mark.parametrize("change", [rename, touch_one, replace_one, add_one, remove_one, swap_two])
def test_a_changed_file_changes_the_fingerprint(tmp_path: Path, change: Callable[[Path], None]) -> None:
    npy_tree(tmp_path / "data")
    before = files_of(tmp_path / "data").fingerprint()
    assert files_of(tmp_path / "data").fingerprint() == before  # a new instance over the same tree
    change(tmp_path / "data")
    after = files_of(tmp_path / "data").fingerprint()
    assert after != before and after["kind"] == "files" and after["count"] == len(files_of(tmp_path / "data"))


def test_an_unchanged_tree_keeps_it_across_processes_and_moves(tmp_path: Path) -> None:
    npy_tree(tmp_path / "data")
    here = files_of(tmp_path / "data").fingerprint()
    code = (
        "import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[2]);"
        "from tests.core.source_fixtures import NpyFolder;"
        "print(json.dumps(NpyFolder(sorted(Path(sys.argv[1]).glob('*.npy'))).fingerprint()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "random"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "data"), str(ROOT)], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout) == here
    shutil.copytree(tmp_path / "data", tmp_path / "elsewhere" / "data")  # copy2 keeps the times
    assert files_of(tmp_path / "elsewhere" / "data").fingerprint() == here
    assert json.loads(json.dumps(here)) == here


def test_it_is_computed_once_and_travels_with_the_source(tmp_path: Path) -> None:
    import pickle

    npy_tree(tmp_path / "data")
    src = files_of(tmp_path / "data")
    first = src.fingerprint()
    touch_one(tmp_path / "data")
    assert src.fingerprint() == first  # the instance keeps what it saw (one stat per file, once)
    assert pickle.loads(pickle.dumps(src)).fingerprint() == first


def test_a_renamed_image_changes_a_folder_dataset(tmp_path: Path) -> None:
    image = pytest.importorskip("modalax_image")
    from PIL import Image

    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(4):
            Image.new("RGB", (4, 4), (i, 0, 0)).save(tmp_path / cls / f"{i}.png")
    before = image.ImageFolderDataset(None, tmp_path, split=None).files.fingerprint()
    (tmp_path / "cat" / "1.png").rename(tmp_path / "cat" / "9.png")
    assert image.ImageFolderDataset(None, tmp_path, split=None).files.fingerprint() != before


def arrays(**changes: Any) -> dict[str, Any]:
    data = {
        "x": np.arange(40, dtype=np.float32).reshape(20, 2),
        "meta": {"name": np.array([f"r{i}" for i in range(20)])},
    }
    data.update(changes)
    return data


@pytest.mark.parametrize("on_device", [True, False])
def test_array_fingerprints(on_device: bool) -> None:
    base = ArraySource(arrays(), on_device=on_device).fingerprint()
    assert ArraySource(arrays(), on_device=on_device).fingerprint() == base and base["count"] == 20
    first_row = arrays()["x"].copy()
    first_row[0, 0] = -1
    renamed = arrays(meta={"name": np.array([f"s{i}" for i in range(20)])})
    for other in (
        arrays(x=first_row),
        arrays(x=arrays()["x"].astype(np.int32)),
        arrays(x=arrays()["x"].reshape(20, 2, 1)),
        renamed,
        {"y": arrays()["x"], "meta": arrays()["meta"]},
    ):
        assert ArraySource(other, on_device=on_device).fingerprint() != base


def test_views_combine_their_parts() -> None:
    a = ArraySource({"id": np.arange(10)}, on_device=False)
    b = ArraySource({"id": np.arange(10, 15)}, on_device=False)
    sub = Subset(a, [3, 1, 4])
    assert sub.fingerprint() == Subset(a, [3, 1, 4]).fingerprint()
    assert sub.fingerprint() != Subset(a, [3, 1, 5]).fingerprint()
    assert sub.fingerprint()["source"] == a.fingerprint() and sub.fingerprint()["count"] == 3
    both = Concat([a, b]).fingerprint()
    assert both["parts"] == [a.fingerprint(), b.fingerprint()] and both["count"] == 15
    assert Concat([b, a]).fingerprint() != both
    assert json.loads(json.dumps(Concat([sub, b]).fingerprint())) == Concat([sub, b]).fingerprint()


def test_sources_that_cannot_tell_say_none() -> None:
    class Plain:
        def __len__(self) -> int:
            return 3

        def __getitem__(self, i: int) -> dict[str, Any]:
            return {"id": i}

    class Signed(Plain):
        def fingerprint(self) -> dict[str, Any]:
            return {"kind": "mine", "count": 3, "version": 2}

    assert SequenceSource(Plain()).fingerprint() is None and fingerprint_of(object()) is None
    assert SequenceSource(Signed()).fingerprint() == {"kind": "sequence", "count": 3, "object": Signed().fingerprint()}
    assert NoiseDataset(None, 8).fingerprint() is None  # the default: the loader compares the count only
    assert Subset(NoiseDataset(None, 8), [1]).fingerprint()["source"] is None


def test_hf_fingerprints(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    make = lambda values: datasets.Dataset.from_dict({"n": values, "s": [str(v) for v in values]})  # noqa: E731
    base = as_source(make(list(range(30)))).fingerprint()
    assert as_source(make(list(range(30)))).fingerprint() == base and base["count"] == 30
    assert as_source(make([*range(29), 99])).fingerprint() != base  # the last row is always sampled
    assert as_source(make(list(range(31)))).fingerprint() != base
