"""Packed shards: pack anything, read it back by index, through the loader, under bad input."""

from __future__ import annotations

import hashlib
import json
import pickle
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("array_record")

from modalax import ArraySource, ConfigError, DataError, DataLoader
from modalax._src.packed import PackedDataset, PackedReader, decode_record, encode_record, pack

from .multiprocess_fixtures import ROOT, two_process_digests
from .source_fixtures import NoiseDataset, NpyFolder, digest, valid_ids

N = 37


def _data(n: int = N) -> dict[str, Any]:
    return {
        "x": np.arange(n * 6, dtype=np.float32).reshape(n, 2, 3),
        "id": np.arange(n, dtype=np.int32),
        "flag": np.arange(n) % 3 == 0,
        "name": np.array([f"record {i} é" for i in range(n)]),
    }


@pytest.fixture
def packed(tmp_path: Path) -> Path:
    pack(ArraySource(_data(), on_device=False), tmp_path / "p", shards=3, progress=False)
    return tmp_path / "p"


def _files(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.iterdir())}


def test_records_round_trip_every_kind_exactly() -> None:
    record = {
        "a": np.arange(6, dtype=">i2").reshape(2, 3),
        "s": np.float64(2.5),
        "b": np.array([True, False]),
        "c": np.complex64(1 + 2j),
        "t": "naïve ☃",
        "f": b"\x89PNG\x00",
        "e": np.zeros((0, 4), np.uint8),
    }
    out = decode_record(encode_record(record))
    assert sorted(out) == sorted(record)
    for key, value in record.items():
        if isinstance(value, str | bytes):
            assert out[key] == value
        else:
            assert out[key].shape == np.shape(value) and out[key].dtype == np.asarray(value).dtype.newbyteorder("<")
            np.testing.assert_array_equal(out[key], value)


def test_pack_and_read_back_by_index(packed: Path) -> None:
    data = _data()
    index = json.loads((packed / "index.json").read_text())
    assert index["num_records"] == N and [s["num_records"] for s in index["shards"]] == [12, 12, 13]
    assert index["fields"]["x"] == {"kind": "array", "dtype": "<f4", "shape": [2, 3]}
    assert index["fields"]["name"]["kind"] == "text" and index["version"] == 2 and index["format"] == "modalax.packed"
    assert index["record_checksums"] == "records.crc32" and set(index["files"]) == {"records.crc32"}
    assert [s["size"] for s in index["shards"]] == [(packed / s["path"]).stat().st_size for s in index["shards"]]
    ds = PackedDataset(root=packed)
    idx = np.array([36, 0, 12, 11, 24, 5])
    got = ds.get_records(idx)
    for key in ("x", "id", "flag"):
        np.testing.assert_array_equal(got[key], data[key][idx])
        assert got[key].dtype == data[key].dtype
    assert got["name"] == [str(s) for s in data["name"][idx]]
    assert ds[-1]["id"] == N - 1


def test_grain_array_record_data_source_reads_the_shards(packed: Path) -> None:
    grain = pytest.importorskip("grain")
    shards = [str(packed / s["path"]) for s in json.loads((packed / "index.json").read_text())["shards"]]
    source = grain.sources.ArrayRecordDataSource(shards)
    assert len(source) == N
    for i in (0, 11, 12, 36):
        record = decode_record(source[i])
        assert int(record["id"]) == i and record["name"] == f"record {i} é"


def test_packing_twice_gives_identical_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        pack(ArraySource(_data(), on_device=False), tmp_path / name, shards=2, progress=False)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert sorted(_files(tmp_path / "a")) == [
        "data.array_record-00000-of-00002",
        "data.array_record-00001-of-00002",
        "index.json",
        "records.crc32",
    ]


