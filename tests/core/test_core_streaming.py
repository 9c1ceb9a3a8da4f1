"""StreamingLoader: exact record sets per epoch, the documented order, determinism, processes, len."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modalax import ConfigError
from modalax._src.streaming import IterableSource, UnknownLengthError, WebDatasetSource
from modalax._src.streaming.loader import StreamingLoader

sys.path.insert(0, str(Path(__file__).parent))
import streaming_fixtures as fx

SIZES = (7, 3, 11, 5, 9)
TOTAL = sum(SIZES)


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return fx.make_shards(tmp_path_factory.mktemp("wds"), SIZES)


def per_epoch(loader: StreamingLoader, batches_per_epoch: int) -> list[list[int]]:
    batches = list(loader)
    assert len(batches) == batches_per_epoch * loader.num_epochs
    return [fx.taken(batches[e * batches_per_epoch : (e + 1) * batches_per_epoch]) for e in range(loader.num_epochs)]


@pytest.mark.parametrize(
    ("shuffle_shards", "buffer", "readers", "batch"),
    [(False, 0, 1, 4), (True, 0, 1, 5), (True, 16, 2, 4), (True, 100, 3, 8), (False, 7, 2, 1), (True, 2, 5, 35)],
)
def test_every_record_once_per_epoch(
    shards: list[Path], shuffle_shards: bool, buffer: int, readers: int, batch: int
) -> None:
    loader = StreamingLoader(
        WebDatasetSource(shards),
        batch,
        shuffle_shards=shuffle_shards,
        shuffle_buffer=buffer,
        readers=readers,
        seed=3,
        num_epochs=3,
    )
    epochs = per_epoch(loader, -(-TOTAL // batch))
    for values in epochs:
        assert sorted(values) == fx.all_values(SIZES)
    if shuffle_shards or buffer > 1:
        assert epochs[0] != epochs[1]  # a new order every epoch


def test_unshuffled_order_is_readers_round_robin(shards: list[Path]) -> None:
    # Reader r reads shards r, r + R, ... in order; one record from each reader in turn.
    loader = StreamingLoader(WebDatasetSource(shards), 4, readers=2)
    streams = [
        [fx.value(s, i) for s in (0, 2, 4) for i in range(SIZES[s])],
        [fx.value(s, i) for s in (1, 3) for i in range(SIZES[s])],
    ]
    expected: list[int] = []
    while any(streams):
        for stream in streams:
            if stream:
                expected.append(stream.pop(0))
    assert fx.taken(loader) == expected


def test_padded_last_batch_repeats_records_masked(shards: list[Path]) -> None:
    batches = list(StreamingLoader(WebDatasetSource(shards), 8))
    last = batches[-1]
    assert np.asarray(last["mask"]).tolist() == [True] * (TOTAL % 8) + [False] * (8 - TOTAL % 8)
    cls = np.asarray(last["cls"])
    assert cls[TOTAL % 8 :].tolist() == [cls[i % (TOTAL % 8)] for i in range(TOTAL % 8, 8)]
    assert all(np.asarray(b["mask"]).all() for b in batches[:-1])


def test_fields_decode_to_their_values(shards: list[Path]) -> None:
    batch = next(iter(StreamingLoader(WebDatasetSource(shards), 3)))
    cls = np.asarray(batch["cls"])
    assert cls.dtype == np.int32 and cls.tolist() == [0, 1, 2]
    assert batch["txt"] == ["text 0", "text 1", "text 2"]
    np.testing.assert_array_equal(np.asarray(batch["npy"]), np.array([[v, -v] for v in (0, 1, 2)], np.float32))


def test_same_seed_same_batches_other_seed_other_order(shards: list[Path]) -> None:
    def run(seed: int) -> list[int]:
        return fx.taken(StreamingLoader(WebDatasetSource(shards), 4, shuffle_shards=True, shuffle_buffer=10, seed=seed))

    assert run(5) == run(5)
    assert run(5) != run(6)
    assert sorted(run(6)) == fx.all_values(SIZES)


def test_shuffle_buffer_mixes_within_its_size(shards: list[Path]) -> None:
    plain = fx.taken(StreamingLoader(WebDatasetSource(shards), 5))
    mixed = fx.taken(StreamingLoader(WebDatasetSource(shards), 5, shuffle_buffer=6, seed=1))
    assert mixed != plain and sorted(mixed) == sorted(plain)
    # A record leaves at most once the buffer has seen `size` newer records: never later than that.
    where = {v: i for i, v in enumerate(mixed)}
    assert all(where[v] >= i - 6 for i, v in enumerate(plain))


def test_drop_last_drops_the_partial_batch_and_counts_it(shards: list[Path]) -> None:
    loader = StreamingLoader(WebDatasetSource(shards), 4, drop_last=True, num_epochs=2)
    batches = list(loader)
    assert len(batches) == 2 * (TOTAL // 4) and "mask" not in batches[0]
    assert loader.dropped == 2 * (TOTAL % 4)


def split(shards: list[Path], count: int, **kw: Any) -> list[StreamingLoader]:
    source = WebDatasetSource(shards, shard_sizes=list(SIZES))
    return [StreamingLoader(source, 2 * count, shard_index=p, num_shards=count, **kw) for p in range(count)]


@pytest.mark.parametrize("count", [2, 3, 5])
def test_processes_read_disjoint_shards_and_yield_as_many_batches(shards: list[Path], count: int) -> None:
    loaders = split(shards, count, shuffle_shards=True, shuffle_buffer=4, seed=2, num_epochs=2)
    runs = [list(loader) for loader in loaders]
    assert len({len(r) for r in runs}) == 1  # every process yields the same number of batches
    for epoch in range(2):
        n = loaders[0].epoch_batches(epoch)
        parts = [fx.taken(r[sum(loaders[0].epoch_batches(e) for e in range(epoch)) :][:n]) for r in runs]
        shard_sets = [{v // 1000 for v in part} for part in parts]
        assert sum(map(len, shard_sets)) == len(SIZES)  # each shard read by exactly one process
        assert sorted(v for part in parts for v in part) == fx.all_values(SIZES)


def test_processes_with_drop_last_stop_at_the_smallest_and_count_the_rest(shards: list[Path]) -> None:
    loaders = split(shards, 2, drop_last=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = [list(loader) for loader in loaders]
    per = [sum(SIZES[0::2]), sum(SIZES[1::2])]  # shards 0,2,4 and 1,3: 27 and 8 records
    assert [len(r) for r in runs] == [min(per) // 2] * 2
    assert [loader.dropped for loader in loaders] == [n - min(per) // 2 * 2 for n in per]
    assert any("stopped at 4 batches" in str(w.message) for w in caught)
    assert all(np.asarray(b["mask"]).all() for r in runs for b in r)


def test_processes_without_sizes_need_a_fixed_count(shards: list[Path]) -> None:
    with pytest.raises(ConfigError, match="shard_sizes"):
        StreamingLoader(WebDatasetSource(shards), 4, shard_index=0, num_shards=2)
    with pytest.warns(RuntimeWarning, match="left 1 records it had read and an unknown number"):
        runs = [
            list(StreamingLoader(WebDatasetSource(shards), 4, shard_index=p, num_shards=2, batches_per_epoch=10))
            for p in range(2)
        ]
    assert [len(r) for r in runs] == [10, 10]
    # Process 1 holds 8 records: 4 batches of 2, then masked batches of padding.
    assert sorted(fx.taken(runs[1])) == sorted(fx.value(s, i) for s in (1, 3) for i in range(SIZES[s]))
    assert [bool(np.asarray(b["mask"]).any()) for b in runs[1]] == [True] * 4 + [False] * 6


def test_fewer_shards_than_processes_is_a_config_error(shards: list[Path]) -> None:
    with pytest.raises(ConfigError, match="at least one shard per process"):
        StreamingLoader(WebDatasetSource(shards[:2], shard_sizes=[7, 3]), 3, shard_index=0, num_shards=3)


def test_len_is_known_only_with_sizes(shards: list[Path]) -> None:
    loader = StreamingLoader(WebDatasetSource(shards), 4)
    with pytest.raises(UnknownLengthError, match="shard sizes are unknown") as info:
        len(loader)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ConfigError)
    assert len(list(loader)) == -(-TOTAL // 4)  # list() falls back when len() is a TypeError
    with pytest.raises(TypeError, match="count_samples"):
        len(WebDatasetSource(shards))
    sized = WebDatasetSource(shards, shard_sizes=WebDatasetSource(shards).count_samples())
    assert sized.shard_sizes == list(SIZES) and len(sized) == TOTAL
    assert len(StreamingLoader(sized, 4)) == -(-TOTAL // 4)
    assert len(StreamingLoader(sized, 4, drop_last=True)) == TOTAL // 4


def test_a_progress_bar_counts_batches(shards: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    assert len(list(StreamingLoader(WebDatasetSource(shards), 4, progress=True))) == 9
    assert "9batch" in capsys.readouterr().err.replace(" ", "")


def test_a_global_shuffle_is_refused(shards: list[Path]) -> None:
    with pytest.raises(ConfigError, match=r"no global permutation.*shuffle_buffer"):
        StreamingLoader(WebDatasetSource(shards), 4, shuffle=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"shuffle_buffer": -1}, "shuffle_buffer"),
        ({"num_epochs": 0}, "num_epochs"),
        ({"workers": 3, "readers": 2}, "workers <= readers"),
        ({"batch_size": 5, "num_shards": 2, "shard_index": 0, "batches_per_epoch": 3}, "multiple of num_shards"),
        ({"shard_index": 2, "num_shards": 2, "batches_per_epoch": 3}, "shard_index"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_settings_are_config_errors(shards: list[Path], kwargs: dict[str, Any], match: str) -> None:
    args = {"batch_size": 4, **kwargs}
    with pytest.raises(ConfigError, match=match):
        StreamingLoader(WebDatasetSource(shards), args.pop("batch_size"), **args)


# ------------------------------------------------------------------ iterables
def test_a_generator_factory_per_shard_is_read_every_epoch() -> None:
    source = IterableSource(fx.counting, num_shards=len(fx.GEN_SIZES))
    loader = StreamingLoader(source, 3, shuffle_shards=True, shuffle_buffer=5, num_epochs=2, seed=4)
    total = sum(fx.GEN_SIZES)
    epochs = per_epoch_x(loader, -(-total // 3))
    everything = sorted(fx.value(s, i) for s, n in enumerate(fx.GEN_SIZES) for i in range(n))
    assert [sorted(e) for e in epochs] == [everything, everything] and epochs[0] != epochs[1]


def per_epoch_x(loader: StreamingLoader, n: int) -> list[list[int]]:
    batches = list(loader)
    return [fx.taken(batches[e * n : (e + 1) * n], "x") for e in range(loader.num_epochs)]


def test_a_list_is_one_shard_read_every_epoch() -> None:
    records = [{"x": i, "name": f"n{i}"} for i in range(7)]
    loader = StreamingLoader(records, 3, num_epochs=2)
    batches = list(loader)
    assert fx.taken(batches, "x") == list(range(7)) * 2
    assert batches[0]["name"] == ["n0", "n1", "n2"]


def test_a_bare_generator_is_read_once() -> None:
    loader = StreamingLoader((np.float32(i) for i in range(5)), 2)
    assert fx.taken(loader, "data") == [0, 1, 2, 3, 4]
    with pytest.raises(Exception, match="can be read once"):
        list(loader)
    with pytest.raises(ConfigError, match="num_epochs=1"):
        StreamingLoader((i for i in range(5)), 2, num_epochs=2)
    with pytest.raises(ConfigError, match="workers=0"):
        StreamingLoader((i for i in range(5)), 2, workers=1)
    with pytest.raises(ConfigError, match="cannot be read again"):
        StreamingLoader((i for i in range(5)), 2).load_state_dict({})


def test_an_unpicklable_factory_with_workers_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot be pickled"):
        StreamingLoader(IterableSource(lambda: iter(range(3))), 2, workers=1)


# ------------------------------------------------------------------ HF datasets
def test_a_hf_iterable_dataset_streams_its_shards() -> None:
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {
            "x": datasets.Value("int32"),
            "vec": datasets.Sequence(datasets.Value("float32")),
            "text": datasets.Value("string"),
        }
    )
    ds = datasets.IterableDataset.from_generator(fx.hf_rows, gen_kwargs={"shards": list(range(5))}, features=features)
    loader = StreamingLoader(ds, 4, shuffle_shards=True, shuffle_buffer=3, seed=1)
    assert loader.source.num_shards == 5
    batches = list(loader)
    everything = sorted(fx.value(s, i) for s, n in enumerate(fx.GEN_SIZES) for i in range(n))
    assert sorted(fx.taken(batches, "x")) == everything
    assert np.asarray(batches[0]["vec"]).dtype == np.float32 and batches[0]["vec"].shape == (4, 2)
    assert all(t == f"t{x}" for b in batches for t, x in zip(b["text"], np.asarray(b["x"])))
    halves = [StreamingLoader(ds, 4, shard_index=p, num_shards=2, batches_per_epoch=9) for p in range(2)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = [fx.taken(h, "x") for h in halves]
    assert not set(got[0]) & set(got[1]) and sorted(got[0] + got[1]) == everything
