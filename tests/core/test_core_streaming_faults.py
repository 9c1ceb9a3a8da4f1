"""Bad streams: each a DataError naming the shard (and sample) and what was expected, or, with
``on_error="skip"``, left out and counted, the good records all there. Nothing hangs."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modalax import DataError
from modalax._src.streaming import IterableSource, WebDatasetSource
from modalax._src.streaming.loader import StreamingLoader

sys.path.insert(0, str(Path(__file__).parent))  # the workers import the fixtures by this name
import streaming_fixtures as fx

GOOD = {0: 5, 2: 4}  # shards 0 and 2 are good; shard 1 (6 samples) holds the fault
MEMBER = 1024  # a small member: a 512-byte header and its data padded to 512 bytes


def good_values() -> list[int]:
    return [fx.value(s, i) for s, n in GOOD.items() for i in range(n)]


def shard1(i: int) -> int:
    return fx.value(1, i)


def write_case(root: Path, samples: list[tuple[str, fx.Fields]] | None = None, raw: bytes | None = None) -> list[Path]:
    """Shards 0 and 2 good; shard 1 from ``samples`` (a tar) or ``raw`` bytes (or missing when both None)."""
    paths = [root / f"shard-{s:03d}.tar" for s in range(3)]
    for s, n in GOOD.items():
        fx.write_tar(paths[s], [fx.sample(s, i) for i in range(n)])
    if samples is not None:
        fx.write_tar(paths[1], samples)
    elif raw is not None:
        paths[1].write_bytes(raw)
    return paths


def tar_bytes(samples: list[tuple[str, fx.Fields]], tmp: Path) -> bytes:
    return fx.write_tar(tmp / "whole.tar", samples).read_bytes()


SIX = [fx.sample(1, i) for i in range(6)]


def without(i: int, field: str) -> list[tuple[str, fx.Fields]]:
    out = list(SIX)
    key, fields = out[i]
    out[i] = (key, {f: d for f, d in fields.items() if f != field})
    return out


def with_extra(i: int) -> list[tuple[str, fx.Fields]]:
    out = list(SIX)
    key, fields = out[i]
    out[i] = (key, {**fields, "json": b"{}"})
    return out


def with_bad_cls(i: int) -> list[tuple[str, fx.Fields]]:
    out = list(SIX)
    key, fields = out[i]
    out[i] = (key, {**fields, "cls": b"seven"})
    return out


def split_key() -> list[tuple[str, fx.Fields]]:
    key, fields = SIX[1]
    return [SIX[0], (key, {"cls": fields["cls"]}), SIX[2], (key, {"txt": fields["txt"], "npy": fields["npy"]})]


def duplicated() -> list[tuple[str, fx.Fields]]:
    return SIX[:2] + [(SIX[2][0], SIX[2][1]), (SIX[2][0], {"cls": b"1"})] + SIX[3:]


# (name, build(tmp) -> shards, source options, survivors of shard 1 in skip mode (None: a prefix),
#  skipped count, message pattern)
Case = tuple[str, Callable[[Path], list[Path]], dict[str, Any], list[int] | None, int, str]
CASES: list[Case] = [
    ("missing shard", lambda t: write_case(t), {}, [], 1, r"shard-001\.tar': no such file; expected a tar shard"),
    ("not a tar", lambda t: write_case(t, raw=b"\x89PNG" * 200), {}, [], 1, r"shard-001\.tar': not a readable tar"),
    ("empty file", lambda t: write_case(t, raw=b""), {}, [], 1, r"shard-001\.tar': not a readable tar"),
    (
        "truncated in a member",
        lambda t: write_case(t, raw=tar_bytes(SIX, t)[: 3 * 3 * MEMBER + 700]),
        {},
        [shard1(i) for i in range(3)],
        1,
        r"shard-001\.tar'.*truncated",
    ),
    (
        "cut at a member boundary",
        lambda t: write_case(t, raw=tar_bytes(SIX, t)[: 4 * 3 * MEMBER]),
        {},
        [shard1(i) for i in range(3)],  # the last sample read may lack members: left out too
        1,
        r"shard-001\.tar': truncated after 12 member\(s\) \(the file ends without the end-of-archive blocks\)",
    ),
    (
        "garbage after a member",
        lambda t: write_case(t, raw=tar_bytes(SIX, t)[: 2 * 3 * MEMBER] + b"\x7f" * 512 + bytes(1024)),
        {},
        [shard1(0)],
        1,
        r"shard-001\.tar': truncated after 6 member\(s\) \(InvalidHeaderError",
    ),
    (
        "missing field (fields=)",
        lambda t: write_case(t, without(2, "npy")),
        {"fields": ["cls", "txt", "npy"]},
        [shard1(i) for i in range(6) if i != 2],
        1,
        r"shard-001\.tar' sample 's01/00002': missing field\(s\) \['npy'\]; has \['cls', 'txt'\], expected "
        r"\['cls', 'txt', 'npy'\] \(fields=\)",
    ),
    (
        "missing field (first sample's)",
        lambda t: write_case(t, without(4, "cls")),
        {},
        [shard1(i) for i in range(6) if i != 4],
        1,
        r"sample 's01/00004': missing field\(s\) \['cls'\].*the shard's first sample",
    ),
    (
        "extra field",
        lambda t: write_case(t, with_extra(3)),
        {},
        [shard1(i) for i in range(6) if i != 3],
        1,
        r"sample 's01/00003': extra field\(s\) \['json'\]; expected \['cls', 'npy', 'txt'\]",
    ),
    (
        "undecodable field",
        lambda t: write_case(t, with_bad_cls(5)),
        {},
        [shard1(i) for i in range(5)],
        1,
        r"sample 's01/00005': field 'cls': got 'seven', expected an integer written as text",
    ),
    (
        "members not consecutive",
        lambda t: write_case(t, split_key()),
        {"fields": ["cls"]},
        [shard1(0), shard1(1), shard1(2)],
        1,
        r"sample 's01/00001': its members are not consecutive",
    ),
    (
        "field twice",
        lambda t: write_case(t, duplicated()),
        {},
        [shard1(0), shard1(1)],
        1,
        r"sample 's01/00002': field 'cls' appears twice",
    ),
    (
        "truncated gzip",
        lambda t: write_case(t, raw=gzip.compress(tar_bytes(SIX, t))[:300]),
        {},
        None,  # the samples that decompress before the cut: a prefix
        1,
        r"shard-001\.tar'.*(truncated|not a readable)",
    ),
]


def source_of(case: Case, tmp: Path, on_error: str) -> WebDatasetSource:
    _, build, options, *_ = case
    return WebDatasetSource(build(tmp), on_error=on_error, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_bad_shard_raises_naming_it(tmp_path: Path, case: Case) -> None:
    loader = StreamingLoader(source_of(case, tmp_path, "raise"), 4)
    with pytest.raises(DataError, match=case[5]):
        list(loader)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_bad_shard_is_skipped_and_counted(tmp_path: Path, case: Case) -> None:
    loader = StreamingLoader(source_of(case, tmp_path, "skip"), 4, readers=2, shuffle_buffer=3)
    got = fx.taken(loader)
    survivors = case[3] if case[3] is not None else [shard1(i) for i in range(sum(v // 1000 == 1 for v in got))]
    assert sorted(got) == sorted(good_values() + survivors)
    assert loader.skipped_count == case[4] and len(loader.skipped) == case[4]
    assert "shard-001.tar" in loader.skipped[0]


def test_a_gzip_shard_reads_like_a_plain_one(tmp_path: Path) -> None:
    paths = write_case(tmp_path, raw=b"")
    paths[1] = tmp_path / "shard-001.tar.gz"
    paths[1].write_bytes(gzip.compress(tar_bytes(SIX, tmp_path)))
    got = fx.taken(StreamingLoader(WebDatasetSource(paths), 4))
    assert sorted(got) == sorted(good_values() + [shard1(i) for i in range(6)])


def test_declared_sizes_are_checked(tmp_path: Path) -> None:
    paths = write_case(tmp_path, SIX)
    loader = StreamingLoader(WebDatasetSource(paths, shard_sizes=[5, 7, 4]), 4)
    with pytest.raises(DataError, match=r"shard-001\.tar' holds 6 samples, but shard_sizes declares 7"):
        list(loader)


def test_a_generator_that_raises_names_its_shard_and_position() -> None:
    source = IterableSource(fx.failing, num_shards=3, name="stream")
    with pytest.raises(DataError, match=r"shard 'stream\[1\]': reading stopped at position 2 \(RuntimeError: the upst"):
        list(StreamingLoader(source, 4))
    skipping = StreamingLoader(IterableSource(fx.failing, num_shards=3, on_error="skip"), 4)
    got = fx.taken(skipping, "x")
    assert sorted(got) == sorted([fx.value(0, i) for i in range(5)] + [1000, 1001] + [fx.value(2, i) for i in range(7)])
    assert skipping.skipped_count == 1 and "the rest of the shard is left out" in skipping.skipped[0]


@pytest.mark.parametrize(
    ("records", "match"),
    [
        ([{"x": 1}, object()], r"sample '#1' is a object; expected a dict of fields"),
        ([{"x": 1}, {}], r"sample '#1' is an empty dict"),
        ([{"x": 1}, {"y": 2}], r"has fields \['y'\] \(extra \['y'\], missing \['x'\]\); expected \['x'\]"),
        ([{"x": np.zeros(2)}, {"x": np.zeros(3)}], r"field 'x' is float64 \(3,\), but .* has float64 \(2,\)"),
    ],
)
def test_bad_records_of_an_iterable(records: list[Any], match: str) -> None:
    with pytest.raises(DataError, match=match):
        list(StreamingLoader(records, 2))


@pytest.mark.multiprocess
def test_faults_in_workers_surface_alike(tmp_path: Path) -> None:
    truncated = CASES[3]
    (tmp_path / "a").mkdir()
    loader = StreamingLoader(source_of(truncated, tmp_path / "a", "skip"), 4, workers=2)
    try:
        assert sorted(fx.taken(loader)) == sorted(good_values() + (truncated[3] or []))
        assert loader.skipped_count == 1
    finally:
        loader.close()
    missing = CASES[6]
    (tmp_path / "b").mkdir()
    failing = StreamingLoader(source_of(missing, tmp_path / "b", "raise"), 4, workers=2)
    try:
        with pytest.raises(DataError, match=missing[5]):
            list(failing)
    finally:
        failing.close()


def test_skips_survive_a_resume(tmp_path: Path) -> None:
    source = WebDatasetSource(write_case(tmp_path, without(2, "npy")), on_error="skip", fields=["cls", "txt", "npy"])
    loader = StreamingLoader(source, 2)
    it = iter(loader)
    states = []
    for _ in it:
        states.append(it.state_dict())
    assert loader.skipped_count == 1
    resumed = StreamingLoader(source, 2)
    resumed.load_state_dict(states[-2])
    list(resumed)
    assert resumed.skipped_count == 1 and resumed.skipped == loader.skipped


def test_a_worker_that_hangs_is_a_bounded_wait_naming_it() -> None:
    loader = StreamingLoader(IterableSource(fx.hanging, num_shards=3, name="stream"), 4, workers=1, timeout=2)
    try:
        with pytest.raises(DataError, match=r"not decoded within 2\.0 s"):
            list(loader)
    finally:
        loader.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": 0}, r"StreamingLoader.timeout: got 0, expected a positive number of seconds, or None"),
        ({"timeout": "1"}, r"StreamingLoader.timeout: got '1'"),
        ({"start_method": "fork"}, r"StreamingLoader.start_method: got 'fork', expected 'spawn' or 'forkserver'"),
    ],
)
def test_bad_worker_options_of_a_stream_are_config_errors(kwargs: dict[str, Any], message: str) -> None:
    from modalax import ConfigError, DataLoader

    with pytest.raises(ConfigError, match=message):
        DataLoader(IterableSource(fx.counting, num_shards=2), 4, **kwargs)
