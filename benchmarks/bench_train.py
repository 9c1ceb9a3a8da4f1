"""Training in the pipeline: steps per second of a small flax NNX model (optax adamw) fed by modalax and its peers.

Two models on 32x32x3 float32 images with 10 classes, global batch 128: (a) an MLP (3072 -> 256
-> 10: a step of about a millisecond, where a Python round trip per step shows) and (b) a small
CNN (two 3x3 convolutions, 16 and 32 channels, average pooling, a dense layer: a step where the
model's work dominates). Every contender runs the *same* train step (``train_step`` below:
cross-entropy, ``nnx.value_and_grad``, ``optimizer.update``), one epoch a run, on its own copy
of the model and optimizer:

* **limit**: the step ``lax.scan``-ned by hand over batches already sliced in device memory
  (the data permuted once, reshaped to ``(steps, 128, ...)``): no loader at all;
* **modalax scan_epoch**: ``DataLoader(ArraySource(data), 128)`` at its defaults,
  ``loader.scan_epoch(train_step, (model, optimizer))``: shuffled per epoch, gathered in the scan;
* **modalax DataLoader loop**: the same loader iterated in Python, a jitted step per batch
  (``jax.jit`` over the split nnx state, flax's fast pattern);
* **grain**: ``MapDataset.source(...).shuffle().batch(128)`` iterated in Python, the jitted step;
* **torch**: ``torch.utils.data.DataLoader(TensorDataset, shuffle=True)``, the jitted step.

datarax's ``Pipeline.scan`` is measured by ``bench_train_datarax.py`` in its own environment
where datarax installs (0.1.17 needs Python >= 3.12), against the same hand-scanned limit.

Rerun one case: ``python benchmarks/bench_train.py --case a|b [--runs N] [--quick]``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult, Contender, block, main, race

from modalax import ArraySource, DataLoader

BATCH = 128
CLASSES = 10
#: (case, quick) -> images: 64 steps an epoch, or 8. The CNN runs 8 on the CPU backend, where XLA runs
#: the convolutions of a scanned step some 30x slower than jitted alone (see ``_case``).
IMAGES = {False: 8_192, True: 1_024}
CASES = "ab"
CMD = "python benchmarks/bench_train.py --case {}"
LIMIT = "limit: the same step lax.scan-ned by hand over batches sliced in device memory"
SCAN = "modalax scan_epoch (DataLoader defaults)"
LOOP = "modalax DataLoader loop (defaults), jitted step"
HAND_LOOP = "extra: the same jitted step in a Python loop over batches sliced in device memory"


class MLP(nnx.Module):
    """3072 -> 256 -> 10."""

    def __init__(self, rngs: nnx.Rngs) -> None:
        self.hidden = nnx.Linear(32 * 32 * 3, 256, rngs=rngs)
        self.out = nnx.Linear(256, CLASSES, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.out(nnx.relu(self.hidden(x.reshape(x.shape[0], -1))))


class CNN(nnx.Module):
    """conv3x3(16) - relu - avgpool2 - conv3x3(32) - relu - avgpool2 - dense(10)."""

    def __init__(self, rngs: nnx.Rngs) -> None:
        self.conv1 = nnx.Conv(3, 16, (3, 3), rngs=rngs)
        self.conv2 = nnx.Conv(16, 32, (3, 3), rngs=rngs)
        self.out = nnx.Linear(8 * 8 * 32, CLASSES, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = nnx.avg_pool(nnx.relu(self.conv1(x)), (2, 2), (2, 2))
        x = nnx.avg_pool(nnx.relu(self.conv2(x)), (2, 2), (2, 2))
        return self.out(x.reshape(x.shape[0], -1))


MODELS: dict[str, tuple[str, Callable[[nnx.Rngs], nnx.Module]]] = {"a": ("MLP", MLP), "b": ("CNN", CNN)}


def build(case: str) -> tuple[nnx.Module, nnx.Optimizer]:
    """A fresh model and its adamw optimizer (the same initial weights for every contender)."""
    model = MODELS[case][1](nnx.Rngs(0))
    return model, nnx.Optimizer(model, optax.adamw(1e-3), wrt=nnx.Param)


def train_step(objects: tuple[nnx.Module, nnx.Optimizer], batch: dict[str, Any]) -> tuple[Any, jax.Array]:
    """One step: cross-entropy, gradients, adamw update. ``(carry, loss)``, as ``lax.scan`` wants."""
    model, optimizer = objects

    def loss_fn(m: nnx.Module) -> jax.Array:
        logits = m(batch["images"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch["labels"]).mean()

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return (model, optimizer), loss


def functional_step(case: str) -> tuple[Callable[..., Any], Any]:
    """``(jitted step(state, images, labels) -> (state, loss), initial state)``: nnx split once, jit per call."""
    graphdef, state = nnx.split(build(case))

    @jax.jit
    def step(state: Any, images: jax.Array, labels: jax.Array) -> tuple[Any, jax.Array]:
        objects, loss = train_step(nnx.merge(graphdef, state), {"images": images, "labels": labels})
        return nnx.state(objects), loss

    return step, state


def hand_scan(case: str, data: dict[str, np.ndarray]) -> Contender:
    """The limit: batches sliced once in device memory, the step scanned by hand, one epoch a run."""
    graphdef, state = nnx.split(build(case))
    steps = len(data["labels"]) // BATCH
    order = np.random.default_rng(0).permutation(len(data["labels"]))[: steps * BATCH]
    xs = jnp.asarray(data["images"][order].reshape(steps, BATCH, 32, 32, 3))
    ys = jnp.asarray(data["labels"][order].reshape(steps, BATCH))

    @jax.jit
    def epoch(state: Any, xs: jax.Array, ys: jax.Array) -> tuple[Any, jax.Array]:
        def body(s: Any, b: tuple[jax.Array, jax.Array]) -> tuple[Any, jax.Array]:
            objects, loss = train_step(nnx.merge(graphdef, s), {"images": b[0], "labels": b[1]})
            return nnx.state(objects), loss

        return jax.lax.scan(body, state, (xs, ys))

    held = {"state": state}

    def run() -> Any:
        held["state"], losses = epoch(held["state"], xs, ys)
        return losses

    return Contender(run)


def hand_loop(case: str, data: dict[str, np.ndarray]) -> Contender:
    """The per-step limit of a Python loop: the jitted step over batches sliced once in device memory."""
    step, state = functional_step(case)
    steps = len(data["labels"]) // BATCH
    xs = [jnp.asarray(data["images"][i * BATCH : (i + 1) * BATCH]) for i in range(steps)]
    ys = [jnp.asarray(data["labels"][i * BATCH : (i + 1) * BATCH]) for i in range(steps)]
    held = {"state": state}

    def run() -> Any:
        loss = None
        for x, y in zip(xs, ys, strict=True):
            held["state"], loss = step(held["state"], x, y)
        return loss

    return Contender(run)


def modalax_scan(case: str, data: dict[str, np.ndarray]) -> Contender:
    """``loader.scan_epoch(train_step, (model, optimizer))`` over a device ArraySource, defaults."""
    loader = DataLoader(ArraySource(data), BATCH, seed=0, num_epochs=None)
    held = {"carry": build(case)}

    def run() -> Any:
        held["carry"], losses = loader.scan_epoch(train_step, held["carry"])
        return losses

    return Contender(run)


def python_loop(step: Callable[..., Any], state: Any, batches: Callable[[], Any], steps: int) -> Contender:
    """A Python loop feeding ``steps`` batches of ``batches()`` (an endless iterator) to the jitted step."""
    held = {"state": state, "it": None}

    def run() -> Any:
        if held["it"] is None:
            held["it"] = batches()
        loss = None
        for _ in range(steps):
            images, labels = next(held["it"])
            held["state"], loss = step(held["state"], images, labels)
        return loss

    return Contender(run)


def _modalax_batches(data: dict[str, np.ndarray]) -> Callable[[], Any]:
    def batches() -> Any:
        for b in DataLoader(ArraySource(data), BATCH, seed=0, num_epochs=None):
            yield b["images"], b["labels"]

    return batches


def _grain_batches(data: dict[str, np.ndarray]) -> tuple[str, Callable[[], Any]] | None:
    try:
        import grain
    except ImportError:
        return None

    class Records:
        def __len__(self) -> int:
            return len(data["labels"])

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
            return data["images"][i], data["labels"][i]

    def batches() -> Any:
        epoch = 0
        while True:
            ds = grain.MapDataset.source(Records()).shuffle(seed=epoch).batch(BATCH, drop_remainder=True)
            yield from ds
            epoch += 1

    return f"grain {grain.__version__} (MapDataset.shuffle.batch), jitted step", batches


def _torch_batches(data: dict[str, np.ndarray]) -> tuple[str, Callable[[], Any]] | None:
    try:
        import torch
    except ImportError:
        return None
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(data["images"]), torch.from_numpy(data["labels"]))
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, drop_last=True, num_workers=0)

    def batches() -> Any:
        while True:
            for x, y in loader:
                yield x.numpy(), y.numpy()

    return f"torch {torch.__version__} DataLoader (TensorDataset, shuffle), jitted step", batches


def _data(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {
        "images": rng.random((n, 32, 32, 3), dtype=np.float32),
        "labels": rng.integers(0, CLASSES, n).astype(np.int32),
    }


def _case(case: str, quick: bool, runs: int) -> list[BenchResult]:
    name = MODELS[case][0]
    slow_scan = case == "b" and jax.default_backend() == "cpu"
    data = _data(IMAGES[quick or slow_scan])
    if slow_scan:
        runs = min(runs, 5)
    steps = len(data["labels"]) // BATCH
    contenders = {LIMIT: hand_scan(case, data), SCAN: modalax_scan(case, data)}
    step, state = functional_step(case)
    contenders[LOOP] = python_loop(step, state, _modalax_batches(data), steps)
    contenders[HAND_LOOP] = hand_loop(case, data)
    notes = []
    for peer in (_grain_batches(data), _torch_batches(data)):
        if peer is None:
            notes.append("a peer is not installed (grain or torch): no row.")
            continue
        step, state = functional_step(case)
        contenders[peer[0]] = python_loop(step, state, peer[1], steps)
    timings = race(contenders, steps, runs)
    title = f"({case}) {name} train step, {len(data['labels']):,} images 32x32x3 float32, batch {BATCH}, adamw"
    common = (
        f"one epoch ({steps} steps) a run; first call = trace and compile (the scans compile the whole epoch). "
        "The machine is a shared 2-core VM: rates move between runs, the per-round ratios less. " + " ".join(notes)
    )
    if slow_scan:
        common += (
            " On the CPU backend XLA runs this CNN's convolution gradients inside a loop (any lax.scan, the"
            " hand-written limit's too) some 30-100x slower than in a step jitted alone (jax-ml/jax#12868:"
            " measured here 0.5 s against 5 ms a weight gradient), so both scans crawl and the Python loops"
            " win; 1,024 images and at most 5 rounds keep the case short. Scan such a model on an accelerator"
            " only."
        )
    scan = BenchResult(
        title=f"{title}: scan epoch",
        unit="steps/s",
        subject=SCAN,
        target=">= 0.95x limit",
        notes=common,
        case=CMD.format(case),
    )
    scan.add(timings)
    loop = BenchResult(
        title=f"{title}: Python loop",
        unit="steps/s",
        subject=LOOP,
        target=">= 0.9x limit" if case == "b" else "",
        notes=common + (" No target for the MLP: the gap to the scan is the point." if case == "a" else ""),
        case=CMD.format(case),
    )
    loop.add({k: v for k, v in timings.items() if k != SCAN})
    loop.add({SCAN: timings[SCAN]})
    return [scan, loop]


def run(quick: bool = False, runs: int | None = None, case: str | None = None) -> list[BenchResult]:
    """Both cases (or ``case``): a scan-epoch result and a Python-loop result each."""
    runs = runs or (3 if quick else 9)
    out: list[BenchResult] = []
    for c in case or CASES:
        out += _case(c, quick, runs)
        block(None)
    return out


if __name__ == "__main__":
    main(run, CASES)
