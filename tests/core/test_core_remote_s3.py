"""Remote storage on S3: moto's S3 server (``moto[server]``) on 127.0.0.1, reached through s3fs.

Packing into a bucket and reading it back (ranged reads) gives the local pack's bytes and
values; image folders and checkpoint positions live in the bucket; credentials the server
refuses are a ``DataError`` naming the URL.
"""

from __future__ import annotations

import io
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")
pytest.importorskip("array_record")

import modalax
from modalax import DataError

sys.path.insert(0, str(Path(__file__).parent))
from remote_fixtures import moto_s3


@pytest.fixture(scope="module")
def bucket() -> Iterator[str]:
    with moto_s3("modalax") as _:
        yield "s3://modalax"


def _png(value: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.full((5, 7, 3), value, np.uint8)).save(out, "PNG")
    return out.getvalue()


def test_an_image_folder_packed_into_s3_reads_back_like_local(bucket: str, tmp_path: Path) -> None:
    pytest.importorskip("modalax_image")
    from modalax_image import ImageFolderDataset
    from modalax_image.config import ImageModalityConfig

    root = modalax.as_path(f"{bucket}/folder/train")
    for c in ("x", "y"):
        for i in range(4):
            (root / c / f"{i}.png").write_bytes(_png(30 * i + (c == "y")))
            (tmp_path / "train" / c).mkdir(parents=True, exist_ok=True)
            (tmp_path / "train" / c / f"{i}.png").write_bytes(_png(30 * i + (c == "y")))
    (root / "y" / "bad.png").write_bytes(b"broken")
    (tmp_path / "train" / "y" / "bad.png").write_bytes(b"broken")
    config = ImageModalityConfig(height=5, width=7)
    remote = ImageFolderDataset(config, root=f"{bucket}/folder", on_error="skip")
    local = ImageFolderDataset(config, root=tmp_path, on_error="skip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        a = modalax.pack(remote, f"{bucket}/packed", shards=2, progress=False)
        b = modalax.pack(local, tmp_path / "packed", shards=2, progress=False)
    assert a.shards == b.shards and a.files == b.files and len(a.skipped) == len(b.skipped) == 1
    packed = modalax.create_dataset("image", "packed", root=f"{bucket}/packed", on_error="skip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got, want = packed.get_records(np.arange(9)), local.get_records(np.arange(9))
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def test_credentials_refused_by_s3_name_the_url(bucket: str) -> None:
    from moto import settings

    modalax.pack({"v": np.arange(4)}, f"{bucket}/small", progress=False)
    saved = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # the server now checks keys: "testing" is no known key
    try:
        with pytest.raises(DataError, match=r"'s3://modalax/small/index.json': access refused by the remote"):
            modalax.PackedDataset(root=f"{bucket}/small")
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = saved
    assert len(modalax.PackedDataset(root=f"{bucket}/small")) == 4


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("s3://modalax/absent", r"'s3://modalax/absent/index.json': missing"),
        ("s3://no-such-bucket-here/p", r"'s3://no-such-bucket-here/p/index.json': missing"),
    ],
)
def test_a_missing_pack_on_s3_is_named(bucket: str, url: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        modalax.PackedDataset(root=url)


def test_checkpoint_positions_in_a_bucket(bucket: str) -> None:
    checkpoint = pytest.importorskip("modalax.checkpoint")

    class Loader:
        def __init__(self) -> None:
            self.state = {"epoch": 1, "step": 2}

        def state_dict(self) -> dict:
            return dict(self.state)

        def load_state_dict(self, state: dict) -> None:
            self.state = state

    handler = checkpoint.LoaderCheckpointHandler()
    item = modalax.as_path(f"{bucket}/ckpt/5/data")
    handler.save(item, checkpoint.LoaderSave(Loader()))
    target = Loader()
    target.state = {}
    assert handler.restore(item, checkpoint.LoaderRestore(target)).state == {"epoch": 1, "step": 2}
