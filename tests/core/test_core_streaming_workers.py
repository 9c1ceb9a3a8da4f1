"""StreamingLoader with worker processes: the order of workers=0, each shard read by one worker."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modalax import DataError
from modalax._src.streaming import IterableSource, WebDatasetSource
from modalax._src.streaming.loader import StreamingLoader

sys.path.insert(0, str(Path(__file__).parent))  # the workers import the fixtures by this name
import streaming_fixtures as fx

pytestmark = pytest.mark.multiprocess

SIZES = (7, 3, 11, 5, 9, 4)


def same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert sorted(x) == sorted(y)
        for k in x:
            if isinstance(x[k], list):
                assert x[k] == y[k]
            else:
                assert np.asarray(x[k]).tobytes() == np.asarray(y[k]).tobytes(), k


def test_workers_give_the_batches_of_workers_0(tmp_path: Path) -> None:
    shards = fx.make_shards(tmp_path, SIZES)
    kw = {"shuffle_shards": True, "shuffle_buffer": 9, "readers": 3, "seed": 7, "num_epochs": 2, "chunk_size": 4}
    local = list(StreamingLoader(WebDatasetSource(shards), 5, **kw))
    loader = StreamingLoader(WebDatasetSource(shards), 5, workers=2, **kw)
    try:
        same(local, list(loader))
        same(local, list(loader))  # a second pass on the same pool
    finally:
        loader.close()


def test_each_shard_is_read_by_the_worker_of_its_reader() -> None:
    source = IterableSource(fx.pid_records, num_shards=len(fx.GEN_SIZES))
    loader = StreamingLoader(source, 4, workers=2, readers=4, shuffle_shards=True, seed=3, with_indices=True)
    try:
        pid_of: dict[int, set[int]] = {}
        for batch in loader:
            mask = np.asarray(batch["mask"])
            for (shard, _), pid in zip(np.asarray(batch["index"])[mask], np.asarray(batch["pid"])[mask], strict=True):
                pid_of.setdefault(int(shard), set()).add(int(pid))
        workers = {p for pids in pid_of.values() for p in pids}
        assert len(workers) == 2 and all(len(p) == 1 for p in pid_of.values())
        import os

        assert os.getpid() not in workers
        # Readers r and r + 2 share worker r % 2: shards of readers 0 and 1 are never read by the same worker.
        from modalax._src.streaming.plan import plan_epoch

        plan = plan_epoch(len(fx.GEN_SIZES), 3, 0, True, 0, 1, 4)
        by_worker = [{s for r in (w, w + 2) for s in plan.readers[r]} for w in range(2)]
        assert {next(iter(pid_of[s])) for s in by_worker[0]}.isdisjoint({next(iter(pid_of[s])) for s in by_worker[1]})
    finally:
        loader.close()


def test_a_worker_that_dies_is_a_data_error_naming_the_shard() -> None:
    loader = StreamingLoader(IterableSource(fx.dying, num_shards=3, name="dying"), 2, workers=1)
    try:
        with pytest.raises(
            DataError,
            match=r"reader 0: reading from position 0 of shard 'dying\[0\]' on .* 'dying\[1\]'.* died \(exit code 3\)",
        ):
            list(loader)
    finally:
        loader.close()
