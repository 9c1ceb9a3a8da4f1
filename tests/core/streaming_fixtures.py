"""Shards and generators for the streaming tests (worker processes import them by this name)."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

Fields = dict[str, bytes]


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def write_tar(path: Path, samples: Sequence[tuple[str, Fields]], *, mode: str = "w") -> Path:
    """A tar of ``samples`` (key, {field: bytes}), members in order, as WebDataset writes them."""
    with tarfile.open(path, mode) as tf:
        for key, fields in samples:
            for field, data in fields.items():
                info = tarfile.TarInfo(f"{key}.{field}")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return path


def value(shard: int, i: int) -> int:
    """The ``cls`` of sample ``i`` of shard ``shard``: unique across the data set."""
    return shard * 1000 + i


def sample(shard: int, i: int) -> tuple[str, Fields]:
    v = value(shard, i)
    return f"s{shard:02d}/{i:05d}", {
        "cls": str(v).encode(),
        "txt": f"text {v}".encode(),
        "npy": npy(np.array([v, -v], np.float32)),
    }


def make_shards(root: Path, sizes: Sequence[int]) -> list[Path]:
    """Tar shards ``shard-000.tar``... with ``sizes[s]`` samples each (``cls``, ``txt``, ``npy``)."""
    root.mkdir(parents=True, exist_ok=True)
    return [write_tar(root / f"shard-{s:03d}.tar", [sample(s, i) for i in range(n)]) for s, n in enumerate(sizes)]


def all_values(sizes: Sequence[int]) -> list[int]:
    return sorted(value(s, i) for s, n in enumerate(sizes) for i in range(n))


GEN_SIZES = (5, 3, 7, 4, 6)


def counting(shard: int) -> Iterator[dict[str, Any]]:
    """Shard ``shard`` of a generator data set: ``GEN_SIZES[shard]`` records ``{"x", "name"}``."""
    for i in range(GEN_SIZES[shard]):
        yield {"x": np.int32(value(shard, i)), "name": f"r{value(shard, i)}"}


def failing(shard: int) -> Iterator[dict[str, Any]]:
    """Like ``counting``, but shard 1 raises after two records."""
    for i in range(GEN_SIZES[shard]):
        if shard == 1 and i == 2:
            raise RuntimeError("the upstream connection dropped")
        yield {"x": np.int32(value(shard, i))}


def hf_rows(shards: list[int]) -> Iterator[dict[str, Any]]:
    """Rows of a HF generator data set: one list entry of ``gen_kwargs`` per shard."""
    for s in shards:
        for i in range(GEN_SIZES[s]):
            yield {"x": value(s, i), "vec": [float(i), 0.5], "text": f"t{value(s, i)}"}


def taken(batches: Any, key: str = "cls") -> list[int]:
    """The real (unmasked) values of ``key`` over ``batches``, in order."""
    out: list[int] = []
    for batch in batches:
        values = np.asarray(batch[key]).reshape(len(batch["mask"]) if "mask" in batch else -1, -1)[:, 0]
        mask = np.asarray(batch["mask"]) if "mask" in batch else np.ones(len(values), bool)
        out += values[mask].astype(int).tolist()
    return out


def pid_records(shard: int) -> Iterator[dict[str, Any]]:
    """Records that name the process that read them: shard-to-reader exclusivity is visible in batches."""
    import os

    for i in range(GEN_SIZES[shard]):
        yield {"x": np.int32(value(shard, i)), "pid": np.int32(os.getpid())}


def dying(shard: int) -> Iterator[dict[str, Any]]:
    """Shard 1 ends the process that reads it (a worker killed mid-shard) after one record."""
    import os

    for i in range(GEN_SIZES[shard]):
        if shard == 1 and i == 1 and os.environ.get("MODALAX_WORKER_PROCESS") == "1":
            os._exit(3)
        yield {"x": np.int32(value(shard, i))}


def hanging(shard: int) -> Iterator[dict[str, Any]]:
    """Shard 1 hangs in a worker process after one record (a stuck remote read, say)."""
    import os
    import time

    for i in range(GEN_SIZES[shard]):
        if shard == 1 and i == 1 and os.environ.get("MODALAX_WORKER_PROCESS") == "1":
            time.sleep(3600)
        yield {"x": np.int32(value(shard, i))}
