"""Shared helpers of the benchmarks: the round-robin race, the result record and its rendering.

Methodology (every ``bench_*.py``): each contender is built once; its first call (trace and
compile included) is timed on its own; then one warm-up run each, then ``runs`` rounds in which
every contender runs once, in turn, so a noisy spell of a shared machine falls on all alike.
Before each timed run the process pauses ``SETTLE_S`` (see there). Rows report the median, min
and max throughput of the rounds and the first-call time, and, against the case's subject, the
ratio of the medians and the median (min-max) of the per-round ratios: the rows of one round ran
back to back, so a busy spell of the machine moves their ratio less than their throughputs.
A case with a physical limit (``copy_blocks``: a memory copy of the same bytes) runs it as one
more contender of the race and reports it beside the table, not as a row.
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# glibc hands the pages of freed multi-MB blocks back to the OS at points that depend on the
# allocation history, and whichever contender allocates next faults them back in: measured 60,000
# page faults and 2.8x the time of an epoch of 6 MB batches, falling on one contender or another
# from run to run. Benchmark processes keep freed memory instead, the same for every contender.
ALLOCATOR = "glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=1073741824"

# A library's worker threads keep spinning for a while after a call returns (OpenBLAS ~0.1 s,
# OpenMP less), on cores the next contender then shares. In the mel race, librosa's threads took
# 45% off modalax's and torch's 2-thread rows, which run after it, and nothing off torch's
# 1-thread row: the round-robin order decided the ratio. A pause before every timed run lets
# them park, so each contender starts on idle cores.
SETTLE_S = 0.15


def steady_allocator() -> None:
    """Restart this process once with ``ALLOCATOR`` as ``GLIBC_TUNABLES`` (Linux; a value already set is kept)."""
    if sys.platform != "linux" or "GLIBC_TUNABLES" in os.environ:
        return
    os.environ["GLIBC_TUNABLES"] = ALLOCATOR
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def block(x: Any) -> Any:
    """Wait for every jax array in ``x`` (no-op for numpy/torch)."""
    try:
        import jax

        return jax.block_until_ready(x)
    except Exception:
        return x


def drain(iterable: Any) -> Any:
    """Consume ``iterable`` (one epoch of a loader) and return its last item, waited for."""
    last = None
    for item in iterable:
        last = item
    return block(last)


@dataclass
class Contender:
    """One implementation of a case: ``run`` does one timed unit of work and blocks until done.

    ``first`` (optional) is the very first call of a freshly built contender, timed once: for
    a jitted function it includes trace and compile; ``None`` means the first ``run`` is it.
    """

    run: Callable[[], Any]
    first: Callable[[], Any] | None = None


@dataclass
class Timing:
    """Throughputs (items/s) of the timed rounds of one contender, and its first-call seconds.

    ``race_id`` names the race the rounds ran in: two timings of one race have their rounds in
    the same order, so round ``i`` of each ran back to back (see ``paired_ratios``).
    """

    rates: list[float]
    first_s: float | None = None
    race_id: int | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


def paired_ratios(a: Timing, b: Timing) -> list[float] | None:
    """Per round, ``a``'s rate over ``b``'s, when both ran in the same race (else None).

    A noisy spell of a shared machine slows the contenders of one round alike, so the ratio
    within a round varies less than either throughput; its median is what the targets use.
    """
    if a.race_id is None or a.race_id != b.race_id or len(a.rates) != len(b.rates):
        return None
    return [x / y for x, y in zip(a.rates, b.rates, strict=True)]


_RACES = iter(range(1, 1 << 62))


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    block(fn())
    return time.perf_counter() - t0


def race(contenders: dict[str, Contender], items: int, runs: int, *, warmup: int = 1) -> dict[str, Timing]:
    """Time every contender round-robin: first call, ``warmup`` runs, then ``runs`` rounds."""
    first = {}
    for name, c in contenders.items():
        time.sleep(SETTLE_S)
        first[name] = _timed(c.first or c.run)
    for c in contenders.values():
        for _ in range(warmup):
            block(c.run())
    secs: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, c in contenders.items():
            time.sleep(SETTLE_S)
            secs[name].append(_timed(c.run))
    race_id = next(_RACES)
    return {name: Timing([items / s for s in ts], first[name], race_id) for name, ts in secs.items()}


def rates_of(fn: Callable[[], Any], items: int, runs: int) -> Timing:
    """One contender alone (slow peers that would stretch a round): first call, warm-up, ``runs``."""
    return race({"x": Contender(fn)}, items, runs)["x"]


def copy_blocks(data: Any, batch: int, batches: int) -> Callable[[], None]:
    """One run of ``np.copyto`` of ``batches`` contiguous batch-sized blocks of ``data`` into one buffer.

    A loader that gathers rows of ``data`` reads and writes at least these bytes per batch. Block
    ``b`` is ``data``'s block ``b % (len(data) // batch)``.
    """
    import numpy as np

    data = np.asarray(data)
    per_epoch = max(1, len(data) // batch)
    out = np.empty((batch, *data.shape[1:]), data.dtype)

    def run() -> None:
        for b in range(batches):
            lo = (b % per_epoch) * batch
            np.copyto(out, data[lo : lo + batch])

    return run


def device_copy_blocks(data: Any, batch: int, batches: int) -> Callable[[], Any]:
    """One run of ``batches`` jitted copies of batch-sized blocks of ``data`` (on the default device).

    One call per batch on block numbers already on the device: the device's copy bandwidth behind
    one dispatch per batch, which bounds any loader that makes one call per batch there.
    """
    import jax
    import numpy as np

    on_device = jax.device_put(np.asarray(data))
    per_epoch = max(1, len(on_device) // batch)
    starts = [jax.device_put(np.int32(b * batch)) for b in range(per_epoch)]
    take = jax.jit(lambda d, lo: jax.lax.dynamic_slice_in_dim(d, lo, batch) + 0)  # + 0: a real copy

    def run() -> Any:
        out = None
        for b in range(batches):
            out = take(on_device, starts[b % per_epoch])
        return out

    return run


def copy_limit(data: Any, batch: int, batches: int) -> tuple[str, Contender]:
    """(name, contender) of a case's memory-copy limit: host memory on the CPU backend, device memory elsewhere."""
    import jax

    if jax.default_backend() == "cpu":
        return "memory copy (np.copyto of batch-sized blocks, in the race)", Contender(
            copy_blocks(data, batch, batches)
        )
    name = "device memory copy (a jitted copy of each batch-sized block, one call a batch, in the race)"
    run = device_copy_blocks(data, batch, batches)
    return name, Contender(run)


