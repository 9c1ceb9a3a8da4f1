"""Remote storage through fsspec's memory filesystem: every path-taking API takes a URL, and values equal local ones.

The memory filesystem is a real fsspec filesystem (the one ``memory://`` URLs reach), so these
tests run modalax's own code paths end to end: folder scans, file reads, packing into and
reading from packed shards (ranged reads), tar shards, text files, checkpoint positions.
"""

from __future__ import annotations

import io
import pickle
import sys
import tarfile
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fsspec")
pytest.importorskip("array_record")

import modalax
from modalax import ConfigError, DataError
from modalax._src.packed.ranged import RangedShard
from modalax._src.remote import RemotePath, as_path, classify, is_url, set_remote_retries

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def mem() -> RemotePath:
    """A fresh folder of the memory filesystem, removed after the test."""
    root = as_path(f"memory://modalax-tests/{uuid.uuid4().hex}")
    assert isinstance(root, RemotePath)
    yield root
    root.rmtree()


def _png(value: int, size: tuple[int, int] = (6, 5)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.full((*size, 3), value, np.uint8)).save(out, "PNG")
    return out.getvalue()


def _tree(root: Path | RemotePath, bad: bool = False) -> None:
    for c, cls in enumerate(("cat", "dog")):
        for i in range(3):
            sub = "deep" if i == 2 else ""
            target = root / "train" / cls / sub if sub else root / "train" / cls
            if isinstance(target, Path):
                target.mkdir(parents=True, exist_ok=True)
            (target / f"{i}.png").write_bytes(_png(40 * c + 10 * i))
    (root / "train" / "dog" / "readme.txt").write_bytes(b"not an image")
    if bad:
        (root / "train" / "dog" / "9.png").write_bytes(b"not a png")


# ------------------------------------------------------------------ the path helper


@pytest.mark.parametrize(
    ("value", "remote"),
    [
        ("s3://bucket/key", True),
        ("gs://b/x.png", True),
        ("hf://datasets/org/name", True),
        ("https://example.org/a.tar", True),
        ("memory://x", True),
        ("simplecache::s3://b/k", True),
        ("file:///tmp/x", False),
        ("/tmp/x", False),
        ("relative/dir", False),
        ("C:/windows/path", False),
        (Path("/tmp/s3:/x"), False),
    ],
)
def test_urls_are_told_from_local_paths(value: object, remote: bool) -> None:
    assert is_url(value) is remote
    assert isinstance(as_path(value), RemotePath if remote else Path)  # type: ignore[arg-type]


def test_local_paths_stay_plain_pathlib_paths(tmp_path: Path) -> None:
    assert as_path(str(tmp_path)) == tmp_path and type(as_path(str(tmp_path))) is type(tmp_path)
    assert as_path(f"file://{tmp_path}") == tmp_path


def test_remote_path_reads_lists_and_pickles(mem: RemotePath) -> None:
    (mem / "a" / "x.bin").write_bytes(b"0123456789")
    (mem / "b.txt").write_text("hello")
    assert [p.name for p in mem.iterdir()] == ["a", "b.txt"]
    assert [str(p) for p in mem.walk_files()] == [f"{mem}/a/x.bin", f"{mem}/b.txt"]
    f = mem / "a" / "x.bin"
    assert f.is_file() and not f.is_dir() and (mem / "a").is_dir() and not (mem / "nope").exists()
    assert f.stat().st_size == 10 and f.read_range(2, 5) == b"234"
    assert f.read_ranges([0, 8], [2, 10]) == [b"01", b"89"]
    with f.open("rb") as fh:
        fh.seek(4)
        assert fh.read(3) == b"456" and fh.tell() == 7
    back = pickle.loads(pickle.dumps(f))
    assert back == f and back.read_bytes() == b"0123456789" and back.options == f.options
    assert (f.name, f.suffix, f.stem, str(f.parent)) == ("x.bin", ".bin", "x", f"{mem}/a")
    with pytest.raises(TypeError):
        open(f, "rb").close()  # type: ignore[call-overload]


