"""Look-ahead per source kind: the bare ``DataLoader`` at prefetch 0, 1, 2, 4 and at its default.

One case per source kind, each a bare loader (no operator), batch 128, at two sizes whose
working sets differ (``large``: out of any cache; ``small``: within a server's L3 cache):
(a) device ``ArraySource`` (64x64x3 / 16x16x3 float32), (b) a synthetic dataset generated in
the loader's jitted step (``modalax_image`` ``SyntheticImageDataset``, 64x64x3 / 16x16x3),
(c) host ``ArraySource(on_device=False)`` (64x64x3 / 16x16x3 float32), (d) an image folder of
PNG files decoded with Pillow (``ImageFolderDataset``, 64x64x3 / 16x16x3). The ratio columns
are against ``prefetch=0``; the target is that the default is never more than 3% slower than
it. Every table also races a memory copy of the bytes the batches hold (``np.copyto`` of
batch-sized blocks): the limit, so that a reader sees which cases memory bandwidth sets.
Case (e) is a diagnostic: where the bare loader's time goes, at both sizes, against the pieces
timed alone. Case (f) repeats (a), (c) and (d) at the large size with a consumer that works: a
small jitted two-layer step on each batch, waited for, as a training loop does (what a
look-ahead exists to overlap with).

Rerun one case: ``python benchmarks/bench_prefetch.py --case a [--size large|small] [--runs N] [--quick]``.
"""

from __future__ import annotations

import inspect
import sys
import tempfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult, Contender, block, copy_limit, drain, main, race

from modalax import ArraySource, DataLoader

BATCH = 128
DEPTHS = (0, 1, 2, 4)
CASES = "abcdef"
CMD = "python benchmarks/bench_prefetch.py --case {} --size {}"
DEFAULT_PREFETCH = inspect.signature(DataLoader).parameters["prefetch"].default
LIMIT = "memory copy"  # the race's name for the limit (common.copy_limit names it in the table)
#: size -> (image side, records of an array source, epochs a run, PNG files of a folder)
SIZES = {"large": (64, 10_000, 1, 1_024), "small": (16, 4_096, 8, 2_048)}
QUICK = {"large": (64, 2_048, 1, 256), "small": (16, 1_024, 2, 512)}


def _images(n: int, size: int) -> np.ndarray:
    return np.random.default_rng(0).random((n, size, size, 3), dtype=np.float32)


def _folder(n: int, side: int, tmp: Path) -> Any:
    from PIL import Image

    from modalax_image import ImageFolderDataset, ImageModalityConfig

    root = tmp / f"png{side}"
    root.mkdir(exist_ok=True)
    pixels = np.random.default_rng(0).integers(0, 256, (n, side, side, 3), dtype=np.uint8)
    for i, img in enumerate(pixels):
        Image.fromarray(img).save(root / f"{i:05d}.png")
    return ImageFolderDataset(ImageModalityConfig(height=side), root, split=None)


def _synthetic(n: int, side: int) -> Any:
    from modalax_image import ImageModalityConfig, SyntheticImageDataset

    return SyntheticImageDataset(ImageModalityConfig(height=side), n, "gradient", rngs=0)


def source_for(case: str, size: str, quick: bool, tmp: Path) -> tuple[str, Any, int]:
    """(description, source, epochs a run) of one source kind at one size."""
    side, n, epochs, files = (QUICK if quick else SIZES)[size]
    mb = n * side * side * 12 / 1e6
    if case in "ae":
        what = f"device ArraySource, {size}: {n:,} x {side}x{side}x3 float32 ({mb:,.1f} MB)"
        return what, ArraySource({"images": jax.device_put(_images(n, side))}), epochs
    if case == "b":
        n = n // BATCH * BATCH
        return (
            f"synthetic SyntheticImageDataset('gradient'), {size}: {n:,} x {side}x{side}x3",
            _synthetic(n, side),
            epochs,
        )
    if case == "c":
        what = f"host ArraySource(on_device=False), {size}: {n:,} x {side}x{side}x3 float32 ({mb:,.1f} MB)"
        return what, ArraySource({"images": _images(n, side)}, on_device=False), epochs
    return f"image folder, {size}: {files:,} PNG files {side}x{side}x3 (Pillow)", _folder(files, side, tmp), 1


