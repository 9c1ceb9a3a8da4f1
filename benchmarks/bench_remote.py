"""Packing on Apache Beam, and packed shards read from remote storage.

Case (a), packing: ``--images`` small PNGs (32x32, in 10 class folders) packed into 8 shards by
``modalax.pack`` in this process and by ``pack(..., runner="beam")`` on the DirectRunner with 2
worker processes (``direct_running_mode=multi_processing``). Each timed run packs the whole
folder into a new folder (removed after), from the same ``ImageFolderDataset`` built once; the
throughput is images/s, the ratio is Beam's over the single process's. Beam's first call
includes importing Beam; every Beam run starts its workers (that is what a pack costs).

Case (b), reading: a pack of ``--records`` records (a 3 KiB uint8 array and a label each, 4
shards, modality-less) read by ``PackedDataset`` in batches of 64 in a fixed random order, one
epoch per timed run, from (1) the local disk, (2) a local ``http.server`` on 127.0.0.1 with
range requests (``tests/core/remote_fixtures.py``) and (3) moto's S3 server on 127.0.0.1 through
s3fs. Remote shards are read by ranged requests (one per record, a batch's fetched together);
records are checked against their CRC-32 as in training. The throughput is records/s.

Run: ``python benchmarks/bench_remote.py`` (``--quick`` for a smoke run; ``--case a`` or ``b``).
Needs apache-beam, fsspec[http], s3fs and moto[server].
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from common import BenchResult, Contender, main, race

ROOT = Path(__file__).resolve().parents[1]


def _images(root: Path, n: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / f"class{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)).save(folder / f"{i:06d}.png")


def _packing(n: int, runs: int) -> BenchResult:
    import modalax
    from modalax_image import ImageFolderDataset
    from modalax_image.config import ImageModalityConfig

    work = Path(tempfile.mkdtemp(prefix="bench-remote-a-"))
    _images(work / "in", n)
    ds = ImageFolderDataset(ImageModalityConfig(height=32, width=32), root=work / "in")
    count = [0]

    def packer(**kw: Any) -> Any:
        def run() -> None:
            count[0] += 1
            out = work / f"out{count[0]}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                modalax.pack(ds, out, shards=8, progress=False, **kw)
            shutil.rmtree(out)

        return run

    beam = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    contenders = {
        "modalax.pack, runner='beam' (DirectRunner, 2 worker processes)": Contender(
            packer(runner="beam", pipeline_options=beam)
        ),
        "modalax.pack, one process": Contender(packer()),
    }
    res = BenchResult(
        f"Packing {n:,} PNGs (32x32) into 8 shards", "images/s", subject=next(iter(contenders)), case="--case a"
    )
    res.add(race(contenders, n, runs, warmup=0))
    shutil.rmtree(work)
    return res


def _reading(n: int, runs: int) -> BenchResult:
    import modalax

    sys.path.insert(0, str(ROOT / "tests" / "core"))
    from remote_fixtures import FolderServer, moto_s3

    work = Path(tempfile.mkdtemp(prefix="bench-remote-b-"))
    rng = np.random.default_rng(1)
    data = {"x": rng.integers(0, 255, (n, 3072), np.uint8), "y": np.arange(n, dtype=np.int64)}
    modalax.pack(data, work / "packed", shards=4, progress=False)
    order = rng.permutation(n)
    batches = [order[i : i + 64] for i in range(0, n, 64)]

    def epoch(ds: Any) -> Any:
        def run() -> int:
            total = 0
            for idx in batches:
                total += int(ds.get_records(idx)["y"].sum())
            assert total == n * (n - 1) // 2
            return total

        return run

    res = BenchResult(
        f"Reading a pack of {n:,} records (3 KiB each), batches of 64 in random order",
        "records/s",
        subject="local disk",
        case="--case b",
    )
    with FolderServer(work) as server, moto_s3("bench") as _:
        modalax.pack(data, "s3://bench/packed", shards=4, progress=False)
        contenders = {
            "local disk": Contender(epoch(modalax.PackedDataset(root=work / "packed"))),
            "HTTP (http.server, 127.0.0.1, range requests)": Contender(
                epoch(modalax.PackedDataset(root=f"{server.url}/packed"))
            ),
            "S3 (moto server, 127.0.0.1, s3fs)": Contender(epoch(modalax.PackedDataset(root="s3://bench/packed"))),
        }
        res.add(race(contenders, n, runs))
    shutil.rmtree(work)
    return res


def run(quick: bool = False, runs: int | None = None, case: str | None = None) -> list[BenchResult]:
    """The cases asked for (both by default)."""
    out = []
    if case in (None, "a"):
        out.append(_packing(1_000 if quick else 20_000, runs or (1 if quick else 3)))
    if case in (None, "b"):
        out.append(_reading(512 if quick else 4_096, runs or (2 if quick else 5)))
    return out


if __name__ == "__main__":
    main(run, cases="ab")