def test_a_missing_remote_file_is_file_not_found_naming_the_url(mem: RemotePath) -> None:
    with pytest.raises(FileNotFoundError, match=r"no-such\.bin: no such file"):
        (mem / "no-such.bin").read_bytes()


@pytest.mark.parametrize(
    ("url", "package"),
    [("gs://bucket/data", "gcsfs"), ("abfs://container/data", "adlfs"), ("oci://bucket/data", "ocifs")],
)
def test_a_protocol_without_its_package_names_the_package(url: str, package: str) -> None:
    import importlib.util

    if importlib.util.find_spec(package) is not None:
        pytest.skip(f"{package} is installed here")
    wanted = rf"needs {package}, which is not installed: python -m pip install \"{package}\""
    with pytest.raises(ConfigError, match=wanted):
        modalax.PackedDataset(root=url)
    with pytest.raises(ConfigError, match=wanted):
        modalax.pack({"x": np.arange(3)}, url, progress=False)


def test_an_unknown_protocol_is_a_config_error_naming_the_url() -> None:
    with pytest.raises(ConfigError, match=r"'nosuchfs://b/x/index.json': no fsspec implementation of nosuchfs://"):
        modalax.PackedDataset(root="nosuchfs://b/x")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (FileNotFoundError("x"), "missing"),
        (PermissionError("x"), "denied"),
        (TimeoutError("x"), "transient"),
        (ConnectionResetError("x"), "transient"),
        (OSError(5, "I/O error"), "transient"),
        (ValueError("The HTTP server doesn't appear to support range requests"), "fatal"),
        (IsADirectoryError("x"), "fatal"),
    ],
)
def test_failures_are_classified(error: Exception, kind: str) -> None:
    assert classify(error) == kind


def test_a_status_in_the_cause_decides(mem: RemotePath) -> None:
    class Response(Exception):
        def __init__(self, status: int) -> None:
            super().__init__(f"status {status}")
            self.status = status

    for status, kind in ((503, "transient"), (429, "transient"), (403, "denied"), (401, "denied"), (404, "missing")):
        try:
            raise FileNotFoundError("wrapped") from Response(status)
        except FileNotFoundError as exc:
            assert classify(exc) == kind, status


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"attempts": 0}, "attempts: got 0"),
        ({"attempts": 1.5}, "attempts: got 1.5"),
        ({"backoff": -1}, "backoff: got -1"),
        ({"timeout": "soon"}, "timeout: got 'soon'"),
    ],
)
def test_bad_retry_settings_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        set_remote_retries(**kwargs)


def test_bad_storage_options_protocol_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"expected a protocol name such as 's3'"):
        modalax.set_storage_options("s3://bucket", anon=True)


# ------------------------------------------------------------------ folders, files, packs


def _image_folder(root: object, **kw: object) -> object:
    from modalax_image import ImageFolderDataset
    from modalax_image.config import ImageModalityConfig

    return ImageFolderDataset(ImageModalityConfig(height=6, width=5), root=root, **kw)


def test_an_image_folder_behind_a_url_equals_the_local_folder(mem: RemotePath, tmp_path: Path) -> None:
    pytest.importorskip("modalax_image")
    _tree(mem)
    _tree(tmp_path)
    remote, local = _image_folder(str(mem)), _image_folder(tmp_path)
    assert [str(p)[len(str(mem)) :] for p in remote.paths] == [str(p)[len(str(tmp_path)) :] for p in local.paths]
    assert remote.class_names == local.class_names == ["cat", "dog"]
    got, want = remote.get_records(np.arange(6)), local.get_records(np.arange(6))
    np.testing.assert_array_equal(got["images"], want["images"])
    np.testing.assert_array_equal(got["labels"], want["labels"])
    before = remote.fingerprint()
    assert before == _image_folder(str(mem)).fingerprint()  # the same tree, listed again
    (mem / "train" / "cat" / "0.png").write_bytes(_png(1) + b"\0")  # replaced by a file of another size
    assert _image_folder(str(mem)).fingerprint() != before


