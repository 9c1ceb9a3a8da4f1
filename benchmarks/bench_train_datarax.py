"""datarax's ``Pipeline.scan`` in the training-step race of ``bench_train.py``, in its own environment.

datarax 0.1.17 needs Python >= 3.12 (this project's benchmark environment runs 3.11), so this
script runs in a separate interpreter that has datarax and modalax's core installed:

    python3.12 -m venv /tmp/dx && /tmp/dx/bin/pip install datarax==0.1.17 optax -e core
    /tmp/dx/bin/python benchmarks/bench_train_datarax.py [--quick] [--runs N] [--case a|b]

It races, in one process: the hand-scanned limit and modalax's ``scan_epoch`` (both exactly as in
``bench_train.py``), and ``Pipeline(source=MemorySource(shuffle=True), batch_size=128).scan(
step, length=steps, modules=(model, optimizer))``, one epoch a run, the same train step. It is a
stand-alone script (``races()``, no ``run()``): ``run_all.py`` skips it; its output is quoted in
docs/benchmarks.md.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import jax
from flax import nnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_train as bt
from common import BenchResult, Contender, main, race

CASES = "ab"


def datarax_scan(case: str, data: dict[str, Any]) -> tuple[str, Contender]:
    """``Pipeline.scan`` over a shuffled in-memory source, the model and optimizer lifted as modules."""
    import datarax
    from datarax.pipeline.pipeline import Pipeline
    from datarax.sources.memory_source import MemorySource, MemorySourceConfig

    rngs = nnx.Rngs(0, shuffle=1)
    source = MemorySource(MemorySourceConfig(shuffle=True), data, rngs=rngs)
    pipeline = Pipeline(source=source, stages=[], batch_size=bt.BATCH, rngs=rngs, drop_last=True, num_epochs=None)
    model, optimizer = bt.build(case)
    steps = len(data["labels"]) // bt.BATCH

    def step(model: nnx.Module, optimizer: nnx.Optimizer, batch: Any) -> jax.Array:
        batch = dict(batch.data) if hasattr(batch, "data") else dict(batch)
        return bt.train_step((model, optimizer), batch)[1]

    def run() -> Any:
        return pipeline.scan(step, length=steps, modules=(model, optimizer))

    return f"datarax {datarax.__version__} Pipeline.scan (MemorySource, shuffle)", Contender(run)


def run_case(case: str, quick: bool, runs: int) -> list[BenchResult]:
    """One model: limit, modalax scan_epoch and datarax Pipeline.scan in one race."""
    slow_scan = case == "b" and jax.default_backend() == "cpu"
    data = bt._data(bt.IMAGES[quick or slow_scan])
    runs = min(runs, 5) if slow_scan else runs
    steps = len(data["labels"]) // bt.BATCH
    contenders = {bt.LIMIT: bt.hand_scan(case, data), bt.SCAN: bt.modalax_scan(case, data)}
    name, contender = datarax_scan(case, data)
    contenders[name] = contender
    res = BenchResult(
        title=f"({case}) {bt.MODELS[case][0]} train step, {len(data['labels']):,} images, batch {bt.BATCH}: "
        "scan epochs, modalax and datarax",
        unit="steps/s",
        subject=bt.SCAN,
        target=">= 0.95x limit",
        notes=f"one epoch ({steps} steps) a run; jax {jax.__version__}, Python {sys.version.split()[0]}",
    )
    res.add(race(contenders, steps, runs))
    return [res]


def races(quick: bool = False, runs: int | None = None, case: str | None = None) -> list[BenchResult]:
    """Both cases (or ``case``); named so that ``run_all.py`` (which runs modules with a ``run``) skips it."""
    runs = runs or (3 if quick else 9)
    return [r for c in case or CASES for r in run_case(c, quick, runs)]


if __name__ == "__main__":
    main(races, CASES)
