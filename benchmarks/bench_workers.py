"""Decoding in worker processes: real 256x256 JPEGs -> 64x64 with a horizontal flip.

Contenders (images/s over one epoch, min/median/max of round-robin runs):

* ``pillow loop``: one process, Pillow open/convert/resize/flip per file;
* ``thread pool``: today's host path (``dataset.get_records`` on its thread pool, ``workers=0``);
* ``pool N``: ``modalax.loader.workers.WorkerPool`` with N processes (``imap`` over the epoch);
* ``grain N`` (``--grain``): grain's ``mp_prefetch`` over the same batches, a new iterator
  (new processes) per epoch, as a loader pass would need.

The loader and pool contenders flip with the image plugin's jitted ``flip`` kernel. Startup
(spawning the workers) is reported apart from the epoch rate. Run:
``python benchmarks/bench_workers.py --images 512 --workers 1,2`` (``1,2,4,8,16`` on many cores).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
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
    for p in paths:
        with Image.open(p) as im:
            im = im.convert("RGB").resize((size, size), Image.BILINEAR).transpose(Image.FLIP_LEFT_RIGHT)
            np.asarray(im, np.float32) / 255.0
    return len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--grain", action="store_true", help="also time grain's mp_prefetch")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]

    import jax

    from modalax.loader.workers import WorkerPool
    from modalax_image import ImageFolderDataset, kernels
    from modalax_image.config import ImageModalityConfig

    flip = jax.jit(lambda x: kernels.flip(x, True, "horizontal"))
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_jpegs(Path(tmp), args.images)
        ds = ImageFolderDataset(ImageModalityConfig(height=args.size), tmp, split=None)
        batches = [np.arange(i, min(i + args.batch, len(ds))) for i in range(0, len(ds), args.batch)]

        def thread_epoch() -> int:
            for b in batches:
                jax.block_until_ready(flip(ds.get_records(b)["images"]))
            return len(ds)

        contenders: dict[str, Callable[[], int]] = {
            "pillow loop": lambda: pillow_epoch(paths, args.size),
            "thread pool (workers=0)": thread_epoch,
        }
        pools, startup = [], {}
        for n in counts:
            t0 = time.perf_counter()
            pool = WorkerPool(ds, n)
            pool.submit(batches[0][:1]).result()  # every worker has started once a batch returns
            startup[f"pool {n}"] = time.perf_counter() - t0
            pools.append(pool)

            def pool_epoch(pool: WorkerPool = pool) -> int:
                for records in pool.imap(batches):
                    jax.block_until_ready(flip(records["images"]))
                return len(ds)

            contenders[f"pool {n}"] = pool_epoch
        if args.grain:
            import grain
            from absl import flags

            flags.FLAGS.mark_as_parsed()  # grain's mp_prefetch reads absl flags (normally parsed by absl.app)

            for n in counts:

                def grain_epoch(n: int = n) -> int:
                    data = grain.MapDataset.source(batches).map(ds.get_records).to_iter_dataset()
                    it = iter(data.mp_prefetch(grain.MultiprocessingOptions(num_workers=n)))
                    for records in it:
                        jax.block_until_ready(flip(records["images"]))
                    it.close()
                    return len(ds)

                contenders[f"grain {n} (new processes per epoch)"] = grain_epoch

        for run in contenders.values():  # warm-up: jit, page cache, the template of each copy
            run()
        rates: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.runs):
            for name, run in contenders.items():
                t0 = time.perf_counter()
                n = run()
                rates[name].append(n / (time.perf_counter() - t0))
        for pool in pools:
            pool.close()

    base = statistics.median(rates["pillow loop"])
    threads = statistics.median(rates["thread pool (workers=0)"])
    print(f"{args.images} JPEGs 256x256 -> {args.size}x{args.size} + flip, batch {args.batch}, {args.runs} runs")
    print(f"{'contender':<36} {'median':>8} {'min':>8} {'max':>8} {'x pillow':>9} {'x threads':>10} {'startup s':>10}")
    for name, r in rates.items():
        med = statistics.median(r)
        start = f"{startup[name]:.1f}" if name in startup else "-"
        print(f"{name:<36} {med:8.0f} {min(r):8.0f} {max(r):8.0f} {med / base:9.2f} {med / threads:10.2f} {start:>10}")


if __name__ == "__main__":
    main()
