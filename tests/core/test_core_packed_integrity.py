"""Packed folders that were damaged, mixed up or left half-written are named, never served.

Each case damages a real pack the way the hostile probe did (zeroed bytes, a shard of another
pack, a reordered index, an interrupted ``pack``) and checks the error names the file and says
what was expected, on open or at the latest when the damaged record is read; ``verify`` finds
every byte that changed.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("array_record")

from modalax import ArraySource, ConfigError, DataError
from modalax._src.packed import PackedDataset, encode_record, pack
from modalax._src.packed.integrity import CHECKSUMS_NAME, verify

N = 36  # three shards of 12: swapped files keep their record counts
SHARD = "data.array_record-{:05d}-of-00003"


def _data(offset: float = 0.0) -> dict[str, Any]:
    return {"x": np.arange(N * 6, dtype=np.float32).reshape(N, 2, 3) + offset, "id": np.arange(N, dtype=np.int32)}


def _pack(root: Path, offset: float = 0.0, shards: int = 3) -> Path:
    pack(ArraySource(_data(offset), on_device=False), root, shards=shards, progress=False)
    return root


@pytest.fixture
def packed(tmp_path: Path) -> Path:
    return _pack(tmp_path / "p")


def _index(root: Path) -> dict[str, Any]:
    return json.loads((root / "index.json").read_text())


def _write_index(root: Path, data: dict[str, Any]) -> None:
    (root / "index.json").write_text(json.dumps(data))


def _zero_in_record(root: Path) -> None:
    """64 zero bytes inside record 3 of shard 1 (global 15): same size, same count."""
    shard = root / SHARD.format(1)
    raw = shard.read_bytes()
    at = raw.find(encode_record({"id": np.int32(15), "x": _data()["x"][15]}))
    assert at > 0
    shard.write_bytes(raw[: at + 8] + b"\0" * 64 + raw[at + 72 :])


def _swapped_records(root: Path) -> None:
    """Shard 1 rewritten with its records 1 and 2 swapped: same size, same first and last record."""
    from array_record.python.array_record_module import ArrayRecordWriter

    data = _data()
    order = [12, 14, 13, *range(15, 24)]
    writer = ArrayRecordWriter(str(root / SHARD.format(1)), "group_size:1,uncompressed")
    for i in order:
        writer.write(encode_record({"id": data["id"][i], "x": data["x"][i]}))
    writer.close()


def _foreign_shard(root: Path) -> None:
    """Shard 1 of another pack of the same schema and counts (so the same byte size)."""
    other = _pack(root.parent / "other", offset=1000.0)
    shutil.copyfile(other / SHARD.format(1), root / SHARD.format(1))


def _swapped_files(root: Path) -> None:
    a, b = root / SHARD.format(0), root / SHARD.format(1)
    a.rename(root / "tmp")
    b.rename(a)
    (root / "tmp").rename(b)


def _swapped_index(root: Path) -> None:
    data = _index(root)
    data["shards"][0], data["shards"][1] = data["shards"][1], data["shards"][0]
    _write_index(root, data)


def _grown(root: Path) -> None:
    with open(root / SHARD.format(2), "ab") as fh:
        fh.write(b"\0" * 10)


def _truncated(root: Path) -> None:
    shard = root / SHARD.format(1)
    shard.write_bytes(shard.read_bytes()[:-100])


def _crc_altered(root: Path) -> None:
    crcs = np.fromfile(root / CHECKSUMS_NAME, "<u4")
    crcs[5] ^= 1
    crcs.tofile(root / CHECKSUMS_NAME)


def _crc_missing(root: Path) -> None:
    (root / CHECKSUMS_NAME).unlink()


def _shard_missing(root: Path) -> None:
    (root / SHARD.format(1)).unlink()


def _index_missing(root: Path) -> None:
    (root / "index.json").unlink()


def _partial_left(root: Path) -> None:
    """What a killed ``pack`` leaves: shards under their unfinished names, no index."""
    (root / "index.json").unlink()
    for s in range(3):
        (root / SHARD.format(s)).rename(root / (SHARD.format(s) + ".partial"))


# (damage, when it is caught, words the message must hold)
CASES = [
    (_zero_in_record, "read", ["data.array_record-00001-of-00003' record 3 (index 15)", "corrupt", "--verify"]),
    (_swapped_records, "read", ["data.array_record-00001-of-00003' record 1 (index 13)", "crc32", "not the one"]),
    (_foreign_shard, "open", ["data.array_record-00001-of-00003", "another pack", "crc32"]),
    (_swapped_files, "open", ["data.array_record-00000-of-00003", "another position"]),
    (_swapped_index, "open", ["index.json", "shard 0 is 'data.array_record-00001-of-00003'", "record order"]),
    (_grown, "open", ["data.array_record-00002-of-00003", "bytes but index.json says"]),
    (_truncated, "open", ["data.array_record-00001-of-00003", "bytes but index.json says"]),
    (_crc_altered, "open", [CHECKSUMS_NAME, "sha256", "altered"]),
    (_crc_missing, "open", ["incomplete pack", CHECKSUMS_NAME, "missing"]),
    (_shard_missing, "open", ["incomplete pack", "data.array_record-00001-of-00003", "2 of 3 shards present"]),
    (_index_missing, "open", ["incomplete pack", "index.json is missing", "3 pack file(s)", "run pack again"]),
    (_partial_left, "open", ["incomplete pack", ".partial", "interrupted"]),
]


@pytest.mark.parametrize(("damage", "when", "names"), CASES, ids=[c[0].__name__ for c in CASES])
def test_damaged_packs_are_named_not_served(packed: Path, damage: Any, when: str, names: list[str]) -> None:
    good = PackedDataset(root=packed).get_records(np.arange(N))
    damage(packed)
    with pytest.raises(DataError) as info:
        ds = PackedDataset(root=packed)
        assert when == "read", "expected the damage to be caught on open"
        ds.get_records(np.delete(np.arange(N), [13, 14, 15]))  # every other record still reads
        ds.get_records(np.array([15, 13, 14]))
    for name in names:
        assert name in str(info.value), str(info.value)
    if when == "read":  # and with checks="all", on open
        with pytest.raises(DataError, match="fails verification"):
            PackedDataset(root=packed, checks="all")
    assert "x" in good


@pytest.mark.parametrize("damage", [c[0] for c in CASES[:9]], ids=[c[0].__name__ for c in CASES[:9]])
def test_verify_finds_what_changed(packed: Path, damage: Any) -> None:
    report = verify(packed)
    assert (report.records, report.shards, report.checksums) == (N, 3, True)
    damage(packed)
    with pytest.raises(DataError):
        verify(packed)


def test_every_changed_byte_is_caught_or_harmless(packed: Path) -> None:
    """Zero 64 bytes at every 512-byte step of a shard: the pack fails to open, fails to read, or
    still reads the very values it was packed with (the bytes were ArrayRecord padding);
    ``verify`` fails whenever the file changed."""
    shard = packed / SHARD.format(1)
    raw = shard.read_bytes()
    want = _data()
    caught = harmless = 0
    for at in range(0, len(raw) - 64, 512):
        damaged = raw[:at] + b"\0" * 64 + raw[at + 64 :]
        shard.write_bytes(damaged)
        try:
            got = PackedDataset(root=packed).get_records(np.arange(N))
        except DataError:
            caught += 1
        else:
            np.testing.assert_array_equal(got["x"], want["x"])
            harmless += 1
        if damaged != raw:
            with pytest.raises(DataError):
                verify(packed)
    shard.write_bytes(raw)
    assert caught > 0 and harmless > 0


def test_checks_open_trusts_records_after_the_open_checks(packed: Path) -> None:
    _swapped_records(packed)
    ds = PackedDataset(root=packed, checks="open")  # the documented trade-off: no per-record CRC
    assert ds.get_records(np.array([13, 14]))["id"].tolist() == [14, 13]
    with pytest.raises(DataError, match=r"record 1 \(index 13\): crc32"):
        PackedDataset(root=packed).get_records(np.array([13, 14]))
    with pytest.raises(ConfigError, match=r"checks: got 'some'"):
        PackedDataset(root=packed, checks="some")  # type: ignore[arg-type]


def test_a_failed_pack_leaves_nothing(tmp_path: Path) -> None:
    class Breaks:
        def __len__(self) -> int:
            return 600

        def __getitem__(self, i: int) -> dict[str, Any]:
            if i == 500:
                raise KeyboardInterrupt  # as Ctrl-C would, in the middle of shard 1
            return {"v": np.float32(i)}

    out = tmp_path / "new"
    with pytest.raises(KeyboardInterrupt):
        pack(Breaks(), out, shards=2, progress=False)
    assert not out.exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(KeyboardInterrupt):
        pack(Breaks(), tmp_path / "empty", shards=2, progress=False)
    assert list((tmp_path / "empty").iterdir()) == []


@pytest.mark.parametrize(
    ("state", "match"),
    [
        (_partial_left, r"incomplete pack \(3 file\(s\) such as 'data.array_record-00000-of-00003.partial'"),
        (_index_missing, r"incomplete pack \(3 file\(s\)"),
        (lambda root: None, r"a complete pack \(index.json\)"),
    ],
)
def test_pack_into_a_used_folder_is_refused_and_leaves_it(packed: Path, state: Any, match: str) -> None:
    state(packed)
    before = sorted(p.name for p in packed.iterdir())
    with pytest.raises(ConfigError, match=match):
        pack({"y": np.arange(3.0)}, packed, progress=False)
    assert sorted(p.name for p in packed.iterdir()) == before


def test_fingerprint_is_the_content_not_the_place(tmp_path: Path) -> None:
    a, b, c = _pack(tmp_path / "a"), _pack(tmp_path / "b"), _pack(tmp_path / "c", offset=1.0)
    fa = PackedDataset(root=a).fingerprint()
    assert json.loads(json.dumps(fa)) == fa and fa["num_records"] == N
    assert fa == PackedDataset(root=b).fingerprint()
    assert fa != PackedDataset(root=c).fingerprint()
    assert [s[2] for s in fa["shards"]] == [s["sha256"] for s in _index(a)["shards"]]


def _as_version_1(root: Path) -> None:
    """The index modalax 0.1 wrote: no sizes, hashes, checksum file, skips or on_error."""
    data = _index(root)
    for key in ("record_checksums", "files", "skipped", "on_error"):
        data.pop(key)
    for shard in data["shards"]:
        shard.pop("size"), shard.pop("sha256")
    data.update(version=1, format="modalax.packed")
    _write_index(root, data)
    (root / CHECKSUMS_NAME).unlink()


def test_version_1_packs_open_with_a_warning_and_verify_says_what_it_checked(packed: Path) -> None:
    _as_version_1(packed)
    with pytest.warns(UserWarning, match="has no checksums .*pack it again"):
        ds = PackedDataset(root=packed)
    np.testing.assert_array_equal(ds.get_records(np.arange(N))["x"], _data()["x"])
    assert ds.fingerprint()["shards"][0] == [SHARD.format(0), 12, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        report = verify(packed)
    assert not report.checksums and "no checksums" in report.summary()


def test_cli_verify(packed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from modalax._src.cli import main

    assert main(["pack", "--verify", str(packed)]) == 0
    out = capsys.readouterr().out
    assert f"{N} records in 3 shard(s)" in out and "match index.json" in out
    _foreign_shard(packed)
    assert main(["pack", "--verify", str(packed)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "data.array_record-00001-of-00003" in err[0]
    assert main(["pack", "x:y", "--verify", str(packed)]) == 2
    assert "--verify: got SOURCE too" in capsys.readouterr().err
