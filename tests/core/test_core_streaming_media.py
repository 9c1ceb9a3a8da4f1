"""Fields decoded through the modalities' registered decoders: the values of the folder datasets."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from modalax._src import registry
from modalax._src.streaming import HFStreamSource, WebDatasetSource
from modalax._src.streaming.loader import StreamingLoader

sys.path.insert(0, str(Path(__file__).parent))
import streaming_fixtures as fx

pytest.importorskip("PIL.Image")
pytest.importorskip("modalax_image")


@contextlib.contextmanager
def own_registry() -> Iterator[registry.Registry]:
    """A fresh registry without discovery, installed as the current one for the block."""
    previous = registry.set_current(registry.Registry(discover=False))
    try:
        yield registry.current()
    finally:
        registry.set_current(previous)


DECODERS = {
    "image": ("modalax_image.decode:decode_image", "modalax_image.decode:pillow_extensions"),
    "audio": ("modalax_audio.decode:decode_audio", "modalax_audio.decode:audio_extensions"),
}


@pytest.fixture
def media() -> Iterator[None]:
    """The image and audio modalities with their decoders (registered by the plugins once they declare them)."""
    records = []
    for name, (decoder, extensions) in DECODERS.items():
        try:
            record = registry.get_modality_record(name)
        except KeyError:
            continue
        if record.decoder is None:
            record = dataclasses.replace(record, decoder=decoder, extensions=extensions)
        records.append(record)
    with own_registry() as reg:
        for record in records:
            reg.add(record)
        yield


def write_images(root: Path, n: int) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        pixels = rng.integers(0, 256, (20 + i % 3, 24, 3), np.uint8)
        path = root / f"img{i:03d}.{'png' if i % 2 else 'jpg'}"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def test_tar_images_decode_as_the_folder_dataset(tmp_path: Path, media: None) -> None:
    from modalax_image import ImageFolderDataset
    from modalax_image.config import ImageModalityConfig

    paths = write_images(tmp_path, 9)
    labels = [i * 3 % 5 for i in range(9)]
    config = ImageModalityConfig(height=16, width=16)
    samples = [(p.stem, {p.suffix[1:]: p.read_bytes(), "cls": str(label).encode()}) for p, label in zip(paths, labels)]
    # One sample per field kind: a shard of JPEG samples and one of PNG samples.
    shards = [fx.write_tar(tmp_path / f"{ext}.tar", [s for s in samples if ext in s[1]]) for ext in ("jpg", "png")]
    source = WebDatasetSource(shards, configs={"image": config}, rename={"cls": "labels"})
    folder = ImageFolderDataset.from_files(paths, labels, config)
    want = folder.get_records(np.arange(9))
    order = [int(p.stem[3:]) for p in paths if p.suffix == ".jpg"] + [
        int(p.stem[3:]) for p in paths if p.suffix == ".png"
    ]
    batches = list(StreamingLoader(source, 3, readers=1))
    images = np.concatenate([np.asarray(b["images"]) for b in batches])
    got_labels = np.concatenate([np.asarray(b["labels"]) for b in batches])
    np.testing.assert_array_equal(images, want["images"][order])
    np.testing.assert_array_equal(got_labels, np.asarray(want["labels"])[order])
    assert images.shape == (9, 16, 16, 3) and images.dtype == np.float32


def test_decode_options_override_a_field(tmp_path: Path, media: None) -> None:
    paths = write_images(tmp_path, 2)
    shard = fx.write_tar(tmp_path / "a.tar", [(p.stem, {"png": paths[1].read_bytes()}) for p in paths])
    raw = next(iter(StreamingLoader(WebDatasetSource(shard, decode={"png": "bytes"}), 2)))
    assert raw["png"] == [paths[1].read_bytes()] * 2
    sizes = next(iter(StreamingLoader(WebDatasetSource(shard, decode={".png": lambda b: np.int32(len(b))}), 2)))
    assert np.asarray(sizes["png"]).tolist() == [len(paths[1].read_bytes())] * 2


def test_two_fields_of_one_key_are_a_data_error(tmp_path: Path, media: None) -> None:
    from modalax import DataError

    paths = write_images(tmp_path, 2)
    shard = fx.write_tar(tmp_path / "a.tar", [("k", {"jpg": paths[0].read_bytes(), "png": paths[1].read_bytes()})])
    with pytest.raises(DataError, match=r"sample 'k': fields 'jpg' and 'png' both give the record key 'images'"):
        list(StreamingLoader(WebDatasetSource(shard), 1))


def test_tar_audio_decodes_as_the_folder_dataset(tmp_path: Path, media: None) -> None:
    sf = pytest.importorskip("soundfile")
    pytest.importorskip("modalax_audio")
    from modalax_audio import AudioFolderDataset
    from modalax_audio.config import AudioModalityConfig

    rng = np.random.default_rng(1)
    paths = []
    for i, rate in enumerate((8000, 16000, 22050)):
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, rng.uniform(-0.5, 0.5, int(rate * 0.3)).astype(np.float32), rate)
        paths.append(path)
    config = AudioModalityConfig(sample_rate=16000, duration=0.25)
    shard = fx.write_tar(tmp_path / "a.tar", [(p.stem, {"wav": p.read_bytes()}) for p in paths])
    got = next(iter(StreamingLoader(WebDatasetSource(shard, configs={"audio": config}), 3)))
    want = AudioFolderDataset.from_files(paths, config=config).get_records(np.arange(3))
    for key in ("audio", "length"):
        np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(want[key]))


def test_hf_image_columns_decode_as_the_folder_dataset(tmp_path: Path, media: None) -> None:
    datasets = pytest.importorskip("datasets")
    from modalax_image import ImageFolderDataset
    from modalax_image.config import ImageModalityConfig

    paths = write_images(tmp_path, 6)
    features = datasets.Features({"img": datasets.Image(), "label": datasets.Value("int32")})
    ds = datasets.IterableDataset.from_generator(
        hf_images, gen_kwargs={"paths": [str(p) for p in paths]}, features=features
    )
    config = ImageModalityConfig(height=12, width=12)
    source = HFStreamSource(ds, configs={"image": config}, rename={"label": "labels"})
    assert source.num_shards == 6
    batches = list(StreamingLoader(source, 6))
    want = ImageFolderDataset.from_files(paths, list(range(6)), config).get_records(np.arange(6))
    np.testing.assert_array_equal(np.asarray(batches[0]["images"]), want["images"])
    np.testing.assert_array_equal(np.asarray(batches[0]["labels"]), np.arange(6))


def hf_images(paths: list[str]) -> Iterator[dict[str, object]]:
    for p in paths:
        with open(p, "rb") as f:
            yield {"img": {"bytes": f.read(), "path": None}, "label": int(Path(p).stem[3:])}


def test_a_toy_modality_decoder_is_found_by_extension(tmp_path: Path) -> None:
    from modalax import ModalityRecord

    with own_registry() as reg:
        reg.add(ModalityRecord("toy", object, decoder=toy_decode, extensions=lambda: (".toy",)))
        shard = fx.write_tar(tmp_path / "a.tar", [("a", {"toy": b"abc"}), ("b", {"toy": b"hello"})])
        batch = next(iter(StreamingLoader(WebDatasetSource(shard, configs={"toy": 2}), 2)))
    assert np.asarray(batch["toy_length"]).tolist() == [6, 10]


def toy_decode(data: bytes, config: object) -> dict[str, np.ndarray]:
    return {"toy_length": np.int32(len(data) * int(config))}  # type: ignore[call-overload]
