"""``pack(..., runner="beam")``: Apache Beam's DirectRunner with 2 worker processes writes the pack ``pack`` writes.

Record for record identical (the same shard bytes, CRC file, index), the same skipped records
and the same error for a bad record; a re-run into a partial output is refused; an interrupted
run leaves an incomplete pack that readers name.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("apache_beam")
pytest.importorskip("array_record")
pytest.importorskip("modalax_image")

import modalax
from modalax import ConfigError, DataError
from modalax_image import ImageFolderDataset
from modalax_image.config import ImageModalityConfig

pytestmark = pytest.mark.slow

TWO_WORKERS = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]


def _folder(root: Path, bad: bool) -> Path:
    from PIL import Image

    for c, cls in enumerate(("a", "b", "c")):
        (root / cls).mkdir(parents=True)
        for i in range(7):
            Image.fromarray(np.full((6, 6, 3), 12 * i + c, np.uint8)).save(root / cls / f"{i:02d}.png")
    if bad:
        (root / "b" / "03x.png").write_bytes(b"not a png")
        (root / "c" / "99.png").write_bytes(b"\x89PNG truncated")
    return root


def _dataset(root: Path, on_error: str) -> ImageFolderDataset:
    return ImageFolderDataset(ImageModalityConfig(height=6, width=6), root=root, on_error=on_error)


def test_the_beam_pack_is_the_single_process_pack(tmp_path: Path) -> None:
    ds = _dataset(_folder(tmp_path / "in", bad=True), "skip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        local = modalax.pack(ds, tmp_path / "local", shards=4, progress=False)
    with pytest.warns(RuntimeWarning, match=r"pack: 2 record\(s\) skipped"):
        beam = modalax.pack(ds, tmp_path / "beam", shards=4, runner="beam", pipeline_options=TWO_WORKERS)
    assert beam.to_json() == local.to_json()
    assert (tmp_path / "beam" / "index.json").read_bytes() == (tmp_path / "local" / "index.json").read_bytes()
    assert sorted(p.name for p in (tmp_path / "beam").iterdir()) == sorted(
        p.name for p in (tmp_path / "local").iterdir()
    )
    for path in (tmp_path / "local").iterdir():
        assert (tmp_path / "beam" / path.name).read_bytes() == path.read_bytes(), path.name
    assert [i for i, _ in beam.skipped] == [i for i, _ in local.skipped] and len(beam.skipped) == 2
    a = modalax.create_dataset("image", "packed", root=tmp_path / "beam")
    b = modalax.create_dataset("image", "packed", root=tmp_path / "local")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        x, y = a.get_records(np.arange(len(a))), b.get_records(np.arange(len(b)))
    for key in y:
        np.testing.assert_array_equal(x[key], y[key])


def test_a_bad_file_raises_the_single_process_error_and_leaves_nothing(tmp_path: Path) -> None:
    ds = _dataset(_folder(tmp_path / "in", bad=True), "raise")
    with pytest.raises(DataError) as local:
        modalax.pack(ds, tmp_path / "local", shards=3, progress=False, check_files=True)
    with pytest.raises(DataError) as beam:
        modalax.pack(ds, tmp_path / "beam", shards=3, runner="beam", check_files=True, pipeline_options=TWO_WORKERS)
    assert str(beam.value) == str(local.value) and "03x.png" in str(beam.value)
    assert not (tmp_path / "beam").exists()


@pytest.mark.parametrize(
    ("existing", "match"),
    [
        ("index.json", r"holds a complete pack"),
        ("pack.beam.partial", r"holds an incomplete pack \(1 file\(s\) such as 'pack.beam.partial'"),
        ("data.array_record-00000-of-00002.partial", r"holds an incomplete pack"),
        ("data.array_record-00001-of-00002.json.partial", r"holds an incomplete pack"),
    ],
)
def test_a_rerun_into_a_partly_written_output_is_refused(tmp_path: Path, existing: str, match: str) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / existing).write_bytes(b"{}")
    with pytest.raises(ConfigError, match=match):
        modalax.pack({"x": np.arange(4)}, tmp_path / "out", shards=2, runner="beam")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"pipeline_options": "--runner=DirectRunner"},
            r"pipeline_options: got '--runner=DirectRunner', expected a list",
        ),
        ({"pipeline_options": ["--runner=DataflowRunner"]}, r"the local folder .* with the DataflowRunner"),
        ({"runner": "spark"}, r"pack.runner: got 'spark', expected 'local' or 'beam'"),
        ({"runner": "local", "pipeline_options": []}, r"given with runner='local'"),
    ],
)
def test_bad_runner_arguments_are_refused_before_any_work(tmp_path: Path, kwargs: dict, match: str) -> None:
    kwargs = {"runner": "beam", **kwargs}
    with pytest.raises(ConfigError, match=match):
        modalax.pack({"x": np.arange(4)}, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


INTERRUPTED = """
import os, signal, sys
import numpy as np
import modalax

class Rows:
    driver = os.getpid()
    def __len__(self):
        return 12
    def __getitem__(self, i):
        if i == 9:  # the driver dies while shard 1 is being written
            os.kill(self.driver, signal.SIGKILL)
        return {"x": np.full(3, i)}

modalax.pack(Rows(), sys.argv[1], shards=2, runner="beam", pipeline_options=["--direct_running_mode=in_memory"])
"""


def test_an_interrupted_beam_run_leaves_an_incomplete_pack_that_is_named(tmp_path: Path) -> None:
    script = tmp_path / "interrupted.py"
    script.write_text(textwrap.dedent(INTERRUPTED))
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, timeout=240)
    assert run.returncode == -9, run.stderr[-2000:]
    assert not (out / "index.json").exists() and (out / "pack.beam.partial").exists()
    with pytest.raises(DataError, match=r"incomplete pack: index.json is missing .* pack.beam.partial"):
        modalax.PackedDataset(root=out)
    with pytest.raises(ConfigError, match=r"holds an incomplete pack"):
        modalax.pack({"x": np.arange(12)}, out, shards=2, runner="beam")


def test_the_cli_packs_with_beam(tmp_path: Path) -> None:
    _folder(tmp_path / "in", bad=False)
    cmd = [sys.executable, "-m", "modalax", "pack", str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    run = subprocess.run(
        [*cmd, "--shards", "2", "--runner", "beam", "--beam-arg=--direct_num_workers=2", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "packed 21 image records into 2 shard(s)" in run.stdout
    assert modalax.verify_pack(tmp_path / "out").records == 21
