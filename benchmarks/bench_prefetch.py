"""Look-ahead per source kind: the bare ``DataLoader`` at prefetch 0, 1, 2, 4 and at its default.

One case per source kind, each a bare loader (no operator), batch 128, one epoch a run:
(a) device ``ArraySource`` (64x64x3 float32), (b) a synthetic dataset generated in the
loader's jitted step (``modalax_image`` ``SyntheticImageDataset``, 32x32x3), (c) host
``ArraySource(on_device=False)`` (64x64x3 float32), (d) an image folder of PNG files decoded
with Pillow (``ImageFolderDataset``, 32x32x3). The ratio column is against ``prefetch=0``;
the target is that the default is never more than 5% slower than it. Case (e) is a diagnostic:
the loader's per-batch host cost, from an identity step against a hand-written jitted gather.
Case (f) repeats (a), (c) and (d) with a consumer that works: a small jitted two-layer step on
each batch, waited for, as a training loop does (what a look-ahead exists to overlap with).

Rerun one case: ``python benchmarks/bench_prefetch.py --case a [--runs N] [--quick]``.
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
from common import BenchResult, Contender, block, drain, main, race

from modalax import ArraySource, DataLoader

BATCH = 128
DEPTHS = (0, 1, 2, 4)
CASES = "abcdef"
CMD = "python benchmarks/bench_prefetch.py --case {}"
DEFAULT_PREFETCH = inspect.signature(DataLoader).parameters["prefetch"].default


def _images(n: int, size: int) -> np.ndarray:
    return np.random.default_rng(0).random((n, size, size, 3), dtype=np.float32)


def _folder(n: int, tmp: Path) -> Any:
    from PIL import Image

    from modalax_image import ImageFolderDataset, ImageModalityConfig

    pixels = np.random.default_rng(0).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    for i, img in enumerate(pixels):
        Image.fromarray(img).save(tmp / f"{i:05d}.png")
    return ImageFolderDataset(ImageModalityConfig(height=32), tmp, split=None)


def _synthetic(n: int) -> Any:
    from modalax_image import ImageModalityConfig, SyntheticImageDataset

    return SyntheticImageDataset(ImageModalityConfig(height=32), n, "gradient", rngs=0)


def source_for(case: str, quick: bool, tmp: Path) -> tuple[str, Any]:
    """(description, source) of one source kind."""
    if case in "ae":
        n = 2_048 if quick else 10_000
        return f"device ArraySource, {n:,} x 64x64x3 float32", ArraySource({"images": jax.device_put(_images(n, 64))})
    if case == "b":
        n = 2_048 if quick else 10_240
        return f"synthetic SyntheticImageDataset('gradient'), {n:,} x 32x32x3", _synthetic(n)
    if case == "c":
        n = 2_048 if quick else 10_000
        return f"host ArraySource(on_device=False), {n:,} x 64x64x3 float32", ArraySource(
            {"images": _images(n, 64)}, on_device=False
        )
    n = 512 if quick else 2_048
    return f"image folder, {n:,} PNG files 32x32x3 (Pillow)", _folder(n, tmp)


def _contender(loader: DataLoader) -> Contender:
    return Contender(run=lambda: drain(loader), first=lambda: next(iter(loader)))


def sweep(case: str, quick: bool, runs: int, tmp: Path) -> BenchResult:
    """The bare loader over one source kind at every look-ahead depth, round-robin."""
    what, source = source_for(case, quick, tmp)
    items = len(source) // BATCH * BATCH
    contenders = {
        f"prefetch={p}{' (default)' if p == DEFAULT_PREFETCH else ''}": _contender(
            DataLoader(source, BATCH, drop_last=True, prefetch=p)
        )
        for p in DEPTHS
    }
    if DEFAULT_PREFETCH not in DEPTHS:  # e.g. "auto": its own row
        contenders[f"prefetch={DEFAULT_PREFETCH!r} (default)"] = _contender(DataLoader(source, BATCH, drop_last=True))
    res = BenchResult(
        f"({case}) bare loader over {what}, batch {BATCH}",
        "images/s",
        subject="prefetch=0",
        target="the default >= 0.95x prefetch=0",
        case=CMD.format(case),
    )
    res.add(race(contenders, items, runs))
    kind = "traceable: look-ahead in the calling thread" if getattr(source, "traceable", False) else "host: thread"
    res.notes = f"{kind}; {jax.default_backend()} backend; ratio column: prefetch=0 / row (below 1: the row is faster)"
    return res


def overhead(quick: bool, runs: int) -> BenchResult:
    """Per-batch host cost of the loader: identity step vs a hand-written jitted gather."""
    n = 2_048 if quick else 10_000
    data = jax.device_put(_images(n, 64))
    batches = n // BATCH
    take = jax.jit(lambda d, i: jnp.take(d, i, axis=0, mode="clip"))
    perm = np.random.default_rng(1).permutation(n).astype(np.int32)
    dev_perm = jax.device_put(perm)

    def per_batch_copy() -> Any:
        out = None
        for b in range(batches):
            out = take(data, perm[b * BATCH : (b + 1) * BATCH])
        return out

    def device_indices() -> Any:
        out = None
        for b in range(batches):
            out = take(data, dev_perm[b * BATCH : (b + 1) * BATCH])
        return out

    def dispatch_only() -> Any:  # the same compiled gather on one resident index row: no slicing, no copy
        idx = dev_perm[:BATCH]
        out = None
        for _ in range(batches):
            out = take(data, idx)
        return out

    contenders = {
        f"modalax bare loader, prefetch={p}": _contender(
            DataLoader(ArraySource({"images": data}), BATCH, drop_last=True, prefetch=p)
        )
        for p in (0, DEFAULT_PREFETCH)
    }
    contenders |= {
        "jitted gather, numpy indices per batch": Contender(per_batch_copy),
        "jitted gather, device indices sliced per batch": Contender(device_indices),
        "jitted gather, dispatch only (fixed indices)": Contender(dispatch_only),
    }
    res = BenchResult(
        f"(e) where the bare loader's time goes: {n:,} x 64x64x3 device ArraySource, batch {BATCH}",
        "images/s",
        subject=f"modalax bare loader, prefetch={DEFAULT_PREFETCH}",
        target="diagnostic",
        case=CMD.format("e"),
    )
    res.add(race(contenders, batches * BATCH, runs))
    us = {name: 1e6 * BATCH / t.median for name, t in res.timings.items()}
    res.notes = "microseconds per batch: " + "; ".join(f"{name} {v:.0f}" for name, v in us.items())
    return res


def with_step(quick: bool, runs: int, tmp: Path) -> list[BenchResult]:
    """Device arrays, host arrays and files at each depth, consumed by a jitted step per batch."""
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
        what, source = source_for(c, quick, tmp)
        res = BenchResult(
            f"(f{c}) with a training step: {what}, batch {BATCH}",
            "images/s",
            subject="prefetch=0",
            target="the default >= 0.95x prefetch=0",
            case=CMD.format("f"),
        )
        loaders = {p: DataLoader(source, BATCH, drop_last=True, prefetch=p) for p in DEPTHS}
        contenders = {
            f"prefetch={p}{' (default)' if p == DEFAULT_PREFETCH else ''}": Contender(
                run=lambda loader=loader: train(loader), first=lambda loader=loader: step(next(iter(loader))["images"])
            )
            for p, loader in loaders.items()
        }
        res.add(race(contenders, len(source) // BATCH * BATCH, runs))
        res.notes = "consumer: jitted 2-layer step (3072 -> 512 -> 3072) on each batch, waited for"
        results.append(res)
    return results


def run(quick: bool = False, runs: int | None = None, case: str | None = None) -> list[BenchResult]:
    """One result per source kind (and the overhead diagnostic)."""
    runs = runs or (3 if quick else 11)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for c in case or CASES:
            try:  # one failing source kind (a plugin mid-change) must not hide the others
                if c == "f":
                    results += with_step(quick, runs, Path(tmp))
                else:
                    results.append(overhead(quick, runs) if c == "e" else sweep(c, quick, runs, Path(tmp)))
            except Exception as exc:
                note = f"not run: {type(exc).__name__}: {str(exc)[:200]}"
                results.append(BenchResult(f"({c}) prefetch case {c}", "images/s", notes=note, case=CMD.format(c)))
    return results


if __name__ == "__main__":
    main(run, CASES)