def test_every_source_kind_packs(tmp_path: Path) -> None:
    synthetic = NoiseDataset(dataset_size=20, rngs=3)
    pack(synthetic, tmp_path / "syn", progress=False)
    got = PackedDataset(root=tmp_path / "syn").get_records(np.arange(20))
    np.testing.assert_array_equal(got["x"], np.asarray(synthetic.get_records(np.arange(20))["x"]))

    for i in range(4):
        np.save(tmp_path / f"{i}.npy", np.full(3, i, np.float32))
    files = NpyFolder([tmp_path / f"{i}.npy" for i in range(4)])
    index = pack(files, tmp_path / "files", progress=False)
    assert index.decode == {"field": "file"} and set(index.fields) == {"file", "id"}
    raw = PackedDataset(root=tmp_path / "files").get_records(np.array([2]))
    assert raw["file"] == [(tmp_path / "2.npy").read_bytes()] and raw["id"].tolist() == [2]

    rows = [{"v": np.float32(i), "s": f"s{i}"} for i in range(5)]
    pack(rows, tmp_path / "rows", progress=False)
    assert PackedDataset(root=tmp_path / "rows").get_records(np.array([4]))["s"] == ["s4"]

    pack({"y": np.arange(5.0)}, tmp_path / "dict", progress=False)
    assert PackedDataset(root=tmp_path / "dict").get_records(np.array([3]))["y"].tolist() == [3.0]


