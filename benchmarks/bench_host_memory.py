"""Resident memory while the loader streams 10^7 host-side records through shipped operators.

Not a speed benchmark: it checks that nothing accumulates per batch on the host path (a
source read on the host, decoded in the prefetch thread, an operator chain jitted on the
device). The source generates each record from its index (no storage), so any growth of
the resident set between 10% and 100% of the epoch is the loader's. Prints RSS (current and
peak, from /proc and ``resource``) at 10 / 50 / 100%.

    python benchmarks/bench_host_memory.py [--records 10000000] [--batch 256]
"""

from __future__ import annotations

import argparse
import resource
from typing import Any

import numpy as np

from modalax import DataLoader, IndexedSource


def rss_mib() -> float:
    """Current resident set size of this process (MiB), from /proc."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_mib() -> float:
    """Peak resident set size of this process (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class GeneratedImages(IndexedSource):
    """Record i: an 8x8x3 uint8 image whose pixels are a function of i (read on the host)."""

    traceable = False

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def get_records(self, indices: Any) -> dict[str, np.ndarray]:
        idx = np.asarray(indices, np.int64)
        pixels = (idx[:, None, None, None] * 7 + np.arange(8 * 8 * 3).reshape(1, 8, 8, 3)) % 251
        return {"images": pixels.astype(np.uint8), "labels": (idx % 10).astype(np.int32)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()

    from flax import nnx

    from modalax_image import BrightnessConfig, BrightnessOperator, FlipConfig, FlipOperator

    augment = {"field_key": "images", "stochastic": True, "stream_name": "augment"}
    ops = [
        FlipOperator(FlipConfig(**augment), rngs=nnx.Rngs(0, augment=1)),
        BrightnessOperator(BrightnessConfig(**augment, clip_range=(0.0, 1.0)), rngs=nnx.Rngs(0, augment=2)),
    ]
    loader = DataLoader(GeneratedImages(args.records), args.batch, seed=0, operators=ops)
    total = len(loader)
    marks = {max(1, round(total * f)): f for f in (0.1, 0.5, 1.0)}
    print(f"{args.records:,} records, batch {args.batch}, {total:,} batches; RSS before: {rss_mib():.1f} MiB")
    checksum = 0.0
    for i, batch in enumerate(loader, start=1):
        if i % 512 == 0 or i in marks:
            checksum += float(batch["images"][0, 0, 0, 0])  # waits for the step now and then
        if i in marks:
            print(f"{marks[i]:>5.0%}  batch {i:>8,}  RSS {rss_mib():8.1f} MiB  peak {peak_mib():8.1f} MiB")
    print(f"checksum {checksum:.3f}")


if __name__ == "__main__":
    main()
