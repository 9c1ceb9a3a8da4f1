"""modalax pack from the CLI: modality detection, folders, files and registered datasets, one-line failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modalax import ConfigError
from modalax._src import registry
from modalax._src.cli_pack import detect_modality

from .cli_fixtures import Counting, TinyModality, run, seeded


# ------------------------------------------------------------------- pack
class TinyFolder(Counting):
    """A folder dataset: one record per ``.tiny`` file, its size in bytes."""

    def __init__(self, root: Path) -> None:
        self.paths = sorted(Path(root).rglob("*.tiny"))
        super().__init__(len(self.paths))

    def get_records(self, idx: Any) -> dict[str, Any]:
        return {"x": np.array([self.paths[int(i)].stat().st_size for i in idx], np.int64)}


def _tiny_file(path: Path, size: int = 2) -> Counting:
    return Counting(size, scale=len(Path(path).read_text()))


def _register_packable(monkeypatch: pytest.MonkeyPatch) -> Any:
    pytest.importorskip("array_record")
    from modalax import PackedDataset

    class TinyPacked(PackedDataset):
        modality = "tiny"

        @staticmethod
        def file_extensions() -> tuple[str, ...]:
            return (".tiny",)

        @classmethod
        def pack_metadata(cls, data: Any, out_dir: Path) -> dict[str, Any] | None:
            return {"metadata": {"files": len(data)}} if isinstance(data, TinyFolder | Counting) else None

    class SoundPacked(PackedDataset):
        modality = "sound"

        @staticmethod
        def file_extensions() -> tuple[str, ...]:
            return (".wav", ".flac")

    registry.register_modality("tiny", TinyModality)
    registry.register_dataset("tiny", "folder", TinyFolder)
    registry.register_dataset("tiny", "packed", TinyPacked)
    registry.register_dataset("tiny", "file", _tiny_file)
    registry.register_dataset("tiny", "seeded", seeded)
    registry.register_modality("sound", TinyModality)
    registry.register_dataset("sound", "folder", TinyFolder)
    registry.register_dataset("sound", "packed", SoundPacked)
    return PackedDataset


def _files(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x" * (i + 1))
    return folder


def test_detect_modality_counts_extensions(
    isolated_registry: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(
        ConfigError, match=r"cannot tell its modality \(no folder modality installed\); pass --modality"
    ):
        detect_modality(_files(tmp_path / "none", ["a.tiny"]))
    _register_packable(monkeypatch)
    assert detect_modality(_files(tmp_path / "t", ["a.tiny", "b.TINY", "c.wav", "d.txt"])) == "tiny"
    assert detect_modality(_files(tmp_path / "s", ["a.tiny", "b.wav", "sub/c.flac"])) == "sound"
    for folder, found in [
        (_files(tmp_path / "tie", ["a.tiny", "b.wav"]), "sound: 1 files, tiny: 1 files"),
        (_files(tmp_path / "other", ["a.txt"]), "sound: 0 files, tiny: 0 files"),
    ]:
        with pytest.raises(ConfigError) as info:
            detect_modality(folder)
        assert f"SOURCE {str(folder)!r}: cannot tell its modality ({found}); pass --modality" == str(info.value)


def test_pack_a_folder_a_file_and_a_registered_dataset(
    isolated_registry: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flax import nnx

    from modalax.plugin import seed_key

    packed_dataset = _register_packable(monkeypatch)
    folder = _files(tmp_path / "in", ["a.tiny", "b.tiny", "c.tiny"])
    code, out, _ = run(capsys, "pack", str(folder), "--out", str(tmp_path / "p1"), "--shards", "2", "--no-progress")
    assert code == 0 and out == f"packed 3 tiny records into 2 shard(s): {tmp_path / 'p1' / 'index.json'}\n"
    assert packed_dataset(root=tmp_path / "p1").get_records(np.arange(3))["x"].tolist() == [1, 2, 3]

    text = tmp_path / "t.txt"
    text.write_text("abcd")
    argv = ["pack", str(text), "--modality", "tiny", "--out", str(tmp_path / "p2"), "--set", "size=3", "--no-progress"]
    assert run(capsys, *argv)[0] == 0
    assert packed_dataset(root=tmp_path / "p2").get_records(np.arange(3))["x"].tolist() == [0, 4, 8]

    code, out, _ = run(capsys, "pack", "tiny:seeded", "--seed", "7", "--out", str(tmp_path / "p3"), "--no-progress")
    scale = seeded(rngs=nnx.Rngs(seed_key(7))).scale
    assert code == 0 and out.startswith("packed 3 tiny records into 1 shard(s)")
    assert packed_dataset(root=tmp_path / "p3").get_records(np.arange(3))["x"].tolist() == [0, scale, 2 * scale]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{folder}", "--modality", "tinny"], "--modality: unknown folder modality 'tinny'; available: sound, tiny"),
        (["nonsense"], "SOURCE: got 'nonsense', which is not a folder, a file or MODALITY:DATASET_TYPE"),
        (["tiny:"], "SOURCE: got 'tiny:', which is not a folder"),
        (["tiny:seeded", "--set", "n=3", "--set", "bogus=1"], "unknown option of tiny/seeded 'bogus'"),
        (["{folder}", "--shards", "5"], "pack.shards: got 5 for 1 records"),
    ],
)
def test_pack_failures_are_one_line_and_write_nothing(
    isolated_registry: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    _register_packable(monkeypatch)
    folder = _files(tmp_path / "in", ["a.tiny"])
    out = tmp_path / "out"
    args = [a.format(folder=folder) for a in argv]
    code, stdout, err = run(capsys, "pack", *args, "--out", str(out), "--no-progress")
    assert code == 2 and stdout == ""
    assert err.startswith("modalax: error: ") and message in err and len(err.splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())