def _contender(loader: DataLoader) -> Contender:
    return Contender(run=lambda: drain(loader), first=lambda: next(iter(loader)))


def _limit(source: Any, batches: int) -> tuple[str, Contender]:
    """The copy of the bytes ``batches`` batches over ``source`` hold, from an array of as many records."""
    first = next(iter(DataLoader(source, BATCH, drop_last=True, prefetch=0)))
    leaves = [np.asarray(v) for v in jax.tree.leaves(first)]
    record_bytes = sum(v[0].nbytes for v in leaves)
    records = len(source)
    data = np.random.default_rng(0).integers(0, 256, (records, record_bytes), dtype=np.uint8)
    return copy_limit(data, BATCH, batches)


def _default_name(source: Any) -> str:
    resolved = DataLoader(source, BATCH).prefetch
    return f"prefetch={DEFAULT_PREFETCH!r} (default; {resolved} here)"


def sweep(case: str, size: str, quick: bool, runs: int, tmp: Path) -> BenchResult:
    """The bare loader over one source kind at every look-ahead depth, round-robin, with the copy limit."""
    what, source, epochs = source_for(case, size, quick, tmp)
    batches = len(source) // BATCH * epochs
    contenders = {
        f"prefetch={p}": _contender(DataLoader(source, BATCH, drop_last=True, prefetch=p, num_epochs=epochs))
        for p in DEPTHS
    }
    contenders[_default_name(source)] = _contender(DataLoader(source, BATCH, drop_last=True, num_epochs=epochs))
    limit, contenders[LIMIT] = _limit(source, batches)
    res = BenchResult(
        f"({case}) bare loader over {what}, batch {BATCH}" + (f", {epochs} epochs a run" if epochs > 1 else ""),
        "images/s",
        subject="prefetch=0",
        target="the default >= 0.97x prefetch=0",
        case=CMD.format(case, size),
    )
    timings = race(contenders, batches * BATCH, runs)
    res.set_limit(limit, timings.pop(LIMIT))
    res.add(timings)
    kind = "traceable: look-ahead in the calling thread" if getattr(source, "traceable", False) else "host: thread"
    res.notes = f"{kind}; {jax.default_backend()} backend; ratio columns: prefetch=0 / row (below 1: the row is faster)"
    return res


def overhead(size: str, quick: bool, runs: int) -> BenchResult:
    """Per-batch cost of the bare loader against the pieces of a batch timed alone."""
    side, n, epochs, _ = (QUICK if quick else SIZES)[size]
    data_np = _images(n, side)
    data = jax.device_put(data_np)
    view = np.asarray(data)  # the device buffer itself on the CPU backend (a copy on an accelerator)
    batches = n // BATCH
    perms = [np.random.default_rng(1 + e).permutation(n).astype(np.int32) for e in range(epochs)]
    clip = jax.jit(lambda d, i: jnp.take(d, i, axis=0, mode="clip"))
    fill = jax.jit(lambda d, i: jnp.take(d, i, axis=0, mode="fill"))
    dev_perms = [jax.device_put(p) for p in perms]

    def per_batch(fn: Any, perms: list[Any], src: Any) -> Any:
        def run() -> Any:
            out = None
            for perm in perms:
                for b in range(batches):
                    out = fn(src, perm[b * BATCH : (b + 1) * BATCH])
            return out

        return run

    def dispatch_only() -> Any:  # the compiled gather on one resident index row: no slicing, no copy
        idx = dev_perms[0][:BATCH]
        out = None
        for _ in range(batches * epochs):
            out = fill(data, idx)
        return out

    def host_gather(v: np.ndarray, idx: np.ndarray) -> jax.Array:
        nbytes = len(idx) * v[0].nbytes
        raw = np.empty(nbytes + 64, np.uint8)
        start = -raw.ctypes.data % 64  # XLA's CPU client adopts a 64-byte aligned buffer without a copy
        out = raw[start : start + nbytes].view(v.dtype).reshape((len(idx), *v.shape[1:]))
        return jax.device_put(np.take(v, idx, axis=0, out=out, mode="clip"))

    contenders = {
        "modalax bare loader (defaults)": _contender(
            DataLoader(ArraySource({"images": data}), BATCH, drop_last=True, num_epochs=epochs)
        ),
        "jitted gather, fill mode (the loader's), numpy indices per batch": Contender(per_batch(fill, perms, data)),
        "jitted gather, clip mode (ArraySource's), numpy indices per batch": Contender(per_batch(clip, perms, data)),
        "jitted gather, fill mode, device indices sliced per batch": Contender(per_batch(fill, dev_perms, data)),
        "jitted gather, fill mode, dispatch only (fixed device indices)": Contender(dispatch_only),
        "numpy fancy indexing (no jax array)": Contender(per_batch(lambda v, i: v[i], perms, view)),
        "numpy gather into an aligned buffer + jax.device_put": Contender(per_batch(host_gather, perms, view)),
    }
    limit, contenders[LIMIT] = copy_limit(data_np, BATCH, batches * epochs)
    res = BenchResult(
        f"(e) where the bare loader's time goes, {size}: {n:,} x {side}x{side}x3 device ArraySource, batch {BATCH}",
        "images/s",
        subject="modalax bare loader (defaults)",
        target="diagnostic",
        case=CMD.format("e", size),
    )
    timings = race(contenders, batches * BATCH * epochs, runs)
    res.set_limit(limit, timings.pop(LIMIT))
    res.add(timings)
    us = {name: 1e6 * BATCH / t.median for name, t in res.timings.items()}
    res.notes = "microseconds per batch (medians): " + "; ".join(f"{name} {v:.0f}" for name, v in us.items())
    res.notes += f"; memory copy {1e6 * BATCH / res.limit_timing.median:.0f}" if res.limit_timing else ""
    return res