def test_a_bad_remote_file_is_named_or_skipped(mem: RemotePath) -> None:
    pytest.importorskip("modalax_image")
    _tree(mem, bad=True)
    with pytest.raises(DataError, match=r"memory://.*/train/dog/9\.png"):
        _image_folder(str(mem)).get_records(np.arange(7))
    ds = _image_folder(str(mem), on_error="skip")
    with pytest.warns(RuntimeWarning, match="9.png"):
        batch = ds.get_records(np.arange(7))
    bad = [str(p) for p in ds.paths].index(f"{mem}/train/dog/9.png")  # dog/0, dog/1, dog/9, then dog/deep/2
    assert bad == 5 and batch["__valid__"].tolist() == [i != bad for i in range(7)]
    assert ds.skipped == [f"{mem}/train/dog/9.png"]


def test_pack_into_and_read_from_a_url_equals_a_local_pack(mem: RemotePath, tmp_path: Path) -> None:
    pytest.importorskip("modalax_image")
    _tree(mem, bad=True)
    ds = _image_folder(str(mem), on_error="skip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        remote = modalax.pack(ds, str(mem / "packed"), shards=3, progress=False)
        local = modalax.pack(ds, tmp_path / "packed", shards=3, progress=False)
    assert remote.to_json() == local.to_json() and len(remote.skipped) == 1
    for s in remote.shards:
        assert (mem / "packed" / s.path).read_bytes() == (tmp_path / "packed" / s.path).read_bytes()
    a = modalax.create_dataset("image", "packed", root=str(mem / "packed"), on_error="skip")
    b = modalax.create_dataset("image", "packed", root=tmp_path / "packed", on_error="skip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        x, y = a.get_records(np.array([6, 0, 3])), b.get_records(np.array([6, 0, 3]))
    for key in y:
        np.testing.assert_array_equal(x[key], y[key])
    assert modalax.verify_pack(str(mem / "packed")).records == 7


@pytest.mark.parametrize("options", ["group_size:1,uncompressed", "group_size:5,uncompressed"])
def test_ranged_reads_return_array_records_bytes(mem: RemotePath, tmp_path: Path, options: str) -> None:
    from array_record.python import array_record_module

    rng = np.random.default_rng(0)
    records = [rng.bytes(int(n)) for n in rng.integers(0, 50_000, 60)] + [b"", b"x"]
    local = tmp_path / "shard"
    writer = array_record_module.ArrayRecordWriter(str(local), options)
    for r in records:
        writer.write(r)
    writer.close()
    (mem / "shard").write_bytes(local.read_bytes())  # records cross 64 KiB block boundaries
    shard = RangedShard(mem / "shard", local.stat().st_size)
    reference = array_record_module.ArrayRecordReader(str(local), "readahead_buffer_size:0")
    order = [61, 3, 0, 33, 3, 60]
    assert shard.num_records() == reference.num_records() == len(records)
    assert shard.read(list(range(len(records)))) == records
    assert shard.read(order) == reference.read(order) == [records[i] for i in order]


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        ("remove_shard", r"incomplete pack: shard 'memory://.*data\.array_record-00001-of-00002' is missing"),
        ("remove_index", r"incomplete pack: index.json is missing but the folder holds 2 pack file"),
        ("truncate_shard", r"is \d+ bytes but index.json says \d+"),
        ("swap_crc", r"records.crc32'.*sha256"),
        ("compressed", r"remote shards are read only when written uncompressed"),
    ],
)
def test_a_damaged_remote_pack_is_named(mem: RemotePath, damage: str, match: str) -> None:
    data = {"x": np.arange(40, dtype=np.int32).reshape(20, 2)}
    options = "group_size:1,zstd" if damage == "compressed" else "group_size:1,uncompressed"
    modalax.pack(data, str(mem / "p"), shards=2, progress=False, writer_options=options)
    shard = mem / "p" / "data.array_record-00001-of-00002"
    if damage == "remove_shard":
        shard.unlink()
    elif damage == "remove_index":
        (mem / "p" / "index.json").unlink()
    elif damage == "truncate_shard":
        shard.write_bytes(shard.read_bytes()[:-100])
    elif damage == "swap_crc":
        (mem / "p" / "records.crc32").write_bytes(b"\0" * 80)
    with pytest.raises(DataError, match=match):
        modalax.PackedDataset(root=str(mem / "p"))


