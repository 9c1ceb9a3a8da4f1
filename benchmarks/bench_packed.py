"""Packed shards against the folder they were packed from: many small real-ish JPEGs.

``--files`` JPEGs of 256x256 (smooth colour fields plus grain, written by Pillow at quality 90,
in 10 class folders) are read as 64x64 records: by ``ImageFolderDataset`` (one file open per
record) and by the packed dataset of the same files (4 shards). Both decode with the same
``decode_image`` on their thread pools; a run reads every record once, in the loader's order
(a permutation), in batches of 64. Round-robin rounds (``benchmarks/common.py``); the script
checks both give the same values before timing.

The packed reader runs twice: with its default ``checks="records"`` (every record's CRC-32
compared with the index before it is served) and with ``checks="open"`` (the checks on open
only), so the price of the per-record check is measured where it is paid; the hashing share of
packing (a CRC-32 per record, a SHA-256 per shard) is timed on its own.

``python benchmarks/bench_packed.py [--files 2000] [--runs 5] [--dir DIR]`` (``--dir`` on a
network filesystem shows what packing saves there: one open per shard, not per file).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Contender, race

import modalax
from modalax import pack
from modalax._src.loader.order import EpochOrder
from modalax._src.packed.integrity import file_sha256, record_crc
from modalax_image import ImageModalityConfig

BATCH = 64


def write_jpegs(root: Path, n: int) -> None:
    """``n`` 256x256 JPEGs: a smooth random colour field plus sensor-like grain."""
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:256, 0:256] / 256.0
    for i in range(n):
        folder = root / f"class_{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        a, b, c = rng.uniform(0, 6, 3)
        base = np.stack([np.sin(a * xx + b * yy), np.cos(b * xx - c * yy), np.sin(c * (xx + yy))], -1)
        img = (127.5 * (base + 1) + rng.normal(0, 6, base.shape)).clip(0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{i:06d}.jpg", quality=90)


def epoch_reader(ds: object, n: int) -> object:
    order = np.asarray(EpochOrder(n, 0, 0, True).materialize())

    def run() -> int:
        for lo in range(0, n, BATCH):
            ds.get_records(order[lo : lo + BATCH])  # type: ignore[attr-defined]
        return n

    return run


def bytes_reader(ds: object, n: int, packed: bool) -> object:
    """Only the I/O: every record's encoded bytes (files opened one by one, or read from the shards)."""
    order = np.asarray(EpochOrder(n, 0, 0, True).materialize())

    def run() -> int:
        for lo in range(0, n, BATCH):
            idx = order[lo : lo + BATCH]
            if packed:
                ds.shards.reader.read(idx)  # type: ignore[attr-defined]
            else:
                [ds.paths[i].read_bytes() for i in idx]  # type: ignore[attr-defined]
        return n

    return run


def ratio(timings: dict, num: str, den: str) -> None:
    per_round = [a / b for a, b in zip(timings[num].rates, timings[den].rates, strict=True)]
    print(
        f"{num} / {den}: median {statistics.median(per_round):.2f}x "
        f"(per-round ratios {min(per_round):.2f}-{max(per_round):.2f})"
    )


def table(title: str, timings: dict) -> None:
    print(f"\n{title}\n\n| reader | median records/s | min | max |\n|---|---|---|---|")
    for name, t in timings.items():
        print(f"| {name} | {t.median:,.0f} | {min(t.rates):,.0f} | {max(t.rates):,.0f} |")
    print()
    ratio(timings, "packed", "folder")
    ratio(timings, "packed", "packed, checks=open")


def hashing_seconds(packed: object, root: Path) -> tuple[float, float]:
    """What packing spends hashing: (CRC-32 of every record, SHA-256 of every shard), in seconds."""
    reader = packed.shards.reader  # type: ignore[attr-defined]
    records = reader.read(np.arange(len(reader)))
    t0 = time.perf_counter()
    for record in records:
        record_crc(record)
    t1 = time.perf_counter()
    for path in sorted(root.glob("data.*")):
        file_sha256(path)
    return t1 - t0, time.perf_counter() - t1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", default=None, help="where to write the files (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        write_jpegs(root / "jpegs", args.files)
        config = ImageModalityConfig(height=64, width=64)
        folder = modalax.create_dataset("image", "folder", root=root / "jpegs", config=config)
        t1 = time.perf_counter()
        pack(folder, root / "packed", shards=4, progress=False)
        t2 = time.perf_counter()
        packed = modalax.create_dataset("image", "packed", root=root / "packed")
        unchecked = modalax.create_dataset("image", "packed", root=root / "packed", checks="open")
        idx = np.arange(0, args.files, max(1, args.files // 50))
        same = np.array_equal(folder.get_records(idx)["images"], packed.get_records(idx)["images"])
        assert same, "packed and folder values differ"
        files_mb = sum(p.stat().st_size for p in folder.paths) / 1e6
        shards_mb = sum(p.stat().st_size for p in (root / "packed").glob("data.*")) / 1e6
        print(f"{args.files} JPEGs 256x256 -> 64x64: files {files_mb:.1f} MB, shards {shards_mb:.1f} MB")
        print(f"writing files {t1 - t0:.1f} s, packing {t2 - t1:.1f} s ({args.files / (t2 - t1):.0f} files/s)")
        crc_s, sha_s = hashing_seconds(packed, root / "packed")
        print(
            f"hashing while packing: CRC-32 of every record {crc_s:.3f} s ({crc_s / args.files * 1e6:.1f} us a record, "
            f"the per-record check of reading), SHA-256 of the shards {sha_s:.3f} s; "
            f"{(crc_s + sha_s) / (t2 - t1):.0%} of packing"
        )
        contenders = {
            "folder": epoch_reader(folder, args.files),
            "packed": epoch_reader(packed, args.files),
            "packed, checks=open": epoch_reader(unchecked, args.files),
        }
        timings = race({k: Contender(v) for k, v in contenders.items()}, args.files, args.runs)
        table(f"decoded 64x64 records, {args.runs} rounds (value check max |delta| == 0: {same})", timings)
        raw = {
            "folder": bytes_reader(folder, args.files, False),
            "packed": bytes_reader(packed, args.files, True),
            "packed, checks=open": bytes_reader(unchecked, args.files, True),
        }
        timings = race({k: Contender(v) for k, v in raw.items()}, args.files, args.runs)
        table("encoded bytes only (the I/O part)", timings)


if __name__ == "__main__":
    main()
