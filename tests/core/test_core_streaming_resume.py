"""Exact resume: a restored stream yields exactly the rest of the uninterrupted one, at every cut."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flax import nnx

from modalax import ConfigError
from modalax._src.streaming import IterableSource, WebDatasetSource
from modalax._src.streaming.loader import StreamingLoader

sys.path.insert(0, str(Path(__file__).parent))
import operator_fixtures as ops
import streaming_fixtures as fx

SIZES = (7, 3, 11, 5, 9, 4)


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return fx.make_shards(tmp_path_factory.mktemp("wds"), SIZES)


def signature(batch: dict[str, Any]) -> list[Any]:
    return [(k, v if isinstance(v, list) else np.asarray(v).tobytes()) for k, v in sorted(batch.items())]


def run_with_states(loader: StreamingLoader) -> tuple[list[list[Any]], list[str]]:
    batches, states = [], [json.dumps(loader.state_dict())]
    for batch in loader:
        batches.append(signature(batch))
        states.append(json.dumps(loader.state_dict()))  # the state survives a JSON round trip
    return batches, states


def check_every_cut(make: Any, loader: StreamingLoader | None = None, step: int = 1) -> int:
    batches, states = run_with_states(make())
    assert batches
    restored = loader or make()
    for cut in range(0, len(states), step):
        restored.load_state_dict(states[cut])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the state after the last batch: nothing left
            rest = [signature(b) for b in restored]
        assert rest == batches[cut:], f"cut {cut}"
    return len(states)


CONFIGS = [
    {"batch_size": 4},
    {"batch_size": 4, "shuffle_shards": True, "shuffle_buffer": 10, "readers": 2, "seed": 1},
    {"batch_size": 3, "shuffle_shards": True, "shuffle_buffer": 50, "readers": 4, "chunk_size": 2, "drop_last": True},
    {"batch_size": 5, "shuffle_buffer": 6, "readers": 3, "read_ahead": 1, "with_indices": True},
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_resume_at_every_cut_without_workers(shards: list[Path], config: dict[str, Any]) -> None:
    cfg = dict(config)
    batch = cfg.pop("batch_size")
    cuts = check_every_cut(lambda: StreamingLoader(WebDatasetSource(shards), batch, num_epochs=2, **cfg))
    assert cuts > 15


def test_resume_across_processes_with_padding(shards: list[Path]) -> None:
    source = WebDatasetSource(shards, shard_sizes=list(SIZES))
    for p in range(3):
        check_every_cut(
            lambda p=p: StreamingLoader(
                source, 6, shard_index=p, num_shards=3, shuffle_shards=True, shuffle_buffer=5, num_epochs=2, seed=9
            )
        )


def test_resume_keeps_per_record_augmentation() -> None:
    shift = ops.Shift(ops.ShiftConfig(field_key="x", stochastic=True, stream_name="augment"), rngs=nnx.Rngs(augment=0))
    source = IterableSource(fx.counting, num_shards=len(fx.GEN_SIZES))

    def make() -> StreamingLoader:
        return StreamingLoader(source, 3, operators=[shift], shuffle_buffer=4, shuffle_shards=True, num_epochs=2)

    check_every_cut(make)


@pytest.mark.multiprocess
def test_resume_at_many_cuts_with_workers(shards: list[Path]) -> None:
    cfg = {"shuffle_shards": True, "shuffle_buffer": 10, "readers": 3, "seed": 2, "num_epochs": 2, "chunk_size": 3}

    def make(workers: int = 0) -> StreamingLoader:
        return StreamingLoader(WebDatasetSource(shards), 4, workers=workers, **cfg)

    pooled = make(workers=2)
    try:
        check_every_cut(make, pooled, step=2)  # states of workers=0 restored in a loader with workers
        batches, states = run_with_states(pooled)
        local = make()
        for cut in (1, 7, 12):
            local.load_state_dict(states[cut])
            assert [signature(b) for b in local] == batches[cut:]
    finally:
        pooled.close()


def test_the_state_after_the_run_yields_nothing(shards: list[Path]) -> None:
    loader = StreamingLoader(WebDatasetSource(shards), 4)
    list(loader)
    state = loader.state_dict()
    assert state["epoch"] == 1 and state["batch"] == 0
    fresh = StreamingLoader(WebDatasetSource(shards), 4)
    fresh.load_state_dict(state)
    with pytest.warns(RuntimeWarning, match="end of the run"):
        assert list(fresh) == []


def test_the_state_names_buffered_records_by_identity(shards: list[Path]) -> None:
    loader = StreamingLoader(WebDatasetSource(shards), 4, shuffle_buffer=8, readers=2)
    it = iter(loader)
    next(it)
    state = it.state_dict()
    assert len(state["buffer"]) == 8 and all(len(pair) == 2 for pair in state["buffer"])
    # 12 records read, 6 by each reader: reader 0 in shard 0 (7 samples), reader 1 all 3 of shard 1
    # and 3 of shard 3 (its second shard, slot 1).
    assert state["streams"] == [[0, 6], [1, 3]]
    it.close()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"seed": 1}, "seed"),
        ({"batch_size": 8}, "batch_size"),
        ({"shuffle_buffer": 3}, "shuffle_buffer"),
        ({"readers": 3}, "readers"),
        ({"kind": "loader"}, "kind"),
        ({"epoch": -1}, "epoch"),
        ({"streams": [[0, 1]]}, "cursors"),
        ({"buffer": [[1]]}, "pairs"),
        ({"active": [7]}, "active"),
        ({"num_shards": 5}, "num_shards"),
        ({"shards_crc": 1}, "shards_crc"),
    ],
)
def test_a_state_of_another_run_is_a_config_error(shards: list[Path], change: dict[str, Any], match: str) -> None:
    loader = StreamingLoader(WebDatasetSource(shards), 4, shuffle_buffer=4, readers=2)
    it = iter(loader)
    next(it)
    state = {**it.state_dict(), **change}
    with pytest.raises(ConfigError, match=match):
        StreamingLoader(WebDatasetSource(shards), 4, shuffle_buffer=4, readers=2).load_state_dict(state)


def test_a_bad_json_state_is_a_config_error(shards: list[Path]) -> None:
    with pytest.raises(ConfigError, match="not valid JSON"):
        StreamingLoader(WebDatasetSource(shards), 4).load_state_dict("{oops")


def test_a_loaded_state_supersedes_the_iterator(shards: list[Path]) -> None:
    from modalax._src.errors import StaleIteratorError

    loader = StreamingLoader(WebDatasetSource(shards), 4)
    it = iter(loader)
    next(it)
    loader.load_state_dict(loader.state_dict())
    with pytest.raises(StaleIteratorError):
        next(it)
