"""``workers="auto"``: whether worker processes would pay for themselves, from one batch decoded here.

Worker processes pay when decoding holds the GIL (Python transforms, pure-Python parsing): the
loader's process then decodes on about one core whatever its thread pool, and N processes give
up to N cores. They do not pay when the decode threads already keep the cores busy (Pillow,
libsndfile and numpy release the GIL for the heavy parts: on 2 cores the thread pool ran the
image benchmark at 1.6-1.9 cores), when a batch is so cheap that moving it between processes
costs as much as making it, or when the run is too short to win back the workers' start-up.

The loader decodes the first batch of its first pass in its own process (that batch is served
as usual) and measures its wall time and the process's CPU time over it; ``cpu / wall`` is the
number of cores its decoding kept busy. The first batch is the only one with nothing else
running in the process (the consumer is waiting for it); it also carries first-use costs (a lazy
import, a cold file cache), which make the estimate lean towards workers, the cheaper mistake for
a long run. The choice is made once per loader and kept in ``DataLoader.worker_choice``.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["BUSY_SHARE", "MAX_AUTO", "MIN_BATCH_S", "START_S", "WorkerChoice", "choose_workers"]

BUSY_SHARE = 0.75  # decoding here keeps this share of the cores busy: workers would gain < 1.33x
MIN_BATCH_S = 0.005  # a batch made faster than this costs as much to move between processes
START_S = 2.0  # what starting workers may cost (a server importing jax on a busy 2-core VM, measured)
MAX_AUTO = 16  # the most workers "auto" picks


class WorkerChoice(NamedTuple):
    """What ``workers="auto"`` chose, and why (measured on the first batch)."""

    workers: int
    reason: str


def choose_workers(wall_s: float, cpu_s: float, cores: int, remaining_batches: int | None) -> WorkerChoice:
    """Workers for a source whose batch took ``wall_s`` (``cpu_s`` of the process's CPU) here.

    ``remaining_batches`` is what the run still reads after the probe (None: endless).
    """
    if cores < 2:
        return WorkerChoice(0, "one usable core: processes cannot decode in parallel")
    if wall_s < MIN_BATCH_S:
        return WorkerChoice(
            0, f"a batch takes {wall_s * 1e3:.1f} ms here: moving it between processes would cost as much"
        )
    busy = max(cpu_s, 0.0) / wall_s
    if busy >= BUSY_SHARE * cores:
        return WorkerChoice(
            0, f"decoding here keeps {busy:.1f} of {cores} cores busy already (its threads release the GIL)"
        )
    workers = min(cores, MAX_AUTO)
    speedup = workers / max(busy, 1.0)
    if remaining_batches is not None:
        saved = remaining_batches * wall_s * (1 - 1 / speedup)
        if saved < START_S:
            return WorkerChoice(
                0,
                f"the run has {remaining_batches} batches left of {wall_s * 1e3:.0f} ms: workers would save "
                f"about {saved:.1f} s, less than the {START_S:.0f} s they may take to start",
            )
    return WorkerChoice(
        workers, f"decoding here keeps {busy:.1f} of {cores} cores busy (it holds the GIL): {workers} processes"
    )