def test_hf_dataset_packs_columns(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    hf = datasets.Dataset.from_dict({"label": [3, 1, 2], "text": ["a", "bb", "ccc"], "v": [[1.0, 2.0]] * 3})
    pack(hf, tmp_path / "hf", progress=False)
    got = PackedDataset(root=tmp_path / "hf").get_records(np.array([2, 0]))
    assert got["label"].tolist() == [2, 3] and got["text"] == ["ccc", "a"] and got["v"].shape == (2, 2)
    wide = datasets.Dataset.from_dict({"x": [1.0, 1e300]})  # float64 is stored as it is: nothing overflows
    pack(wide, tmp_path / "wide", progress=False)
    assert PackedDataset(root=tmp_path / "wide").get_records(np.array([1]))["x"].tolist() == [1e300]


@pytest.mark.parametrize(
    ("columns", "words"),
    [
        ({"n": [1, None, 3]}, r"record 1.*'n'.*None|'n'.*record 1"),
        ({"v": [[1.0, 2.0], [1.0], [3.0, 4.0]]}, r"'v'"),
    ],
    ids=["null", "ragged"],
)
def test_hf_values_that_cannot_be_packed_as_they_are_are_refused(tmp_path: Path, columns: dict, words: str) -> None:
    datasets = pytest.importorskip("datasets")
    with pytest.raises(DataError, match=words):
        pack(datasets.Dataset.from_dict(columns), tmp_path / "p")


def test_loader_epochs_are_exactly_once_and_resume_exactly(packed: Path) -> None:
    ds = PackedDataset(root=packed)
    epochs = [list(DataLoader(ds, 8, seed=5, num_epochs=2, prefetch=0))]
    ids = [np.concatenate([valid_ids(b) for b in epochs[0][i * 5 : (i + 1) * 5]]) for i in range(2)]
    for epoch in ids:
        assert sorted(epoch.tolist()) == list(range(N))
    assert ids[0].tolist() != ids[1].tolist()  # a new permutation each epoch

    full = list(DataLoader(ds, 8, seed=5, num_epochs=2, prefetch=0))
    loader = DataLoader(ds, 8, seed=5, num_epochs=2, prefetch=0)
    it = iter(loader)
    head = [next(it) for _ in range(3)]
    state = json.dumps(loader.state_dict())
    fresh = DataLoader(pickle.loads(pickle.dumps(PackedDataset(root=packed))), 8, seed=5, num_epochs=2, prefetch=0)
    fresh.load_state_dict(state)
    rest = list(fresh)
    assert digest([{k: v for k, v in b.items() if k != "name"} for b in head + rest]) == digest(
        [{k: v for k, v in b.items() if k != "name"} for b in full]
    )
    assert [b["name"] for b in head + rest] == [b["name"] for b in full]


def test_each_process_reads_only_its_own_records(packed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    original = PackedReader.read

    def counting(self: PackedReader, indices: np.ndarray) -> list[bytes]:
        reads.extend(np.asarray(indices).tolist())
        return original(self, indices)

    monkeypatch.setattr(PackedReader, "read", counting)
    ds = PackedDataset(root=packed)
    per_shard = []
    for shard in range(2):
        reads.clear()
        batches = list(DataLoader(ds, 8, seed=1, num_shards=2, shard_index=shard, prefetch=0))
        assert len(reads) == 4 * len(batches)  # its 4 records of each global batch of 8, nothing else
        assert reads == np.concatenate([b["id"] for b in batches]).tolist()
        per_shard.append(reads.copy())
    reads.clear()
    single = list(DataLoader(ds, 8, seed=1, num_shards=1, shard_index=0, prefetch=0))
    merged = [x for b in range(len(single)) for s in range(2) for x in per_shard[s][4 * b : 4 * b + 4]]
    assert merged == reads


def _truncate(root: Path) -> None:
    shard = root / "data.array_record-00001-of-00003"
    shard.write_bytes(shard.read_bytes()[:-100])


def _drop(root: Path) -> None:
    (root / "data.array_record-00001-of-00003").unlink()


def _miscount(root: Path) -> None:
    data = json.loads((root / "index.json").read_text())
    data["shards"][1]["num_records"] += 1
    data["num_records"] += 1
    (root / "index.json").write_text(json.dumps(data))


def _bad_total(root: Path) -> None:
    data = json.loads((root / "index.json").read_text())
    data["num_records"] = 5
    (root / "index.json").write_text(json.dumps(data))


def _version(root: Path) -> None:
    data = json.loads((root / "index.json").read_text())
    data["version"] = 99
    (root / "index.json").write_text(json.dumps(data))


def _not_json(root: Path) -> None:
    (root / "index.json").write_text("{not json")


def _no_index(root: Path) -> None:
    (root / "index.json").unlink()


@pytest.mark.parametrize(
    ("damage", "names"),
    [
        (_truncate, ["data.array_record-00001-of-00003", "truncated"]),
        (_drop, ["data.array_record-00001-of-00003", "missing"]),
        (_miscount, ["data.array_record-00001-of-00003", "holds 12 records but the index says 13"]),
        (_bad_total, ["index.json", "num_records 5"]),
        (_version, ["index.json", "version 99"]),
        (_not_json, ["index.json", "JSON"]),
        (_no_index, ["index.json", "missing"]),
    ],
)
def test_bad_folders_are_data_errors_naming_the_file(packed: Path, damage: Any, names: list[str]) -> None:
    damage(packed)
    with pytest.raises(DataError) as info:
        PackedDataset(root=packed)
    for name in names:
        assert name in str(info.value)


@pytest.mark.parametrize(
    ("checks", "match"),
    [
        ("records", r"00000-of-00001' record 2 \(index 2\): crc32 0x[0-9a-f]{8} but index.json recorded"),
        ("open", r"00000-of-00001' record 2 \(index 2\): starts with b'garb'"),
    ],
)
def test_a_record_that_is_not_the_packed_one_names_the_shard_and_record(
    tmp_path: Path, checks: str, match: str
) -> None:
    from array_record.python.array_record_module import ArrayRecordWriter

    from modalax._src.packed.integrity import file_sha256

    pack({"y": np.arange(4.0)}, tmp_path / "p", progress=False)
    shard = tmp_path / "p" / "data.array_record-00000-of-00001"
    writer = ArrayRecordWriter(str(shard), "group_size:1,uncompressed")  # same count, record 2 not ours
    for i in range(4):
        writer.write(encode_record({"y": np.float64(i)}) if i != 2 else b"garbage")
    writer.close()
    index = json.loads((tmp_path / "p" / "index.json").read_text())
    index["shards"][0].update(size=shard.stat().st_size, sha256=file_sha256(shard))  # as a buggy writer would
    (tmp_path / "p" / "index.json").write_text(json.dumps(index))
    ds = PackedDataset(root=tmp_path / "p", checks=checks)  # type: ignore[arg-type]
    assert ds.get_records(np.array([3]))["y"].tolist() == [3.0]
    with pytest.raises(DataError, match=match):
        ds.get_records(np.array([1, 2]))


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "match"),
    [
        ({"y": np.arange(3.0)}, {"shards": 0}, ConfigError, "shards: got 0"),
        ({"y": np.arange(3.0)}, {"shards": 4}, ConfigError, "shards: got 4 for 3 records"),
        ({"y": np.arange(3.0)}, {"shards": True}, ConfigError, "shards: got True"),
        ([{"a": 1}, {"b": 2}], {}, DataError, r"record 1 has fields \['b'\], expected \['a'\]"),
        ([{"a": 1}, {"a": "x"}], {}, DataError, "record 1 field 'a' is text"),
        ([{"a": object()}], {}, DataError, "field 'a' is ndarray of dtype object"),
        ([], {}, DataError, "nothing to pack"),
        (42, {}, ConfigError, "got int"),
        ({"y": np.arange(3.0)}, {"modality": "nope"}, ConfigError, "nope"),
    ],
)
def test_bad_pack_arguments(tmp_path: Path, data: Any, kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        pack(data, tmp_path / "out", progress=False, **kwargs)


def test_pack_refuses_a_folder_in_use(packed: Path) -> None:
    with pytest.raises(ConfigError, match=r"not an empty folder \(it holds a complete pack"):
        pack({"y": np.arange(3.0)}, packed, progress=False)


WORKER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    import numpy as np, jax
    from jax.experimental import multihost_utils
    from modalax import DataLoader
    from modalax import PackedDataset
    from tests.core.source_fixtures import digest
    pid, address, root = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=address, num_processes=2, process_id=pid)
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("data",))
    ds = PackedDataset(root=root)
    keep = ("x", "id", "mask")
    batches = []
    for b in DataLoader(ds, 8, seed=2, num_epochs=2, mesh=mesh, prefetch=1):
        assert b["x"].shape == (8, 2, 3) and not b["x"].is_fully_addressable
        batches.append({{k: np.asarray(multihost_utils.process_allgather(b[k], tiled=True)) for k in keep}})
    single = [{{k: b[k] for k in keep}} for b in DataLoader(ds, 8, seed=2, num_epochs=2, num_shards=1, shard_index=0)]
    print("digest", digest(batches), digest(single))
    jax.distributed.shutdown()