def with_step(quick: bool, runs: int, tmp: Path) -> list[BenchResult]:
    """Device arrays, host arrays and files at each depth, consumed by a jitted step per batch (large size)."""
    w = jax.device_put(np.random.default_rng(0).random((3072, 512), dtype=np.float32) / 100)

    @jax.jit
    def step(x: jax.Array) -> jax.Array:
        h = jnp.tanh(x[:, :32, :32].reshape(x.shape[0], -1) @ w)
        return jnp.sum(h @ w.T)

    def train(loader: DataLoader) -> Any:
        out = None
        for batch in loader:
            out = block(step(batch["images"]))
        return out

    results = []
    for c in "acd":
        what, source, _ = source_for(c, "large", quick, tmp)
        res = BenchResult(
            f"(f{c}) with a training step: {what}, batch {BATCH}",
            "images/s",
            subject="prefetch=0",
            target="the default >= 0.97x prefetch=0",
            case=CMD.format("f", "large"),
        )
        loaders = {f"prefetch={p}": DataLoader(source, BATCH, drop_last=True, prefetch=p) for p in DEPTHS}
        loaders[_default_name(source)] = DataLoader(source, BATCH, drop_last=True)
        contenders = {
            name: Contender(
                run=lambda loader=loader: train(loader), first=lambda loader=loader: step(next(iter(loader))["images"])
            )
            for name, loader in loaders.items()
        }
        res.add(race(contenders, len(source) // BATCH * BATCH, runs))
        res.notes = "consumer: jitted 2-layer step (3072 -> 512 -> 3072) on each batch, waited for"
        results.append(res)
    return results


def run(
    quick: bool = False, runs: int | None = None, case: str | None = None, size: str | None = None
) -> list[BenchResult]:
    """One result per source kind and size (and the overhead diagnostic, and the training-step cases)."""
    runs = runs or (3 if quick else 11)
    sizes = [size] if size else list(SIZES)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for c in case or CASES:
            for s in sizes if c != "f" else ["large"]:
                try:  # one failing source kind (a plugin mid-change) must not hide the others
                    if c == "f":
                        results += with_step(quick, runs, Path(tmp))
                    else:
                        results.append(overhead(s, quick, runs) if c == "e" else sweep(c, s, quick, runs, Path(tmp)))
                except Exception as exc:
                    note = f"not run: {type(exc).__name__}: {str(exc)[:200]}"
                    results.append(
                        BenchResult(f"({c}) prefetch case {c}, {s}", "images/s", notes=note, case=CMD.format(c, s))
                    )
    return results


if __name__ == "__main__":
    main(run, CASES)
