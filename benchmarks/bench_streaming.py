"""Streaming: resident memory over 10^6 records, and tar shards read by modalax, HF datasets and webdataset.

Case (a), memory: a ``StreamingLoader`` over a generator source of ``--records`` small records
(an int32 and four float32 each, 16 shards, shuffle buffer of 10,000, batches of 1,024) is read
once; the process's resident set size (``/proc/self/statm``) is printed after 10^4, 10^5 and
every further 10^5 records, with the records per second. Flat means the RSS after 10^6 records
is within a few MB of the RSS after 10^4 (the buffer is full by then).

Case (b), tar shards: ``--images`` JPEGs (256x256, photo-like) in WebDataset tar shards
(``jpg`` and ``cls`` per sample, 8 shards), decoded and resized to 64x64 float32 in [0, 1],
batches of 64 (numpy for the peers, jax arrays for modalax). Contenders, each built once and
raced round-robin in one process (``common.race``: min/median/max of the rounds, first call apart):

* ``modalax StreamingLoader, workers=2`` (readers 2: each worker reads and decodes its shards);
* ``modalax StreamingLoader, workers=0`` (reading and decoding in the loader's process);
* ``HF datasets streaming``: ``load_dataset("webdataset", data_files=shards, streaming=True)``,
  its ``Image`` column decoded by ``datasets`` (Pillow), resized with Pillow, one process;
* ``webdataset pipeline``: ``wds.WebDataset(shards).decode("pil").to_tuple("jpg", "cls")``,
  resized with Pillow, batched with numpy, one process (its multi-process mode needs torch).

Each timed run is one full epoch from a new iterator (for modalax the worker processes stay up
between runs, as they do across the epochs of a training run; their start is the first-call
column). Nothing is shuffled, so every contender does the same work. Run:
``python benchmarks/bench_streaming.py`` (``--quick`` for a smoke run; ``--case a`` or ``b``).
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from common import BenchResult, Contender, print_results, race, steady_allocator

SIZE = 64
BATCH = 64


def _spin(n: int) -> float:
    t0 = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - t0


def effective_cores() -> float:
    """How many cores two CPU-bound processes get now (2.0 on an idle two-core machine)."""
    import multiprocessing

    alone = _spin(3_000_000)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [1000, 1000])  # started before timing
        t0 = time.perf_counter()
        pool.map(_spin, [3_000_000, 3_000_000])
        both = time.perf_counter() - t0
    return 2 * alone / both


def rss_mb() -> float:
    """The resident set size of this process now, in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


RECORDS_PER_SHARD: list[int] = [0]


def small_records(shard: int) -> Iterator[dict[str, Any]]:
    """Shard ``shard`` of the memory case: an int32 and four float32 per record."""
    v = np.arange(4, dtype=np.float32)
    for i in range(RECORDS_PER_SHARD[0]):
        yield {"x": np.int32(shard * 10_000_000 + i), "v": v + i}


def case_memory(records: int) -> list[tuple[int, float, float]]:
    """``(records read, RSS MiB, records/s so far)`` at 10^4, 10^5, 2x10^5, ... records."""
    from modalax import IterableSource, StreamingLoader

    shards, batch = 16, 1024
    RECORDS_PER_SHARD[0] = records // shards
    loader = StreamingLoader(
        IterableSource(small_records, num_shards=shards), batch, shuffle_buffer=10_000, shuffle_shards=True, readers=4
    )
    marks = [10_000, 100_000, *range(200_000, records + 1, 100_000)]
    out: list[tuple[int, float, float]] = []
    seen, t0 = 0, time.perf_counter()
    for b in loader:
        seen += int(np.asarray(b["mask"]).sum())
        while marks and seen >= marks[0]:
            out.append((marks.pop(0), rss_mb(), seen / (time.perf_counter() - t0)))
    if seen not in [m for m, _, _ in out]:
        out.append((seen, rss_mb(), seen / (time.perf_counter() - t0)))
    return out


def write_shards(root: Path, images: int, shards: int = 8) -> list[str]:
    """Photo-like 256x256 JPEGs in ``shards`` tar shards of the WebDataset layout."""
    import tarfile

    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:256, 0:256] / 256
    paths = []
    for s in range(shards):
        path = root / f"shard-{s:03d}.tar"
        with tarfile.open(path, "w") as tf:
            for i in range(s, images, shards):
                base = np.stack([xx * rng.random(), yy * rng.random(), (xx + yy) / 2 * rng.random()], -1) * 255
                pixels = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
                buf = io.BytesIO()
                Image.fromarray(pixels).save(buf, "JPEG", quality=90)
                for field, data in (("jpg", buf.getvalue()), ("cls", str(i % 10).encode())):
                    info = tarfile.TarInfo(f"{i:06d}.{field}")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
        paths.append(str(path))
    return paths


