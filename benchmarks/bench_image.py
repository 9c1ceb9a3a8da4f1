"""Image augmentation pipeline: modalax operators + loader against torch, Pillow and plain jax.

256 uint8 images 32x32x3 -> float [0, 1] -> bilinear resize to 64x64 -> random horizontal
flip (p = 0.5) -> random brightness U(-0.2, 0.2) -> clip to [0, 1]. Every implementation
starts from the uint8 images in its own array type and ends with a float32 batch in memory;
jax results are waited for. modalax runs the registered operators through ``DataLoader``
over an ``ArraySource`` (shuffled, one key per record); the other rows are single batched
calls without a loader. A run is 8 batches for every contender (each built once; its first
call, compile included, timed apart). A second table breaks modalax's time down to show what
the loader adds on top of the jitted math.

Rerun: ``python benchmarks/bench_image.py [--runs N] [--quick]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult, Contender, block, main, race

N, SIZE, OUT, MAX_DELTA = 256, 32, 64, 0.2
BATCHES = 8  # batches per timed run (one epoch of 256 each)


def _images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (N, SIZE, SIZE, 3), dtype=np.uint8)


def _operators() -> list[Any]:
    from flax import nnx

    from modalax_image.operator_configs import BrightnessConfig, FlipConfig, NormalizeConfig, ResizeConfig
    from modalax_image.operators import BrightnessOperator, FlipOperator, NormalizeOperator, ResizeOperator

    rngs = nnx.Rngs(0, augment=1)
    return [
        NormalizeOperator(NormalizeConfig()),
        ResizeOperator(ResizeConfig(height=OUT, width=OUT, method="bilinear")),
        FlipOperator(FlipConfig(probability=0.5), rngs=rngs),
        BrightnessOperator(BrightnessConfig(max_delta=MAX_DELTA, clip_range=(0.0, 1.0)), rngs=rngs),
    ]


def _loader(x: np.ndarray, prefetch: int | None = None) -> Any:
    """The loader as a user writes it; ``prefetch=None`` keeps the default."""
    import modalax

    extra = {} if prefetch is None else {"prefetch": prefetch}
    source = modalax.ArraySource({"images": x})
    return modalax.DataLoader(source, N, operators=_operators(), drop_last=True, num_epochs=None, **extra)


def _loader_contender(x: np.ndarray, prefetch: int | None = None) -> Contender:
    it = iter(_loader(x, prefetch))
    return Contender(run=_consume(it), first=lambda: next(it)["images"])


def _repeat(fn: Any) -> Contender:
    """``BATCHES`` calls of ``fn`` a run; the first call (compile) timed on its own."""

    def run() -> Any:
        out = None
        for _ in range(BATCHES):
            out = fn()
        return out

    return Contender(run=run, first=fn)


def _consume(it: Any) -> Any:
    def run() -> Any:
        out = None
        for _ in range(BATCHES):
            out = next(it)["images"]
        return block(out)

    return run


def _jax_pipeline(resize: Any) -> Any:
    import jax
    import jax.numpy as jnp

    @jax.jit
    def pipeline(x: jax.Array, key: jax.Array) -> jax.Array:
        k_flip, k_bright = jax.random.split(key)
        y = resize(x.astype(jnp.float32) / 255.0)
        flip = jax.random.bernoulli(k_flip, 0.5, (x.shape[0], 1, 1, 1))
        y = jnp.where(flip, y[:, :, ::-1], y)
        delta = jax.random.uniform(k_bright, (x.shape[0], 1, 1, 1), minval=-MAX_DELTA, maxval=MAX_DELTA)
        return jnp.clip(y + delta, 0.0, 1.0)

    return pipeline


def _jax_rows(x: np.ndarray, rows: dict[str, Contender]) -> None:
    import jax
    import jax.numpy as jnp

    from modalax_image import kernels

    xj = jnp.asarray(x)
    keys = iter(jax.random.split(jax.random.key(0), 100_000))
    plain = _jax_pipeline(lambda y: jax.image.resize(y, (y.shape[0], OUT, OUT, 3), "linear"))
    ours = _jax_pipeline(lambda y: kernels.resize(y, OUT, OUT))
    for name, fn in (("jax.jit by hand (jax.image.resize)", plain), ("jax.jit by hand (modalax kernels)", ours)):
        rows[name] = _repeat(lambda fn=fn: fn(xj, next(keys)))


def _torch_rows(x: np.ndarray, rows: dict[str, Contender], notes: list[str]) -> None:
    try:
        import torch
    except ImportError:
        notes.append("torch not installed: no torch row")
        return
    gen = torch.Generator().manual_seed(0)

    def one() -> Any:
        t = torch.from_numpy(x).permute(0, 3, 1, 2).float().div_(255.0)  # NHWC memory: channels_last
        y = torch.nn.functional.interpolate(t, size=(OUT, OUT), mode="bilinear", align_corners=False)
        flip = torch.rand(N, generator=gen) < 0.5
        y = torch.where(flip[:, None, None, None], y.flip(-1), y)
        delta = torch.rand(N, generator=gen) * (2 * MAX_DELTA) - MAX_DELTA
        return (y + delta[:, None, None, None]).clamp_(0.0, 1.0)

    default_threads = torch.get_num_threads()
    for threads in sorted({default_threads, 1}, reverse=True):

        def with_threads(threads: int = threads) -> Any:
            torch.set_num_threads(threads)
            try:
                return one()
            finally:
                torch.set_num_threads(default_threads)

        rows[f"torch {torch.__version__} CPU (batched, {threads} threads)"] = _repeat(with_threads)


def _pillow_row(x: np.ndarray, rows: dict[str, Contender], notes: list[str]) -> None:
    try:
        import PIL
        from PIL import Image
    except ImportError:
        notes.append("pillow not installed: no Pillow row")
        return
    rng = np.random.default_rng(0)

    def one() -> Any:
        out = np.empty((N, OUT, OUT, 3), np.float32)
        for i in range(N):
            img = np.asarray(Image.fromarray(x[i]).resize((OUT, OUT), Image.Resampling.BILINEAR), np.float32) / 255
            if rng.random() < 0.5:
                img = img[:, ::-1]
            out[i] = np.clip(img + rng.uniform(-MAX_DELTA, MAX_DELTA), 0.0, 1.0)
        return out

    rows[f"Pillow {PIL.__version__} + numpy (per image)"] = _repeat(one)


def _breakdown(x: np.ndarray, runs: int) -> BenchResult:
    """modalax's layers: operators alone, plus the source's gather, plus the loader's host work."""
    import jax
    import jax.numpy as jnp

    import modalax
    from modalax._src.operators import as_pipeline
    from modalax.plugin import record_keys

    pipeline = as_pipeline(_operators())
    gather, args = modalax.ArraySource({"images": x}).pure_gather()
    idx = jnp.asarray(np.random.default_rng(1).permutation(N), jnp.int32)
    key = jax.random.key(0)

    def step(take: Any) -> Any:
        return jax.jit(lambda a, i, k: pipeline.pipeline_fn(take(a, i), record_keys(k, i)))

    with_source = step(gather)
    with_fill = step(lambda a, i: {k: jnp.take(v, i, axis=0) for k, v in a.items()})
    gathered = gather(args, idx)
    contenders = {
        "modalax (DataLoader defaults)": _loader_contender(x),
        "DataLoader, prefetch=0": _loader_contender(x, 0),
        "jitted ArraySource gather + operators (no loader)": _repeat(lambda: with_source(args, idx, key)),
        "same, gather with jnp.take(mode='fill')": _repeat(lambda: with_fill(args, idx, key)),
        "operators only (Compose.apply_batch, batch given)": _repeat(lambda: pipeline.apply_batch(gathered, rng=key)),
    }
    res = BenchResult(
        title=f"where modalax's time goes (same pipeline, {N} images a batch)",
        unit="images/s",
        subject="modalax (DataLoader defaults)",
        target="diagnostic",
        notes=(
            "ArraySource gathers with jnp.take(mode='clip') (the default 'fill' adds a select that XLA fuses into, "
            "and recomputes in, the resize loop); the loader adds per-batch host work (the epoch permutation, "
            "one host-to-device copy of indices per block of batches, the dispatch of the jitted step)"
        ),
        case="python benchmarks/bench_image.py",
    )
    res.add(race(contenders, N * BATCHES, runs))
    return res