@dataclass
class BenchResult:
    """One benchmark case: throughputs of modalax and its peers, side by side.

    ``rows`` holds the median throughput per implementation (what older scripts fill in);
    ``timings`` the spread and first-call time where the script measured them; ``limit`` a
    physical ceiling (name, items/s) measured in the same run, if the case has one.
    """

    title: str
    unit: str
    rows: dict[str, float] = field(default_factory=dict)  # implementation -> median items/s
    subject: str = "modalax"
    target: str = ""  # e.g. ">= 1.5x torch"
    notes: str = ""
    timings: dict[str, Timing] = field(default_factory=dict)
    limit: tuple[str, float] | None = None
    case: str = ""  # the --case letter that reruns it
    limit_timing: Timing | None = None  # the limit's rounds, when it ran in the race

    def add(self, timings: dict[str, Timing]) -> None:
        """Record the race's timings (and their medians in ``rows``)."""
        self.timings.update(timings)
        self.rows.update({name: t.median for name, t in timings.items()})

    def ratio(self, peer: str) -> float:
        """subject throughput / peer throughput."""
        return self.rows[self.subject] / self.rows[peer]

    def set_limit(self, name: str, timing: Timing) -> None:
        """The case's physical limit, measured (as a contender of the race, ideally) in this run."""
        self.limit = (name, max(timing.rates))
        self.limit_timing = timing

    def paired(self, mine: str, peer: str) -> list[float] | None:
        """Per-round ratios ``mine / peer`` (rows of the same race), else None."""
        a, b = self.timings.get(mine), self.timings.get(peer)
        return paired_ratios(a, b) if a is not None and b is not None else None


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.3g}"