def _to_array(img: Any) -> np.ndarray:
    from PIL import Image

    img = img.convert("RGB")
    if img.size != (SIZE, SIZE):
        img = img.resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    return np.asarray(img, np.float32) / np.float32(255.0)


def _batches(pairs: Iterator[tuple[np.ndarray, int]]) -> int:
    n, images, labels = 0, [], []
    for image, label in pairs:
        images.append(image)
        labels.append(label)
        if len(images) == BATCH:
            np.stack(images), np.asarray(labels)
            n += BATCH
            images, labels = [], []
    if images:
        np.stack(images), np.asarray(labels)
        n += len(images)
    return n


def hf_contender(paths: list[str]) -> Any:
    import datasets

    ds = datasets.load_dataset("webdataset", data_files={"train": paths}, split="train", streaming=True)
    return lambda: _batches((_to_array(r["jpg"]), r["cls"]) for r in ds)


def wds_contender(paths: list[str]) -> Any:
    import webdataset as wds

    pipeline = wds.WebDataset(paths, shardshuffle=False).decode("pil").to_tuple("jpg", "cls")
    return lambda: _batches((_to_array(img), cls) for img, cls in pipeline)


def modalax_contender(paths: list[str], workers: int, closers: list[Any]) -> Any:
    import jax

    from modalax import StreamingLoader, WebDatasetSource
    from modalax_image import decode_image
    from modalax_image.config import ImageModalityConfig

    # The image plugin's decoder, named explicitly: the same function the registry hands out
    # for ".jpg" once the plugin registers it (configs={"image": config}).
    config = ImageModalityConfig(height=SIZE, width=SIZE)
    source = WebDatasetSource(paths, decode={"jpg": functools.partial(decode_image, config=config)})
    loader = StreamingLoader(source, BATCH, workers=workers, readers=2)
    closers.append(loader.close)

    def epoch() -> int:
        n, last = 0, None
        for batch in loader:
            n += int(np.asarray(batch["mask"]).sum())
            last = batch["images"]
        jax.block_until_ready(last)
        return n

    return epoch


def checked(name: str, run: Any, images: int) -> Any:
    def first() -> int:
        got = run()
        if got != images:
            raise AssertionError(f"{name} read {got} images, expected {images}")
        return got

    return first


def case_tar(images: int, runs: int) -> BenchResult:
    closers: list[Any] = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_shards(Path(tmp), images)
        runs_of = {
            "modalax StreamingLoader, workers=2": modalax_contender(paths, 2, closers),
            "modalax StreamingLoader, workers=0": modalax_contender(paths, 0, closers),
            "HF datasets streaming (1 process)": hf_contender(paths),
            "webdataset pipeline (1 process)": wds_contender(paths),
        }
        # The first call (timed apart: worker start-up, imports, jit) also checks that each
        # contender reads every image once.
        contenders = {name: Contender(run, first=checked(name, run, images)) for name, run in runs_of.items()}
        try:
            timings = race(contenders, images, runs)
        finally:
            for close in closers:
                close()
    res = BenchResult(
        f"(b) {images} JPEGs 256x256 in 8 tar shards -> {SIZE}x{SIZE} float32, batch {BATCH}",
        "images/s",
        subject="modalax StreamingLoader, workers=2",
        notes="one epoch per timed run from a new iterator; peers in one process as they run without torch",
        case="python benchmarks/bench_streaming.py --case b",
    )
    res.add(timings)
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10^5 records, 256 images, 2 rounds")
    parser.add_argument("--case", choices=["a", "b"], default=None)
    parser.add_argument("--records", type=int, default=None, help="records of case (a) (default 10^6)")
    parser.add_argument("--images", type=int, default=None, help="images of case (b) (default 1024)")
    parser.add_argument("--runs", type=int, default=None, help="timed rounds of case (b) (default 5)")
    args = parser.parse_args()
    steady_allocator()
    t0 = time.perf_counter()
    if args.case in (None, "a"):
        records = args.records or (100_000 if args.quick else 1_000_000)
        print(f"(a) resident memory while streaming {records:,} small records (shuffle buffer 10,000)")
        print("  records      RSS MiB   records/s")
        for seen, rss, rate in case_memory(records):
            print(f"  {seen:>9,}  {rss:9.1f}  {rate:10,.0f}")
    if args.case in (None, "b"):
        images = args.images or (256 if args.quick else 1024)
        before = effective_cores()
        print_results([case_tar(images, args.runs or (2 if args.quick else 5))])
        after = effective_cores()
        print(f"  effective cores for two busy processes: {before:.2f} before, {after:.2f} after (2.00 = idle)")
    print(f"\n({time.perf_counter() - t0:.0f} s; {os.cpu_count()} CPUs; python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
