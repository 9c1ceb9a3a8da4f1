"""Loader + shipped image operators: modalax at defaults against hand-written jax, datarax, grain and numpy.

Global batch 128, drop_last, at two sizes whose working sets differ: ``large``, 10,000 float32
images of 64x64x3 (491 MB, far out of any cache: memory bandwidth sets the pace), one epoch a
run; ``small``, 4,096 images of 16x16x3 (12.6 MB, within a server's L3 cache: per-batch costs
set it), eight epochs a run. Cases: (a) ``modalax_image`` Brightness + Contrast (clip to
[0, 1]), (b) the same + GaussianNoise, (c) no operator (the bare loader). modalax is
``DataLoader`` at its default settings over a device ``ArraySource``. The hand-written reference
is one ``jax.jit(vmap)`` call per batch that computes exactly what the shipped operators compute
(same keys, per-channel mean, clipping): the script checks that both give the same batch before
timing. It runs twice: with each batch's indices passed as numpy (``per batch``) and with the
epoch's permutation put on the device once and sliced inside the step (``permutation on
device``: no host-to-device copy per batch, what one writes for an accelerator). Its contrast
mean is ``jnp.mean``, as one writes it by hand; the shipped kernel sums in a fixed pairwise order
(``modalax.plugin.pairwise_mean``), and an extra row runs the reference with that mean, so the
table shows how much of the lead is the kernel and how much is the loader. Every case also races
a plain memory copy of the same bytes (``np.copyto`` of batch-sized blocks): the limit no gather
beats. Peers are built once and warmed.

Rerun one case: ``python benchmarks/bench_loader.py --case a [--size large|small] [--runs N] [--quick]``.
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
from common import BenchResult, Contender, block, copy_limit, drain, main, race, rates_of

from modalax import ArraySource, DataLoader
from modalax.plugin import pairwise_mean

BATCH = 128
#: size -> (images, side, epochs a timed run)
SIZES = {"large": (10_000, 64, 1), "small": (4_096, 16, 8)}
QUICK = {"large": (2_048, 64, 1), "small": (1_024, 16, 4)}
DELTA, LOWER, UPPER, STD = 0.2, 0.8, 1.2, 0.05
CASES = "abc"
TITLES = {"a": "brightness + contrast (clip)", "b": "brightness + contrast + noise (clip)", "c": "no operator"}
CMD = "python benchmarks/bench_loader.py --case {} --size {}"
LIMIT = "memory copy"  # the race's name for the limit (common.copy_limit names it in the table)
PER_BATCH = "hand-written jax.jit(vmap), per batch"
ON_DEVICE = "hand-written jax.jit(vmap), permutation on device"
#: The goal on an accelerator (an H100): the shipped operators at >= 3M images/s.
GPU_RATE = "3,000,000"


def target(case: str, size: str) -> str:
    """The case's target: CPU figures from this project's hosts, the GPU goal on an accelerator."""
    if jax.default_backend() != "cpu":  # numpy runs on the host there: the peer is the device gather
        rate = f", >= {GPU_RATE} images/s" if case == "a" and size == "large" else ""
        return f">= 0.9x {ON_DEVICE}{rate}"
    if case == "c" and size == "small":  # a diagnostic: in cache one jitted call a batch sets the pace
        return ""
    if case == "c":
        return ">= 0.9x numpy, >= 50% memory copy"
    return {"a": f">= 1.2x {PER_BATCH}", "b": f">= 1.0x {PER_BATCH}"}[case]


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


def body(case: str, pairwise: bool = False) -> Any:
    """Hand-written ``vmap`` of the shipped operators' function over a gathered batch.

    Record ``i`` of an epoch gets the key ``fold_in(epoch_key, i)``; operator ``j`` of the chain
    folds in ``j`` (as ``Compose`` does); contrast uses the per-channel mean over height and width,
    with ``jnp.mean`` (what one writes by hand) or, for the extra row, the shipped kernel's
    ``modalax.plugin.pairwise_mean``.
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

    def step(data: jax.Array, idx: jax.Array, epoch_key: jax.Array) -> jax.Array:
        batch = jnp.take(data, idx, axis=0)
        if case == "c":
            return batch
        return jax.vmap(one)(batch, jax.vmap(lambda i: jax.random.fold_in(epoch_key, i))(idx))

    return step


