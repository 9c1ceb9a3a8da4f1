"""The pieces of streaming: shuffle buffer, epoch plan, field decoders, collation, record keys."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flax import nnx

from modalax import ConfigError, DataError
from modalax._src.operators.compose import as_pipeline
from modalax._src.streaming import IterableSource, StreamSource, as_stream, is_stream
from modalax._src.streaming.buffer import ShuffleBuffer
from modalax._src.streaming.collate import collate
from modalax._src.streaming.decode import FieldDecoding
from modalax._src.streaming.loader import StreamingLoader
from modalax._src.streaming.plan import epoch_batches, plan_epoch, process_records
from modalax._src.streaming.step import StreamStep, stream_record_keys
from modalax._src.streaming.webdataset import split_member

sys.path.insert(0, str(Path(__file__).parent))
import operator_fixtures as ops
import streaming_fixtures as fx


def drain(buffer: ShuffleBuffer[int], items: range) -> list[int]:
    out = [o for o in map(buffer.push, items) if o is not None]
    while (o := buffer.pop()) is not None:
        out.append(o)
    return out


def test_the_buffer_is_a_pure_function_of_seed_epoch_and_process() -> None:
    def order(seed: int, epoch: int, process: int, size: int = 16) -> list[int]:
        return drain(ShuffleBuffer(size, seed, epoch, process, lambda i: (0, i)), range(200))

    assert order(1, 0, 0) == order(1, 0, 0)
    assert sorted(order(1, 0, 0)) == list(range(200))
    assert len({tuple(order(1, 0, 0)), tuple(order(2, 0, 0)), tuple(order(1, 1, 0)), tuple(order(1, 0, 1))}) == 4
    assert order(1, 0, 0, size=1) == list(range(200)) == order(1, 0, 0, size=0)


def test_the_buffer_state_resumes_it_exactly() -> None:
    whole = drain(ShuffleBuffer(8, 3, 0, 0, lambda i: (0, i)), range(50))
    first = ShuffleBuffer(8, 3, 0, 0, lambda i: (0, i))
    head = [o for o in map(first.push, range(20)) if o is not None]
    held = [int(p) for _, p in first.identities()]
    assert held == first.items
    second = ShuffleBuffer(8, 3, 0, 0, lambda i: (0, i))
    second.restore(held, first.draws)
    assert head + drain(second, range(20, 50)) == whole


@pytest.mark.parametrize(("shards", "processes", "readers"), [(5, 1, 1), (7, 2, 3), (16, 4, 2), (9, 9, 1)])
def test_every_shard_goes_to_exactly_one_reader_of_one_process(shards: int, processes: int, readers: int) -> None:
    for epoch in range(3):
        plans = [plan_epoch(shards, 11, epoch, True, p, processes, readers) for p in range(processes)]
        dealt = [s for plan in plans for reader in plan.readers for s in reader]
        assert sorted(dealt) == list(range(shards))
        assert all(sorted(s for r in plan.readers for s in r) == sorted(plan.shards) for plan in plans)
        assert max(len(p.shards) for p in plans) - min(len(p.shards) for p in plans) <= 1


def test_epoch_batches_pad_to_the_largest_or_drop_to_the_smallest() -> None:
    sizes = [10, 1, 7, 3]
    per = process_records(sizes, 4, 0, 0, False, 2)
    assert per == [17, 4]
    assert epoch_batches(per, 3, drop_last=False) == 6 and epoch_batches(per, 3, drop_last=True) == 1


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("000123.jpg", ("000123", "jpg")),
        ("a/b/000123.seg.png", ("a/b/000123", "seg.png")),
        ("dir.v2/x.cls", ("dir.v2/x", "cls")),
        ("noext", ("noext", "")),
    ],
)
def test_a_member_splits_into_key_and_field(name: str, expected: tuple[str, str]) -> None:
    assert split_member(name) == expected


@pytest.mark.parametrize(
    ("field", "data", "expected"),
    [
        ("txt", "héllo".encode(), "héllo"),
        ("caption.text", b"a b", "a b"),
        ("json", b'{"a": [1, 2]}', {"a": [1, 2]}),
        ("cls", b" 7\n", np.int32(7)),
        ("id", b"-3", np.int32(-3)),
        ("npy", fx.npy(np.arange(6, dtype=np.int16).reshape(2, 3)), np.arange(6, dtype=np.int16).reshape(2, 3)),
        ("weird", b"\x00\x01", b"\x00\x01"),
    ],
)
def test_built_in_decoders(field: str, data: bytes, expected: Any) -> None:
    got = FieldDecoding("T").record({field: data}, "here")[field]
    if isinstance(expected, np.ndarray | np.generic):
        assert got.dtype == np.asarray(expected).dtype
        np.testing.assert_array_equal(got, expected)
    else:
        assert got == expected


@pytest.mark.parametrize(
    ("field", "data", "match"),
    [
        ("cls", b"1.5", r"here: field 'cls': got '1.5', expected an integer"),
        ("cls", b"99999999999", r"expected an int32 class index"),
        ("json", b"{oops", r"here: field 'json' cannot be decoded \(JSONDecodeError"),
        ("txt", b"\xff\xfe", r"here: field 'txt' cannot be decoded \(UnicodeDecodeError"),
        ("npy", b"not an array", r"here: field 'npy' cannot be decoded"),
    ],
)
def test_built_in_decoders_name_the_field(field: str, data: bytes, match: str) -> None:
    with pytest.raises(DataError, match=match):
        FieldDecoding("T").record({field: data}, "here")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"decode": {"png": 3}}, r"decode\['png'\]: got 3"),
        ({"decode": {"": "text"}}, "field name or an extension"),
        ({"decode": {"png": "no_such_modality"}}, "unknown modality 'no_such_modality'"),
        ({"configs": [1]}, "configs: got list"),
        ({"configs": {"no_such": 1}}, "unknown modality 'no_such'"),
        ({"rename": {"a": 1}}, "rename"),
    ],
)
def test_bad_decode_options_are_config_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        FieldDecoding("T", **kwargs)


def test_decoders_by_name_and_rename() -> None:
    decoding = FieldDecoding("T", decode={"meta": "json", ".bin": "npy"}, rename={"cls": "labels"})
    record = decoding.record({"meta": b"[1]", "x.bin": fx.npy(np.ones(2)), "cls": b"4"}, "here")
    assert record["meta"] == [1] and record["x.bin"].tolist() == [1.0, 1.0] and int(record["labels"]) == 4


def test_collate_stacks_arrays_and_keeps_the_rest_as_lists() -> None:
    records = [
        {"a": np.float32(i), "t": f"s{i}", "j": {"k": i, "s": "x"}, "n": {"v": np.arange(2) + i}} for i in range(3)
    ]
    batch = collate(records, lambda i: f"record {i}")
    assert batch["a"].tolist() == [0.0, 1.0, 2.0] and batch["t"] == ["s0", "s1", "s2"]
    assert batch["j"] == [{"k": i, "s": "x"} for i in range(3)]  # JSON values stay whole
    assert batch["n"]["v"].tolist() == [[0, 1], [1, 2], [2, 3]]  # dicts of arrays are stacked


def test_collate_names_the_records_that_differ() -> None:
    with pytest.raises(
        DataError, match=r"record 1 has fields \['b'\] \(extra \['b'\], missing \['a'\]\).* like record 0"
    ):
        collate([{"a": np.zeros(1)}, {"b": np.zeros(1)}], lambda i: f"record {i}")


def test_record_keys_depend_on_identity_not_on_order() -> None:
    shift = ops.Shift(ops.ShiftConfig(field_key="x", stochastic=True, stream_name="augment"), rngs=nnx.Rngs(augment=0))
    source = IterableSource(fx.counting, num_shards=len(fx.GEN_SIZES))

    def shifts(**kw: Any) -> dict[tuple[int, int, int], float]:
        loader = StreamingLoader(source, 4, operators=[shift], with_indices=True, num_epochs=2, seed=5, **kw)
        out: dict[tuple[int, int, int], float] = {}
        per_epoch = -(-sum(fx.GEN_SIZES) // 4)
        for b, batch in enumerate(loader):
            for (s, p), x, ok in zip(np.asarray(batch["index"]), np.asarray(batch["x"]), np.asarray(batch["mask"])):
                if ok:
                    out[(b // per_epoch, int(s), int(p))] = float(x) - fx.value(int(s), int(p))
        return out

    plain = shifts()
    assert plain == shifts(shuffle_buffer=7, shuffle_shards=True, readers=2)
    assert len(set(plain.values())) == len(plain)  # every record, every epoch its own draw
    pipeline = as_pipeline([shift])  # the loader's chain: a Compose of the operators
    step = StreamStep(pipeline, 5)
    keys = stream_record_keys(step.epoch_key(1), np.array([2, 0], np.int32), np.array([3, 1], np.int32))
    batch = {"x": np.array([fx.value(2, 3), fx.value(0, 1)], np.int32)}
    want = np.asarray(pipeline.pipeline_fn(batch, keys)["x"]) - batch["x"]
    np.testing.assert_allclose(want, [plain[(1, 2, 3)], plain[(1, 0, 1)]], rtol=1e-6)


def test_streams_are_told_apart_from_random_access_sources() -> None:
    datasets = pytest.importorskip("datasets")
    assert is_stream(iter([1])) and is_stream(IterableSource([{"x": 1}]))
    assert is_stream(datasets.IterableDataset.from_generator(fx.hf_rows, gen_kwargs={"shards": [0]}))
    assert not is_stream([{"x": 1}]) and not is_stream(np.zeros(3)) and not is_stream(fx.counting)
    assert isinstance(as_stream([{"x": 1}]), StreamSource)
    with pytest.raises(ConfigError, match="WebDatasetSource"):
        as_stream("shards/*.tar")


def test_a_state_is_plain_json() -> None:
    loader = StreamingLoader([{"x": i} for i in range(10)], 3, shuffle_buffer=4)
    it = iter(loader)
    next(it)
    assert json.loads(json.dumps(it.state_dict())) == it.state_dict()
