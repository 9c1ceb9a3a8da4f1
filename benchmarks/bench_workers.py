"""Decoding in worker processes: real 256x256 JPEGs -> 64x64 with a horizontal flip.

Contenders (images/s over one epoch's worth of batches, min/median/max of round-robin runs):

* ``Pillow loop``: one process, Pillow open/convert/resize/flip per file, no loader;
* ``DataLoader, workers=0``: the default host path (``get_records`` on the source's thread
  pool) with the image plugin's shipped ``FlipOperator``;
* ``DataLoader, workers=N``: the same loader decoding in N worker processes;
* ``grain mp_prefetch, N`` (``--grain``): grain's multiprocessing over the same batches, built
  once over endless epochs and timed after the race with nothing else running (its read-ahead
  cannot be settled, so in the round-robin its workers decoded during the others' turns).

Loaders run steady state: one iterator over endless epochs, each timed run takes one epoch's
worth of batches, so the workers stay ahead across epoch boundaries as they do in training; a
run ends when its read-ahead is complete again (``LoaderIterator.settle``), so it is timed from
a full pipeline to a full pipeline and none of its decoding runs in another contender's time.
The physical limit is ``Pillow loop in N processes``: the same loop on 1/N of the files in
each of N processes, returning nothing, the most N cores give without moving a batch. Worker
start-up (spawn, importing jax and the plugin) is the first-call column. Run:
``python benchmarks/bench_workers.py --images 512 --workers 1,2`` (``1,2,4,8,16`` on many cores).
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from common import BenchResult, Contender, Timing, block, print_results, race, rates_of, steady_allocator
from PIL import Image


def write_jpegs(root: Path, n: int, size: int = 256) -> list[Path]:
    """``n`` photo-like JPEGs (smooth gradients plus noise) written by Pillow."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    paths = []
    for i in range(n):
        base = np.stack([xx * rng.random(), yy * rng.random(), (xx + yy) / 2 * rng.random()], -1) * 255
        pixels = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
        path = root / f"img_{i:05d}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    return paths


def pillow_epoch(paths: list[Path], size: int) -> int:
    """The plain loop: decode, resize, flip and scale every file; the number of images."""
    for p in paths:
        with Image.open(p) as im:
            im = im.convert("RGB").resize((size, size), Image.BILINEAR).transpose(Image.FLIP_LEFT_RIGHT)
            np.asarray(im, np.float32) / 255.0
    return len(paths)


def pillow_processes(paths: list[Path], size: int, n: int, closers: list[Callable[[], Any]]) -> Callable[[], int]:
    """The limit: ``pillow_epoch`` on 1/n of the files in each of n processes (started once)."""
    pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"))
    closers.append(pool.shutdown)
    parts = [paths[i::n] for i in range(n)]
    return lambda: sum(pool.map(pillow_epoch, parts, [size] * n))


def loader_run(dataset: Any, batch: int, workers: int, closers: list[Callable[[], Any]]) -> Contender:
    """The default ``DataLoader`` with the shipped flip, steady state: one epoch of batches per run."""
    import modalax
    from modalax_image import FlipConfig, FlipOperator

    flip = FlipOperator(FlipConfig(stochastic=False))
    loader = modalax.DataLoader(dataset, batch, num_epochs=None, operators=[flip], workers=workers)
    closers.append(loader.close)
    per_epoch = -(-len(dataset) // batch)
    its: list[Any] = []

    def first() -> Any:  # starts the workers: spawn and imports are this contender's first call
        its.append(iter(loader))
        return block(next(its[0])["images"])

    def run() -> Any:
        last = block([b["images"] for b in itertools.islice(its[0], per_epoch)][-1])
        its[0].settle()  # the read-ahead is this contender's work: never left to run in the next one's time
        return last

    return Contender(run=run, first=first)


def grain_alone(dataset: Any, batches: list[np.ndarray], workers: int, items: int, runs: int) -> dict[str, Timing]:
    """grain's ``mp_prefetch`` with nothing else running: built, timed over consecutive epochs, closed.

    Its read-ahead cannot be settled between runs: raced round-robin, its worker processes kept
    decoding during the other contenders' turns, which flattered grain (above the two-process
    limit) and slowed the others.
    """
    closers: list[Callable[[], Any]] = []
    try:
        timing = rates_of(grain_run(dataset, batches, workers, closers).run, items, runs)
    finally:
        for close in closers:
            close()
    return {f"grain mp_prefetch, {workers} workers (timed alone)": timing}


def grain_run(dataset: Any, batches: list[np.ndarray], workers: int, closers: list[Callable[[], Any]]) -> Contender:
    """grain's ``mp_prefetch`` built once over endless epochs of the same batches (steady state)."""
    import grain
    import jax
    from absl import flags

    from modalax_image import kernels

    flags.FLAGS.mark_as_parsed()  # grain's mp_prefetch reads absl flags (normally parsed by absl.app)
    flip = jax.jit(lambda x: kernels.flip(x, True, "horizontal"))
    data = grain.MapDataset.source(batches).repeat(None).map(dataset.get_records).to_iter_dataset()
    it = iter(data.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers)))
    closers.append(it.close)

    def run() -> Any:
        return block([flip(records["images"]) for records in itertools.islice(it, len(batches))][-1])

    return Contender(run=run)


def run_case(images: int, batch: int, size: int, counts: list[int], runs: int, grain: bool) -> BenchResult:
    """Build every contender once, race them, and return the case (subject: the most workers)."""
    from modalax_image import ImageFolderDataset
    from modalax_image.config import ImageModalityConfig

    res = BenchResult(
        f"{images} JPEGs 256x256 -> {size}x{size} + flip, batch {batch}",
        "images/s",
        subject=f"DataLoader, workers={max(counts)}",
        target=">= 1.7x the Pillow loop and >= 1.7x workers=0 with 2 workers on 2 cores",
    )
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_jpegs(Path(tmp), images)
        dataset = ImageFolderDataset(ImageModalityConfig(height=size), tmp, split=None)
        closers: list[Callable[[], Any]] = []
        contenders: dict[str, Contender] = {"Pillow loop": Contender(lambda: pillow_epoch(paths, size))}
        limits = {n: pillow_processes(paths, size, n, closers) for n in counts if n > 1}
        contenders.update({f"Pillow loop in {n} processes (limit)": Contender(f) for n, f in limits.items()})
        for n in [0, *counts]:
            contenders[f"DataLoader, workers={n}"] = loader_run(dataset, batch, n, closers)
        try:
            res.add(race(contenders, images, runs))
        finally:
            for close in closers:  # before the files go: workers decode ahead
                close()
        batches = [np.arange(i, min(i + batch, images)) for i in range(0, images, batch)]
        for n in counts if grain else []:
            res.add(grain_alone(dataset, batches, n, images, runs))
    top = max(counts)
    if top > 1:
        res.limit = (f"the Pillow loop in {top} processes", res.rows[f"Pillow loop in {top} processes (limit)"])
    res.notes = (
        f"workers={top}: {res.ratio('Pillow loop'):.2f}x the Pillow loop, "
        f"{res.ratio('DataLoader, workers=0'):.2f}x workers=0."
    )
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--grain", action="store_true", help="also time grain's mp_prefetch")
    args = parser.parse_args()
    steady_allocator()
    counts = [int(w) for w in args.workers.split(",")]
    print_results([run_case(args.images, args.batch, args.size, counts, args.runs, args.grain)])


if __name__ == "__main__":
    main()