def reference(case: str, pairwise: bool = False) -> Any:
    """The hand-written step, one jitted call per batch with the batch's indices as numpy."""
    return jax.jit(body(case, pairwise))


def device_reference(case: str) -> Any:
    """The same step taking the epoch's permutation (batches x BATCH, on the device) and a batch number."""
    fn = body(case)
    return jax.jit(lambda data, perm, b, epoch_key: fn(data, perm[b], epoch_key))


def _check_same(case: str, data: jax.Array, step: Any, ops: list[Any]) -> None:
    loader = DataLoader(ArraySource({"image": data}), BATCH, drop_last=True, operators=ops, with_indices=True)
    batch = next(iter(loader))
    ref = step(data, np.asarray(batch["index"]), loader.epoch_key(0))
    err = float(jnp.max(jnp.abs(batch["image"] - ref)))
    assert err <= 1e-6, f"case {case}: the hand-written reference differs from the shipped operators by {err}"


def _loader_contender(loader: DataLoader) -> Contender:
    return Contender(run=lambda: drain(loader), first=lambda: next(iter(loader)))


def _orders(n: int, epochs: int) -> list[np.ndarray]:
    """The hand-written loops' epoch permutations (int32), drawn once."""
    return [np.random.default_rng(1 + e).permutation(n).astype(np.int32) for e in range(epochs)]


