"""Loader + shipped image operators: modalax at defaults against hand-written jax, datarax, grain and numpy.

10,000 float32 images of 64x64x3, global batch 128, one epoch a run, drop_last:
(a) ``modalax_image`` Brightness + Contrast (clip to [0, 1]), (b) the same + GaussianNoise,
(c) no operator (the bare loader). modalax is ``DataLoader`` at its default settings over a
device ``ArraySource``. The hand-written reference is one ``jax.jit(vmap)`` call per batch that
computes exactly what the shipped operators compute (same keys, per-channel mean, clipping):
the script checks that both give the same batch before timing. Its contrast mean is ``jnp.mean``,
as one writes it by hand; the shipped kernel sums in a fixed pairwise order
(``modalax.plugin.pairwise_mean``), and an extra row runs the reference with that mean, so the table shows
how much of the lead is the kernel and how much is the loader. Peers are built once and warmed.

Rerun one case: ``python benchmarks/bench_loader.py --case a [--runs N] [--quick]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult, Contender, block, drain, main, race, rates_of

from modalax import ArraySource, DataLoader
from modalax.plugin import pairwise_mean

N, H, W, C, BATCH = 10_000, 64, 64, 3, 128
DELTA, LOWER, UPPER, STD = 0.2, 0.8, 1.2, 0.05
CASES = "abc"
TITLES = {"a": "brightness + contrast (clip)", "b": "brightness + contrast + noise (clip)", "c": "no operator"}
CMD = "python benchmarks/bench_loader.py --case {}"


def shipped_ops(case: str) -> list[Any]:
    """The plugin's operators, as a user builds them."""
    from modalax_image import (
        BrightnessConfig,
        BrightnessOperator,
        ContrastConfig,
        ContrastOperator,
        GaussianNoiseConfig,
        GaussianNoiseOperator,
    )

    rngs = nnx.Rngs(0, augment=1)
    clip = (0.0, 1.0)
    ops: list[Any] = []
    if case in "ab":
        ops += [
            BrightnessOperator(BrightnessConfig(field_key="image", max_delta=DELTA, clip_range=clip), rngs=rngs),
            ContrastOperator(ContrastConfig(field_key="image", lower=LOWER, upper=UPPER, clip_range=clip), rngs=rngs),
        ]
    if case == "b":
        ops.append(GaussianNoiseOperator(GaussianNoiseConfig(field_key="image", std=STD, clip_range=clip), rngs=rngs))
    return ops


def reference(case: str, pairwise: bool = False) -> Any:
    """Hand-written ``jax.jit(vmap)`` of the shipped operators' function, one call per batch.

    Record ``i`` of an epoch gets the key ``fold_in(epoch_key, i)``; operator ``j`` of the chain
    folds in ``j`` (as ``Compose`` does); contrast uses the per-channel mean over height and width,
    with ``jnp.mean`` (what one writes by hand) or, for the extra row, the shipped kernel's
    ``modalax._src.reductions.pairwise_mean``.
    """

    def one(x: jax.Array, key: jax.Array) -> jax.Array:
        if case in "ab":
            d = jax.random.uniform(jax.random.fold_in(key, 0), (1,), jnp.float32, -DELTA, DELTA)[0]
            x = jnp.clip(x + d, 0.0, 1.0)
            f = jax.random.uniform(jax.random.fold_in(key, 1), (1,), jnp.float32, LOWER, UPPER)[0]
            m = pairwise_mean(x, (0, 1), True) if pairwise else jnp.mean(x, axis=(0, 1), keepdims=True)
            x = jnp.clip((x - m) * f + m, 0.0, 1.0)
        if case == "b":
            k = jax.random.split(jax.random.fold_in(key, 2), 1)[0]
            x = jnp.clip(x + jax.random.normal(k, x.shape, jnp.float32) * STD, 0.0, 1.0)
        return x

    @jax.jit
    def step(data: jax.Array, idx: jax.Array, epoch_key: jax.Array) -> jax.Array:
        batch = jnp.take(data, idx, axis=0)
        if case == "c":
            return batch
        return jax.vmap(one)(batch, jax.vmap(lambda i: jax.random.fold_in(epoch_key, i))(idx))

    return step


