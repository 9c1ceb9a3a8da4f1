"""Loader + operator pipeline: modalax against hand-written jax, datarax, grain and numpy.

10,000 float32 images of 64x64x3, global batch 128, one epoch, drop_last:
(a) random brightness + contrast, (b) brightness + contrast + gaussian noise, (c) no operator.
Every implementation draws its own per-image random parameters and yields device arrays.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult, block, main, throughput, throughputs

from modalax import ArraySource, DataLoader
from modalax.operators import ModalityOperator, ModalityOperatorConfig

N, H, W, C, BATCH = 10_000, 64, 64, 3, 128


@dataclass(frozen=True, eq=False)
class RangeConfig(ModalityOperatorConfig):
    low: float = 0.0
    high: float = 1.0


class Brightness(ModalityOperator):
    def transform(self, x: jax.Array, p: Any, stats: Any) -> jax.Array:
        return x + p

    def generate_random_params(self, rng: jax.Array, shapes: Any) -> jax.Array:
        return jax.random.uniform(
            rng, (shapes[self.config.field_key][0],), minval=self.config.low, maxval=self.config.high
        )


class Contrast(Brightness):
    def transform(self, x: jax.Array, p: Any, stats: Any) -> jax.Array:
        mean = jnp.mean(x)
        return (x - mean) * p + mean


class Noise(ModalityOperator):
    def transform(self, x: jax.Array, p: Any, stats: Any) -> jax.Array:
        return x + 0.05 * jax.random.normal(p, x.shape)

    def generate_random_params(self, rng: jax.Array, shapes: Any) -> jax.Array:
        return jax.random.split(rng, shapes[self.config.field_key][0])


def modalax_ops(case: str) -> list[ModalityOperator]:
    def cfg(lo: float, hi: float) -> RangeConfig:
        return RangeConfig(
            field_key="image", stochastic=True, stream_name="augment", clip_range=(0.0, 1.0), low=lo, high=hi
        )

    rngs = nnx.Rngs(0, augment=1)
    ops: list[ModalityOperator] = []
    if case in "ab":
        ops += [Brightness(cfg(-0.2, 0.2), rngs=rngs), Contrast(cfg(0.8, 1.2), rngs=rngs)]
    if case == "b":
        ops.append(
            Noise(
                ModalityOperatorConfig(
                    field_key="image", stochastic=True, stream_name="augment", clip_range=(0.0, 1.0)
                ),
                rngs=rngs,
            )
        )
    return ops


def reference_fn(case: str):
    """The hand-written jax.jit(jax.vmap(fn)) with gather, one call per batch."""

    def one(x: jax.Array, key: jax.Array) -> jax.Array:
        kb, kc, kn = jax.random.split(key, 3)
        if case in "ab":
            x = jnp.clip(x + jax.random.uniform(kb, minval=-0.2, maxval=0.2), 0.0, 1.0)
            mean = jnp.mean(x)
            x = jnp.clip((x - mean) * jax.random.uniform(kc, minval=0.8, maxval=1.2) + mean, 0.0, 1.0)
        if case == "b":
            x = jnp.clip(x + 0.05 * jax.random.normal(kn, x.shape), 0.0, 1.0)
        return x

    @jax.jit
    def run(data: jax.Array, idx: jax.Array, key: jax.Array) -> jax.Array:
        batch = jnp.take(data, idx, axis=0)
        if case == "c":
            return batch
        return jax.vmap(one)(batch, jax.random.split(key, idx.shape[0]))

    return run


def numpy_epoch(data: np.ndarray, seed: int) -> None:
    perm = np.random.default_rng(seed).permutation(N)
    for b in range(N // BATCH):
        out = data[perm[b * BATCH : (b + 1) * BATCH]]
    return out


def numpy_aug(x: np.ndarray, rng: np.random.Generator, case: str) -> np.ndarray:
    x = np.clip(x + rng.uniform(-0.2, 0.2), 0, 1)
    m = x.mean()
    x = np.clip((x - m) * rng.uniform(0.8, 1.2) + m, 0, 1)
    if case == "b":
        x = np.clip(x + 0.05 * rng.standard_normal(x.shape, dtype=np.float32), 0, 1)
    return x.astype(np.float32)


def run(quick: bool = False) -> list[BenchResult]:
    """Throughputs (images/s) of each case, side by side."""
    global N
    if quick:
        N = 2_048
    data_np = np.random.default_rng(0).random((N, H, W, C), dtype=np.float32)
    data_dev = jax.device_put(data_np)
    repeats = 2 if quick else 5
    items = (N // BATCH) * BATCH
    results = []
    titles = {"a": "(a) brightness + contrast", "b": "(b) brightness + contrast + noise", "c": "(c) no operator"}
    for case in "abc":
        res = BenchResult(
            titles[case] + f", {N} images 64x64x3, batch {BATCH}",
            "images/s",
            target=">= 0.9x hand-written jax" if case != "c" else ">= 0.8x numpy",
        )
        source = ArraySource({"image": data_dev})
        loader = DataLoader(source, BATCH, drop_last=True, seed=0, operators=modalax_ops(case), prefetch=2)

        def run_modalax(loader: DataLoader = loader) -> None:
            for batch in loader:
                last = batch
            block(last)

        ref = reference_fn(case)

        def run_reference(ref: Any = ref) -> None:
            perm = np.random.default_rng(1).permutation(N).astype(np.int32)
            key = jax.random.key(0)
            for b in range(N // BATCH):
                out = ref(data_dev, perm[b * BATCH : (b + 1) * BATCH], jax.random.fold_in(key, b))
            block(out)

        runs = {"modalax": run_modalax, "hand-written jax.jit(vmap)": run_reference}
        if case == "c":
            runs["numpy permutation + fancy indexing"] = lambda: numpy_epoch(data_np, 0)
        # The close ones run round-robin (a noisy spell hits all alike); the slow peers after.
        res.rows.update(throughputs(runs, items, repeats=2 * repeats))
        _datarax_row(res, case, data_np, items, repeats)
        _grain_row(res, case, data_np, items, repeats)
        results.append(res)
    return results


def _datarax_row(res: BenchResult, case: str, data_np: np.ndarray, items: int, repeats: int) -> None:
    try:
        from datarax import Pipeline
        from datarax.operators.modality.image.brightness_operator import BrightnessOperator, BrightnessOperatorConfig
        from datarax.operators.modality.image.contrast_operator import ContrastOperator, ContrastOperatorConfig
        from datarax.operators.modality.image.noise_operator import NoiseOperator, NoiseOperatorConfig
        from datarax.sources import MemorySource, MemorySourceConfig
    except ImportError as exc:
        res.notes += f" datarax not installed ({exc.name})."
        return

    def make() -> Any:
        rngs = nnx.Rngs(0, augment=1, shuffle=2)
        stages: list[Any] = []
        if case in "ab":
            stages += [
                BrightnessOperator(
                    BrightnessOperatorConfig(
                        field_key="image", stochastic=True, stream_name="augment", brightness_range=(-0.2, 0.2)
                    ),
                    rngs=rngs,
                ),
                ContrastOperator(
                    ContrastOperatorConfig(
                        field_key="image", stochastic=True, stream_name="augment", contrast_range=(0.8, 1.2)
                    ),
                    rngs=rngs,
                ),
            ]
        if case == "b":
            stages.append(
                NoiseOperator(
                    NoiseOperatorConfig(field_key="image", stochastic=True, stream_name="augment", noise_std=0.05),
                    rngs=rngs,
                )
            )
        source = MemorySource(MemorySourceConfig(shuffle=True), {"image": data_np}, rngs=rngs)
        return Pipeline(source=source, stages=stages, batch_size=BATCH, rngs=rngs)

    def run_datarax() -> None:
        last = None
        for i, batch in enumerate(make()):
            if i >= N // BATCH:
                break
            last = batch
        block(last)

    try:
        res.rows["datarax 0.1.4"] = throughput(run_datarax, items, repeats=repeats)
    except Exception as exc:
        res.notes += f" datarax failed: {type(exc).__name__}: {str(exc)[:200]}."


def _grain_row(res: BenchResult, case: str, data_np: np.ndarray, items: int, repeats: int) -> None:
    try:
        import grain
    except ImportError:
        res.notes += " grain not installed."
        return

    def run_grain() -> None:
        ds = grain.MapDataset.source(data_np).shuffle(seed=0)
        if case != "c":
            ds = ds.random_map(lambda x, rng: numpy_aug(x, rng, case), seed=1)
        ds = ds.batch(BATCH, drop_remainder=True)
        last = None
        for batch in ds:
            last = jnp.asarray(batch)
        block(last)

    try:
        res.rows["grain 0.2.18"] = throughput(run_grain, items, repeats=repeats)
    except Exception as exc:
        res.notes += f" grain failed: {type(exc).__name__}: {str(exc)[:200]}."


if __name__ == "__main__":
    main(run)
