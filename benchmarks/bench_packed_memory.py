"""Peak memory while streaming a packed dataset far larger than the memory it needs.

Packs ``--records`` (default 10^6) synthetic 8x8x3 uint8 images plus an int32 label each,
generated on the fly (nothing is held in memory), into 8 shards, then streams one shuffled
epoch through ``modalax.DataLoader`` (global batch 1024) and prints the resident set size at
10/50/100% of the epoch: it stays flat, because records are read by index and nothing is
cached. ``python benchmarks/bench_packed_memory.py [--records N] [--dir DIR]``.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def rss_mb() -> float:
    """Current resident set size (MB), from /proc where it exists, else the peak."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


class Generated:
    """Record ``i``: an 8x8x3 uint8 image and a label, computed from ``i`` when asked for."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def get_records(self, indices: Any) -> dict[str, np.ndarray]:
        idx = np.asarray(indices, np.int64)
        pixels = (idx[:, None] * 2654435761 + np.arange(192)) % 251
        return {"images": pixels.astype(np.uint8).reshape(-1, 8, 8, 3), "labels": (idx % 10).astype(np.int32)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dir", default=None, help="where to write the shards (default: a temporary folder)")
    args = parser.parse_args()
    from modalax import DataLoader, PackedDataset, pack

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        t0 = time.perf_counter()
        pack(Generated(args.records), Path(tmp) / "packed", shards=8, progress=True)
        size = sum(p.stat().st_size for p in (Path(tmp) / "packed").iterdir()) / 1e6
        print(f"packed {args.records:,} records ({size:,.0f} MB on disk) in {time.perf_counter() - t0:.0f} s")
        loader = DataLoader(PackedDataset(root=Path(tmp) / "packed"), 1024, seed=0, prefetch=2)
        marks = {max(1, round(len(loader) * f)): f for f in (0.1, 0.5, 1.0)}
        print(f"before the epoch: RSS {rss_mb():,.0f} MB")
        t0 = time.perf_counter()
        seen = 0
        for b, batch in enumerate(loader, 1):
            seen += int(np.asarray(batch["mask"]).sum())
            if b in marks:
                took = time.perf_counter() - t0
                print(f"{marks[b]:>4.0%} of the epoch ({seen:,} records, {took:.0f} s): RSS {rss_mb():,.0f} MB")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux
        print(f"peak RSS {peak:,.0f} MB; {seen:,} records read once each ({size:,.0f} MB of shards)")
        assert seen == args.records


if __name__ == "__main__":
    main()