def _check_same(case: str, data: jax.Array, step: Any, ops: list[Any]) -> None:
    loader = DataLoader(ArraySource({"image": data}), BATCH, drop_last=True, operators=ops, with_indices=True)
    batch = next(iter(loader))
    ref = step(data, np.asarray(batch["index"]), loader.epoch_key(0))
    err = float(jnp.max(jnp.abs(batch["image"] - ref)))
    assert err <= 1e-6, f"case {case}: the hand-written reference differs from the shipped operators by {err}"


def _loader_contender(loader: DataLoader) -> Contender:
    return Contender(run=lambda: drain(loader), first=lambda: next(iter(loader)))


def _reference_contender(step: Any, data: jax.Array, key: jax.Array) -> Contender:
    def run() -> Any:
        perm = np.random.default_rng(1).permutation(N).astype(np.int32)
        out = None
        for b in range(N // BATCH):
            out = step(data, perm[b * BATCH : (b + 1) * BATCH], key)
        return out

    return Contender(run=run, first=lambda: step(data, np.arange(BATCH, dtype=np.int32), key))


def numpy_epoch(data: np.ndarray, seed: int) -> np.ndarray:
    """numpy permutation + fancy indexing: what a bare loader must at least match."""
    perm = np.random.default_rng(seed).permutation(N)
    out = data[:0]
    for b in range(N // BATCH):
        out = data[perm[b * BATCH : (b + 1) * BATCH]]
    return out


def copy_limit(data: np.ndarray, runs: int) -> float:
    """Images/s of plain contiguous ``np.copyto`` of batch-sized blocks: the memory-copy ceiling."""
    out = np.empty((BATCH, *data.shape[1:]), data.dtype)

    def run() -> None:
        for b in range(N // BATCH):
            np.copyto(out, data[b * BATCH : (b + 1) * BATCH])

    return max(rates_of(run, (N // BATCH) * BATCH, runs).rates)


def run(quick: bool = False, runs: int | None = None, case: str | None = None) -> list[BenchResult]:
    """Throughputs (images/s) of each case, side by side."""
    global N
    N = 2_048 if quick else 10_000
    runs = runs or (3 if quick else 11)
    data_np = np.random.default_rng(0).random((N, H, W, C), dtype=np.float32)
    data = jax.device_put(data_np)
    items = (N // BATCH) * BATCH
    results = []
    for c in case or CASES:
        res = BenchResult(
            f"({c}) {TITLES[c]}, {N:,} images 64x64x3, batch {BATCH}",
            "images/s",
            target={"a": ">= 1.2x hand-written", "b": ">= 1.0x hand-written", "c": ">= 0.9x numpy"}[c],
            case=CMD.format(c),
        )
        ops = shipped_ops(c)
        step = reference(c)
        if c != "c":  # with its own jit, so that the timed reference's first call compiles
            _check_same(c, data, reference(c), ops)
        key = DataLoader(ArraySource({"image": data}), BATCH).epoch_key(0)
        contenders = {
            "modalax (DataLoader defaults)": _loader_contender(
                DataLoader(ArraySource({"image": data}), BATCH, drop_last=True, operators=ops)
            ),
            "hand-written jax.jit(vmap), per batch": _reference_contender(step, data, key),
        }
        contenders["modalax, prefetch=0"] = _loader_contender(
            DataLoader(ArraySource({"image": data}), BATCH, drop_last=True, operators=ops, prefetch=0)
        )
        if c != "c":  # the same reduction as the shipped kernel: what is left is the loader's own cost
            contenders["extra: the same step with modalax._src.reductions.pairwise_mean"] = _reference_contender(
                reference(c, pairwise=True), data, key
            )
        if c == "c":
            contenders["numpy permutation + fancy indexing"] = Contender(lambda: numpy_epoch(data_np, 0))
        res.subject = "modalax (DataLoader defaults)"
        res.add(race(contenders, items, runs))
        if c == "c":
            res.limit = ("memory copy (np.copyto of batch blocks, same run)", copy_limit(data_np, runs))
        _datarax_rows(res, c, data_np, items, max(2, runs // 2))
        _grain_row(res, c, data_np, items, max(2, runs // 2))
        results.append(res)
    return results


def _datarax_ops(case: str, rngs: nnx.Rngs) -> list[Any]:
    from datarax.operators.modality.image.brightness_operator import BrightnessOperator, BrightnessOperatorConfig
    from datarax.operators.modality.image.contrast_operator import ContrastOperator, ContrastOperatorConfig
    from datarax.operators.modality.image.noise_operator import NoiseOperator, NoiseOperatorConfig

    common = {"field_key": "image", "stochastic": True, "stream_name": "augment", "clip_range": (0.0, 1.0)}
    ops: list[Any] = []
    if case in "ab":
        ops += [
            BrightnessOperator(BrightnessOperatorConfig(brightness_range=(-DELTA, DELTA), **common), rngs=rngs),
            ContrastOperator(ContrastOperatorConfig(contrast_range=(LOWER, UPPER), **common), rngs=rngs),
        ]
    if case == "b":
        ops.append(NoiseOperator(NoiseOperatorConfig(noise_std=STD, **common), rngs=rngs))
    return ops


def _datarax_rows(res: BenchResult, case: str, data_np: np.ndarray, items: int, runs: int) -> None:
    """datarax 0.1.4: one Pipeline per source order, built once, warmed, then timed epoch by epoch."""
    try:
        import datarax
        from datarax import Pipeline
        from datarax.sources import MemorySource, MemorySourceConfig
    except ImportError as exc:
        res.notes += f" datarax not installed ({exc.name})."
        return
    version = getattr(datarax, "__version__", "0.1.4")
    contenders = {}
    for shuffle in (True, False):
        rngs = nnx.Rngs(0, augment=1, shuffle=2)
        try:
            source = MemorySource(MemorySourceConfig(shuffle=shuffle), {"image": data_np}, rngs=rngs)
            pipe = Pipeline(source=source, stages=_datarax_ops(case, rngs), batch_size=BATCH, rngs=rngs)
        except Exception as exc:
            res.notes += f" datarax failed to build: {type(exc).__name__}: {str(exc)[:160]}."
            return
        contenders[f"datarax {version} ({'shuffled' if shuffle else 'unshuffled'} MemorySource)"] = Contender(
            run=lambda pipe=pipe: _datarax_batches(pipe, N // BATCH),
            first=lambda pipe=pipe: _datarax_batches(pipe, 1),
        )
    try:
        res.add(race(contenders, items, runs))
    except Exception as exc:
        res.notes += f" datarax failed: {type(exc).__name__}: {str(exc)[:200]}."


def _datarax_batches(pipe: Any, count: int) -> Any:
    """``count`` batches of a fresh pass: datarax 0.1.4 keeps its position across passes and has no
    public reset, so the pass starts by setting it to 0 (what a new ``Pipeline`` starts at)."""
    pipe._position[...] = 0
    it = iter(pipe)
    last = None
    for _ in range(count):
        last = next(it)
    it.close()
    return block(last)


def numpy_aug(x: np.ndarray, rng: np.random.Generator, case: str) -> np.ndarray:
    """The shipped operators' function on one image, in numpy (grain's per-record map)."""
    x = np.clip(x + rng.uniform(-DELTA, DELTA), 0, 1)
    m = x.mean(axis=(0, 1), keepdims=True)
    x = np.clip((x - m) * rng.uniform(LOWER, UPPER) + m, 0, 1)
    if case == "b":
        x = np.clip(x + STD * rng.standard_normal(x.shape, dtype=np.float32), 0, 1)
    return x.astype(np.float32)


def _grain_row(res: BenchResult, case: str, data_np: np.ndarray, items: int, runs: int) -> None:
    try:
        import grain
    except ImportError:
        res.notes += " grain not installed."
        return
    ds = grain.MapDataset.source(data_np).shuffle(seed=0)
    if case != "c":
        ds = ds.random_map(lambda x, rng: numpy_aug(x, rng, case), seed=1)
    ds = ds.batch(BATCH, drop_remainder=True)

    def epoch() -> Any:
        last = None
        for batch in ds:
            last = jnp.asarray(batch)
        return last

    try:
        res.add({f"grain {grain.__version__} (MapDataset, numpy map)": rates_of(epoch, items, runs)})
    except Exception as exc:
        res.notes += f" grain failed: {type(exc).__name__}: {str(exc)[:200]}."


if __name__ == "__main__":
    main(run, CASES)
