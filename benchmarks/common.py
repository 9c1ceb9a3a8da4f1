"""Shared helpers of the benchmarks: timing and the result record that run_all.py renders."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def block(x: Any) -> Any:
    """Wait for every jax array in ``x`` (no-op for numpy/torch)."""
    try:
        import jax

        return jax.block_until_ready(x)
    except Exception:
        return x


def throughput(run: Callable[[], Any], items: int, *, repeats: int = 5, warmup: int = 1) -> float:
    """Items per second of ``run()`` (which processes ``items`` items): median of ``repeats``.

    ``run`` must block until its results exist (call ``block`` on jax outputs).
    """
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return items / statistics.median(times)


def throughputs(
    runs: dict[str, Callable[[], Any]], items: int, *, repeats: int = 5, warmup: int = 1
) -> dict[str, float]:
    """Items per second of each ``run``, timed round-robin: median of ``repeats`` rounds.

    Each round times every implementation once, so that a noisy spell of a shared machine
    falls on all of them alike rather than on whichever happened to run then.
    """
    for run in runs.values():
        for _ in range(warmup):
            run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    return {name: items / statistics.median(ts) for name, ts in times.items()}


@dataclass
class BenchResult:
    """One benchmark case: throughputs of modalax and its peers, side by side."""

    title: str
    unit: str
    rows: dict[str, float] = field(default_factory=dict)  # implementation -> items/s
    subject: str = "modalax"
    target: str = ""  # e.g. ">= 1.5x torch"
    notes: str = ""

    def ratio(self, peer: str) -> float:
        """modalax throughput / peer throughput."""
        return self.rows[self.subject] / self.rows[peer]


def print_results(results: list[BenchResult]) -> None:
    """A plain-text table of ``results`` (``run_all.py`` writes the Markdown one)."""
    for res in results:
        print(f"\n{res.title}  [{res.unit}]  target {res.target}")
        for name, value in res.rows.items():
            ratio = "" if name == res.subject else f"  modalax is {res.ratio(name):6.2f}x"
            print(f"  {name:58s} {value:12,.0f}{ratio}")
        if res.notes:
            print(f"  notes: {res.notes.strip()}")


def main(run: Callable[..., list[BenchResult]]) -> None:
    """Entry point of one benchmark file: ``python bench_x.py [--quick]``."""
    t0 = time.perf_counter()
    print_results(run(quick="--quick" in sys.argv))
    print(f"\n({time.perf_counter() - t0:.0f} s)")