def _reference_contender(step: Any, data: jax.Array, key: jax.Array, epochs: int) -> Contender:
    n = data.shape[0]
    perms = _orders(n, epochs)

    def run() -> Any:
        out = None
        for perm in perms:
            for b in range(n // BATCH):
                out = step(data, perm[b * BATCH : (b + 1) * BATCH], key)
        return out

    return Contender(run=run, first=lambda: step(data, np.arange(BATCH, dtype=np.int32), key))


def _device_reference_contender(step: Any, data: jax.Array, key: jax.Array, epochs: int) -> Contender:
    n = data.shape[0]
    batches = n // BATCH
    perms = [p[: batches * BATCH].reshape(batches, BATCH) for p in _orders(n, epochs)]
    numbers = [jax.device_put(np.int32(b)) for b in range(batches)]  # no host-to-device copy per call

    def run() -> Any:
        out = None
        for perm in perms:
            on_device = jax.device_put(perm)  # once per epoch, as a loader would
            for b in range(batches):
                out = step(data, on_device, numbers[b], key)
        return out

    return Contender(run=run, first=lambda: step(data, jax.device_put(perms[0]), numbers[0], key))


def numpy_epochs(data: np.ndarray, epochs: int) -> np.ndarray:
    """numpy permutation + fancy indexing: what a bare loader must at least match."""
    n = len(data)
    out = data[:0]
    for e in range(epochs):
        perm = np.random.default_rng(e).permutation(n)
        for b in range(n // BATCH):
            out = data[perm[b * BATCH : (b + 1) * BATCH]]
    return out


def one_case(case: str, size: str, runs: int, quick: bool) -> BenchResult:
    """Every contender of one case at one size, round-robin, with the memory-copy limit in the race."""
    n, side, epochs = (QUICK if quick else SIZES)[size]
    data_np = np.random.default_rng(0).random((n, side, side, 3), dtype=np.float32)
    data = jax.device_put(data_np)
    batches = n // BATCH
    items = batches * BATCH * epochs
    mb = data_np.nbytes / 1e6
    res = BenchResult(
        f"({case}) {TITLES[case]}, {size}: {n:,} images {side}x{side}x3 ({mb:,.1f} MB), batch {BATCH}"
        + (f", {epochs} epochs a run" if epochs > 1 else ""),
        "images/s",
        target=target(case, size),
        case=CMD.format(case, size),
    )
    ops = shipped_ops(case)
    if case != "c":  # with its own jit, so that the timed reference's first call compiles
        _check_same(case, data, reference(case), ops)
    key = DataLoader(ArraySource({"image": data}), BATCH).epoch_key(0)
    default = DataLoader(ArraySource({"image": data}), BATCH, drop_last=True, operators=ops, num_epochs=epochs)
    contenders = {
        "modalax (DataLoader defaults)": _loader_contender(default),
        PER_BATCH: _reference_contender(reference(case), data, key, epochs),
        ON_DEVICE: _device_reference_contender(device_reference(case), data, key, epochs),
        "modalax, prefetch=0": _loader_contender(
            DataLoader(
                ArraySource({"image": data}), BATCH, drop_last=True, operators=ops, prefetch=0, num_epochs=epochs
            )
        ),
    }
    if case != "c":  # the same reduction as the shipped kernel: what is left is the loader's own cost
        contenders["extra: the same step with modalax.plugin.pairwise_mean"] = _reference_contender(
            reference(case, pairwise=True), data, key, epochs
        )
    if case == "c":
        contenders["numpy permutation + fancy indexing"] = Contender(lambda: numpy_epochs(data_np, epochs))
    limit, contenders[LIMIT] = copy_limit(data_np, BATCH, batches * epochs)
    res.subject = "modalax (DataLoader defaults)"
    timings = race(contenders, items, runs)
    res.set_limit(limit, timings.pop(LIMIT))
    res.add(timings)
    if case == "c" and size == "small":
        res.notes += (
            " In cache, memory does not set the pace: one jitted call a batch does (dispatch and XLA's gather,"
            " 20-35 us a batch on the project's 2-core host, against ~10 us for numpy's copy of 393 KB), plus the"
            " loader's own 6-8 us (docs/loader.md, 'What a batch costs')."
        )
    if default.prefetch == 0:
        res.notes += (
            " On this backend prefetch='auto' resolves to 0: the default and prefetch=0 rows are the same loader"
            " built twice, so their gap is this run's noise."
        )
    _datarax_rows(res, case, data_np, max(2, runs // 2))
    _grain_row(res, case, data_np, max(2, runs // 2))
    return res


def run(
    quick: bool = False, runs: int | None = None, case: str | None = None, size: str | None = None
) -> list[BenchResult]:
    """Throughputs (images/s) of each case at each size, side by side."""
    runs = runs or (3 if quick else 11)
    return [one_case(c, s, runs, quick) for c in case or CASES for s in ([size] if size else list(SIZES))]


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


def _datarax_rows(res: BenchResult, case: str, data_np: np.ndarray, runs: int) -> None:
    """datarax 0.1.4: one Pipeline per source order, built once, warmed, then timed epoch by epoch (one a run)."""
    batches = len(data_np) // BATCH
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
            run=lambda pipe=pipe: _datarax_batches(pipe, batches),
            first=lambda pipe=pipe: _datarax_batches(pipe, 1),
        )
    try:
        res.add(race(contenders, batches * BATCH, runs))
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


def _grain_row(res: BenchResult, case: str, data_np: np.ndarray, runs: int) -> None:
    """grain's MapDataset with a numpy map per record, timed alone (one epoch a run: it is slow)."""
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
        items = len(data_np) // BATCH * BATCH
        res.add({f"grain {grain.__version__} (MapDataset, numpy map)": rates_of(epoch, items, runs)})
    except Exception as exc:
        res.notes += f" grain failed: {type(exc).__name__}: {str(exc)[:200]}."


if __name__ == "__main__":
    main(run, CASES)