""")


@pytest.mark.multiprocess
def test_two_processes_over_a_packed_folder_assemble_the_single_process_batches(packed: Path, tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(root=str(ROOT)))
    outs = two_process_digests(script, str(packed))
    for _, global_digest, single_digest in outs:
        assert global_digest == single_digest
    assert outs[0] == outs[1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pack", "no/such/thing", "--out", "{out}"], "not a folder, a file or MODALITY:DATASET_TYPE"),
        (["pack", "x:y", "--out", "{out}", "--shards", "0"], "--shards: got 0"),
        (["pack", "nomodality:synthetic", "--out", "{out}"], "nomodality"),
        (["pack", "x:y", "--out", "{used}"], "is not empty"),
        (["pack", "x:y"], "--out"),
        (["pack", "--out", "{out}"], "SOURCE: required"),
        (["pack", "x:y", "--out", "{out}", "--on-error", "maybe"], "--on-error"),
        (["pack", "--verify", "{used}"], "index.json"),
        (["pack", "--verify", "{used}", "--out", "{out}"], "--verify: got --out too"),
    ],
)
def test_cli_pack_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    from modalax._src.cli import main

    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "f").write_text("x")
    argv = [a.format(out=tmp_path / "out", used=tmp_path / "used") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("modalax: error:") and message in err[0]
    assert not (tmp_path / "out").exists()
