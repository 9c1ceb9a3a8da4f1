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
each of N processes, returning nothing, the most N cores give without moving a batch. Run:
``python benchmarks/bench_workers.py --images 512 --workers 1,2`` (``1,2,4,8,16`` on many cores).

Start-up (``--startup R``) is timed apart, each contender in a fresh process (the fork server
lives as long as the interpreter, and a warm one would flatter every later run), ``R`` rounds,
round-robin: the script's own imports done (jax, the plugin, torch), the clock runs from
building the loader to its first batch, then to the end of three epochs (what a short run pays
end to end). Contenders: ``DataLoader`` with ``workers=0``, ``workers=2`` (fork server) and
``workers=2, start_method="spawn"``; a bare ``WorkerPool(workers=2)`` to its first result (the
workers' own start-up, which the loader hides by reading in its process meanwhile); torch's
``DataLoader`` with ``num_workers=0`` and ``2`` (fork, torch's default on Linux), reading the same
dataset through ``__getitems__`` (one ``get_records`` call per batch, as the workers do) with the
same jitted flip in the main process. Run: ``python benchmarks/bench_workers.py --startup 5``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
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


STARTUP = {
    "DataLoader, workers=0": ("modalax", 0, "forkserver"),
    "DataLoader, workers=2 (fork server)": ("modalax", 2, "forkserver"),
    'DataLoader, workers=2, start_method="spawn"': ("modalax", 2, "spawn"),
    "WorkerPool(workers=2) alone, to its first result": ("pool", 2, "forkserver"),
    'WorkerPool(workers=2, start_method="spawn") alone': ("pool", 2, "spawn"),
    "torch DataLoader, num_workers=0": ("torch", 0, ""),
    "torch DataLoader, num_workers=2 (fork)": ("torch", 2, "fork"),
}
EPOCHS = 3


def startup_child(kind: str, workers: int, method: str, folder: str, batch: int, size: int) -> dict[str, float]:
    """One start-up measurement in this (fresh) process: seconds to the first batch and to 3 epochs."""
    import jax
    import jax.numpy as jnp

    import modalax
    from modalax_image import FlipConfig, FlipOperator, ImageFolderDataset, kernels
    from modalax_image.config import ImageModalityConfig

    if kind == "torch":
        import torch  # imported before the clock, as a script imports it at its top

    dataset = ImageFolderDataset(ImageModalityConfig(height=size), folder, split=None)
    flip = jax.jit(lambda x: kernels.flip(x, True, "horizontal"))  # compiled in the clock, as the loader's step
    t0 = time.perf_counter()
    if kind == "pool":
        with modalax.WorkerPool(dataset, workers, start_method=method) as pool:
            pool.submit(np.arange(batch)).result()
            first = time.perf_counter() - t0
        return {"first_s": first}
    if kind == "modalax":
        op = FlipOperator(FlipConfig(stochastic=False))
        loader: Any = modalax.DataLoader(
            dataset, batch, operators=[op], workers=workers, start_method=method, num_epochs=EPOCHS
        )
        batches = (b["images"] for b in loader)
    else:
        indexed = _TorchView(dataset)
        loader = torch.utils.data.DataLoader(
            indexed,
            batch_size=batch,
            shuffle=True,
            num_workers=workers,
            collate_fn=_identity,
            multiprocessing_context=method or None,
            persistent_workers=workers > 0,
        )
        batches = (flip(jnp.asarray(b["images"])) for _ in range(EPOCHS) for b in loader)
    it = iter(batches)
    block(next(it))
    first = time.perf_counter() - t0
    for b in it:
        block(b)
    total = time.perf_counter() - t0
    if kind == "modalax":
        loader.close()
    return {"first_s": first, "total_s": total}


class _TorchView:
    """The dataset as torch sees it: ``__getitems__`` reads a batch with one ``get_records`` call."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Any:
        return self.dataset.get_records(np.asarray([i]))

    def __getitems__(self, indices: list[int]) -> Any:
        return self.dataset.get_records(np.asarray(indices))


def _identity(batch: Any) -> Any:
    return batch


def run_startup(images: int, batch: int, size: int, rounds: int) -> None:
    """Every start-up contender in a fresh process, ``rounds`` rounds round-robin; prints min/median/max."""
    with tempfile.TemporaryDirectory() as tmp:
        write_jpegs(Path(tmp), images)
        got: dict[str, dict[str, list[float]]] = {name: {} for name in STARTUP}
        for _ in range(rounds):
            for name, (kind, workers, method) in STARTUP.items():
                time.sleep(1.0)  # the previous contender's processes end
                args = [sys.executable, __file__, "--child", f"{kind},{workers},{method}", "--folder", tmp]
                args += ["--batch", str(batch), "--size", str(size)]
                out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=600)
                for key, value in json.loads(out.stdout.strip().splitlines()[-1]).items():
                    got[name].setdefault(key, []).append(value)
    print(f"\nstart-up: {images} JPEGs 256x256 -> {size}x{size} + flip, batch {batch}, {rounds} fresh processes each")
    print(f"  {'contender':58s} {'first batch s (min..max)':>28s}   {EPOCHS} epochs s (min..max)")
    for name, values in got.items():
        cells = []
        for key in ("first_s", "total_s"):
            v = values.get(key)
            cells.append(f"{statistics.median(v):6.2f} ({min(v):.2f}..{max(v):.2f})" if v else "")
        print(f"  {name:58s} {cells[0]:>28s}   {cells[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--grain", action="store_true", help="also time grain's mp_prefetch")
    parser.add_argument("--startup", type=int, default=0, help="time start-up in R fresh processes each, only")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    steady_allocator()
    if args.child:
        kind, workers, method = args.child.split(",")
        print(json.dumps(startup_child(kind, int(workers), method, args.folder, args.batch, args.size)))
        return
    if args.startup:
        run_startup(args.images, args.batch, args.size, args.startup)
        return
    counts = [int(w) for w in args.workers.split(",")]
    print_results([run_case(args.images, args.batch, args.size, counts, args.runs, args.grain)])


if __name__ == "__main__":
    main()