def _per_round(ratios: list[float] | None) -> str:
    if not ratios:
        return ""
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def markdown(res: BenchResult) -> list[str]:
    """The result as a Markdown section: table, target, limit and notes."""
    lines = [f"### {res.title}", ""]
    if res.target:
        lines += [f"Target: {res.target}.", ""]
    lines += [
        f"| implementation | median {res.unit} | min | max | runs | first call (s) | {res.subject} ratio "
        "| per round: median (min-max) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for impl, value in res.rows.items():
        t = res.timings.get(impl)
        spread = f"{_fmt(min(t.rates))} | {_fmt(max(t.rates))} | {len(t.rates)}" if t else "| |"
        first = f"{t.first_s:.3f}" if t and t.first_s is not None else ""
        ratio = "1.00" if impl == res.subject else f"{res.rows[res.subject] / value:.2f}x"
        rounds = "" if impl == res.subject else _per_round(res.paired(res.subject, impl))
        lines.append(f"| {impl} | {_fmt(value)} | {spread} | {first} | {ratio} | {rounds} |")
    if res.limit is not None and res.subject in res.rows:
        name, rate = res.limit
        share = res.rows[res.subject] / rate
        lt = res.limit_timing
        spread = f" (median {_fmt(lt.median)}, min {_fmt(min(lt.rates))})" if lt else ""
        lines += [
            "",
            f"Physical limit: {name}, best {_fmt(rate)} {res.unit}{spread}; {res.subject} at {share:.0%} of the best.",
        ]
    if res.notes.strip():
        lines += ["", f"Notes: {res.notes.strip()}"]
    if res.case:
        lines += ["", f"Rerun: `{res.case}`."]
    return [*lines, ""]


def print_results(results: list[BenchResult]) -> None:
    """A plain-text table of ``results`` (``run_all.py`` writes the Markdown one)."""
    for res in results:
        print(f"\n{res.title}  [{res.unit}]  target {res.target}")
        for name, value in res.rows.items():
            t = res.timings.get(name)
            spread = f" [{_fmt(min(t.rates))} .. {_fmt(max(t.rates))}, n={len(t.rates)}]" if t else ""
            first = f" first {t.first_s:.3f}s" if t and t.first_s is not None else ""
            ratio = "" if name == res.subject else f"  {res.subject} is {res.ratio(name):5.2f}x"
            rounds = "" if name == res.subject else _per_round(res.paired(res.subject, name))
            print(
                f"  {name[:60]:60s} {_fmt(value):>12s}{spread}{first}{ratio}{' per round ' + rounds if rounds else ''}"
            )
        if res.limit is not None and res.subject in res.rows:
            share = res.rows[res.subject] / res.limit[1]
            rounds = ""
            if res.limit_timing is not None and res.subject in res.timings:
                per = paired_ratios(res.timings[res.subject], res.limit_timing)
                rounds = f", per round {_per_round(per)}" if per else ""
            print(f"  limit: {res.limit[0]} {_fmt(res.limit[1])} ({share:.0%} of the best{rounds})")
        if res.notes:
            print(f"  notes: {res.notes.strip()}")


def parse_args(argv: list[str] | None = None, cases: str = "") -> argparse.Namespace:
    """The common command line: ``[--quick] [--runs N] [--case X]``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="reduced sizes and runs (a smoke run)")
    parser.add_argument("--runs", type=int, default=None, help="timed rounds per case (default: per script)")
    if cases:
        parser.add_argument("--case", default=None, help=f"run one case only, one of: {', '.join(cases)}")
    parser.add_argument("--size", default=None, help="run one size only, where a script has several")
    return parser.parse_args(argv)


def call_run(run: Callable[..., list[BenchResult]], **options: Any) -> list[BenchResult]:
    """``run(**options)`` passing only the options its signature takes (older scripts take ``quick``)."""
    params = inspect.signature(run).parameters
    return run(**{k: v for k, v in options.items() if k in params and v is not None})


def main(run: Callable[..., list[BenchResult]], cases: str = "") -> None:
    """Entry point of one benchmark file: ``python bench_x.py [--quick] [--runs N] [--case X]``."""
    steady_allocator()
    args = parse_args(sys.argv[1:], cases)
    t0 = time.perf_counter()
    print_results(call_run(run, quick=args.quick, runs=args.runs, case=getattr(args, "case", None), size=args.size))
    print(f"\n({time.perf_counter() - t0:.0f} s)")