def test_pack_refuses_a_remote_folder_holding_an_incomplete_pack(mem: RemotePath) -> None:
    (mem / "p" / "data.array_record-00000-of-00001.partial").write_bytes(b"half")
    with pytest.raises(ConfigError, match=r"holds an incomplete pack .* delete it first"):
        modalax.pack({"x": np.arange(3)}, str(mem / "p"), progress=False)


def test_a_failed_remote_pack_removes_what_it_wrote(mem: RemotePath) -> None:
    rows = [{"x": np.zeros(2)}] * 5 + [{"x": "text"}]
    with pytest.raises(DataError, match="record 5"):
        modalax.pack(rows, str(mem / "p"), shards=2, progress=False)
    assert not (mem / "p").exists() or list((mem / "p").iterdir()) == []


def test_tar_shards_behind_urls_stream_like_local_ones(mem: RemotePath, tmp_path: Path) -> None:
    from modalax import StreamingLoader, WebDatasetSource

    for s in range(3):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            for i in range(4):
                data = str(10 * s + i).encode()
                info = tarfile.TarInfo(f"{s}-{i:03d}.cls")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
        (mem / "shards" / f"train-{s}.tar").write_bytes(buf.getvalue())
        (tmp_path / f"train-{s}.tar").write_bytes(buf.getvalue())

    def labels(source: object) -> list[int]:
        loader = StreamingLoader(source, 4, shuffle_shards=True, shuffle_buffer=3, seed=2)
        return [int(v) for b in loader for v, ok in zip(b["cls"], b["mask"], strict=True) if ok]

    remote = labels(WebDatasetSource(str(mem / "shards")))
    assert remote == labels(WebDatasetSource(str(tmp_path))) and sorted(remote) == sorted(
        10 * s + i for s in range(3) for i in range(4)
    )
    with pytest.raises(DataError, match=r"memory://.*/missing\.tar.*no such file"):
        list(StreamingLoader(WebDatasetSource(str(mem / "missing.tar")), 2))


def test_text_files_and_decoders_take_urls(mem: RemotePath) -> None:
    pytest.importorskip("modalax_text")
    from modalax_text.datasets.files import TextFileDataset

    (mem / "t.txt").write_bytes(b"first line\n\nsecond line\r\nthird\n")
    ds = TextFileDataset(path=str(mem / "t.txt"))
    assert len(ds) == 3 and ds.read_texts([2, 0]) == ["third", "first line"]
    with pytest.raises(DataError, match="is not a readable file"):
        TextFileDataset(path=str(mem / "none.txt"))
    pytest.importorskip("modalax_image")
    from modalax_image import decode_image
    from modalax_image.config import ImageModalityConfig

    (mem / "x.png").write_bytes(_png(77))
    config = ImageModalityConfig(height=6, width=5)
    got, want = decode_image(str(mem / "x.png"), config)["images"], decode_image(_png(77), config)["images"]
    np.testing.assert_array_equal(got, want)
    with pytest.raises(DataError, match=r"memory://.*/nope\.png"):
        decode_image(str(mem / "nope.png"), config)


def test_checkpoint_positions_are_written_to_a_url(mem: RemotePath) -> None:
    checkpoint = pytest.importorskip("modalax.checkpoint")

    class Loader:
        def __init__(self) -> None:
            self.state = {"epoch": 3, "step": 7}

        def state_dict(self) -> dict:
            return dict(self.state)

        def load_state_dict(self, state: dict) -> None:
            self.state = state

    handler = checkpoint.LoaderCheckpointHandler()
    item = mem / "ckpt" / "12" / "data"
    handler.save(item, checkpoint.LoaderSave(Loader()))
    assert (item / checkpoint.state_filename()).exists()
    target = Loader()
    target.state = {}
    assert handler.restore(item, checkpoint.LoaderRestore(target)).state == {"epoch": 3, "step": 7}
    with pytest.raises(DataError, match="does not exist"):
        handler.restore(mem / "ckpt" / "13" / "data")
