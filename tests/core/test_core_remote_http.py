"""Remote storage over HTTP: a standard-library ``http.server`` on 127.0.0.1, started by the test.

Packed shards are read by ranged requests, tar shards streamed, folders listed from the
server's index pages; failures are retried with backoff, then a ``DataError`` naming the URL,
bounded in time (a short retry policy and request timeout, set per test).
"""

from __future__ import annotations

import io
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fsspec")
pytest.importorskip("aiohttp")
pytest.importorskip("array_record")

import modalax
from modalax import DataError
from modalax._src.remote import retry

sys.path.insert(0, str(Path(__file__).parent))
from remote_fixtures import FolderServer

ATTEMPTS, TIMEOUT = 3, 1.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FolderServer]:
    """A folder served on 127.0.0.1 with a local pack in it; retries short enough for a test."""
    data = {"x": np.arange(300, dtype=np.float32).reshape(100, 3), "y": np.arange(100, dtype=np.int64)}
    modalax.pack(data, tmp_path / "packed", shards=3, progress=False)
    old = retry._POLICY
    modalax.set_remote_retries(attempts=ATTEMPTS, backoff=0.05, timeout=TIMEOUT)
    try:
        with FolderServer(tmp_path) as srv:
            yield srv
    finally:
        retry._POLICY = old


def test_packed_shards_over_http_equal_the_local_pack(server: FolderServer, tmp_path: Path) -> None:
    remote = modalax.PackedDataset(root=f"{server.url}/packed")
    local = modalax.PackedDataset(root=tmp_path / "packed")
    idx = np.array([99, 0, 33, 34, 66, 5])
    before = server.requests
    got, want = remote.get_records(idx), local.get_records(idx)
    assert server.requests - before <= len(idx)  # one ranged request per record, no shard downloaded
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])
    assert modalax.verify_pack(f"{server.url}/packed").records == 100


def test_tar_shards_and_folders_over_http(server: FolderServer, tmp_path: Path) -> None:
    pytest.importorskip("modalax_image")
    from PIL import Image

    from modalax_image import ImageFolderDataset
    from modalax_image.config import ImageModalityConfig

    for cls in ("a", "b"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((4, 4, 3), 50 * i, np.uint8)).save(tmp_path / "imgs" / cls / f"{i}.png")
    config = ImageModalityConfig(height=4, width=4)
    remote = ImageFolderDataset(config, root=f"{server.url}/imgs", split=None)
    local = ImageFolderDataset(config, root=tmp_path / "imgs", split=None)
    assert remote.class_names == ["a", "b"] and len(remote) == 4
    np.testing.assert_array_equal(remote.get_records(np.arange(4))["images"], local.get_records(np.arange(4))["images"])

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for i in range(5):
            info = tarfile.TarInfo(f"{i:03d}.cls")
            info.size = 1
            tf.addfile(info, io.BytesIO(str(i).encode()))
    (tmp_path / "s.tar").write_bytes(buf.getvalue())
    loader = modalax.StreamingLoader(modalax.WebDatasetSource(f"{server.url}/s.tar"), 5)
    assert [int(v) for b in loader for v in b["cls"]] == [0, 1, 2, 3, 4]


def test_a_server_that_fails_a_few_times_is_retried(server: FolderServer) -> None:
    server.fail, server.status = ATTEMPTS - 1, 503
    ds = modalax.PackedDataset(root=f"{server.url}/packed")
    assert ds.get_records(np.array([7]))["y"].tolist() == [7]


@pytest.mark.parametrize(
    ("fault", "match"),
    [
        ({"fail": 10**6, "status": 503}, r"the remote failed 3 time\(s\).*gave up after retrying"),
        ({"fail": 10**6, "status": 500}, r"the remote failed 3 time\(s\)"),
        ({"fail": 10**6, "status": 429}, r"the remote failed 3 time\(s\)"),
        ({"hang": 2 * TIMEOUT}, r"the remote failed 3 time\(s\)"),
        ({"auth": "Bearer right-token"}, r"access refused by the remote .*403.*credentials"),
    ],
)
def test_a_failing_server_is_a_data_error_naming_the_url_in_bounded_time(
    server: FolderServer, fault: dict, match: str
) -> None:
    for key, value in fault.items():
        setattr(server, key, value)
    start = time.monotonic()
    with pytest.raises(DataError, match=match) as info:
        modalax.PackedDataset(root=f"{server.url}/packed")
    assert f"{server.url}/packed/index.json" in str(info.value)
    # attempts * (timeout + hang slack) + backoff: never a hang
    assert time.monotonic() - start < ATTEMPTS * (TIMEOUT + 2 * TIMEOUT) + 5


def test_credentials_the_server_accepts_are_used(server: FolderServer) -> None:
    server.auth = "Bearer right-token"
    modalax.set_storage_options("http", headers={"Authorization": "Bearer right-token"})
    try:
        assert len(modalax.PackedDataset(root=f"{server.url}/packed")) == 100
    finally:
        modalax.set_storage_options("http")


@pytest.mark.parametrize(
    ("missing", "match"),
    [
        ("packed/data.array_record-00001-of-00003", r"incomplete pack: shard 'http://.*00001-of-00003' is missing"),
        ("packed/records.crc32", r"incomplete pack: 'http://.*records.crc32' is missing"),
        ("packed/index.json", r"'http://.*/packed': incomplete pack: index.json is missing but the folder holds 3"),
    ],
)
def test_a_missing_shard_over_http_is_named(server: FolderServer, tmp_path: Path, missing: str, match: str) -> None:
    (tmp_path / missing).unlink()
    with pytest.raises(DataError, match=match):
        modalax.PackedDataset(root=f"{server.url}/packed")