def run(quick: bool = False, runs: int | None = None) -> list[BenchResult]:
    """The augmentation pipeline; peers that are not installed give a note instead of a row."""
    import jax.numpy as jnp

    from modalax_image import kernels

    runs = runs or (3 if quick else 9)
    x = _images()
    first = np.asarray(next(iter(_loader(x)))["images"])
    assert first.shape == (N, OUT, OUT, 3) and first.min() >= 0.0 and first.max() <= 1.0
    notes: list[str] = []
    contenders = {"modalax (DataLoader defaults)": _loader_contender(x)}
    _jax_rows(x, contenders)
    _torch_rows(x, contenders, notes)
    _pillow_row(x, contenders, notes)
    try:
        import torch

        ours = np.asarray(kernels.resize(jnp.asarray(x, jnp.float32) / 255.0, OUT, OUT))
        ref = torch.nn.functional.interpolate(
            torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0, size=(OUT, OUT), mode="bilinear"
        )
        err = np.abs(ours - ref.permute(0, 2, 3, 1).numpy()).max()
        notes.insert(0, f"max |modalax resize - torch interpolate| = {err:.1e}")
    except ImportError:
        pass
    res = BenchResult(
        title=f"image pipeline: {N} uint8 {SIZE}x{SIZE}x3 -> [0,1], bilinear {OUT}x{OUT}, flip, brightness, clip",
        unit="images/s",
        subject="modalax (DataLoader defaults)",
        target=">= 1.5x torch",
        notes="; ".join(notes),
        case="python benchmarks/bench_image.py",
    )
    res.add(race(contenders, N * BATCHES, runs))
    return [res, _breakdown(x, runs)]


if __name__ == "__main__":
    main(run)
