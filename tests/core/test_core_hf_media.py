"""HF ``datasets`` Image()/Audio() columns decode exactly as the folder datasets and packed shards do.

The real ``datasets`` library builds the datasets (``load_dataset("imagefolder"/"audiofolder")``
and ``cast_column``) over real files of every awkward kind: greyscale, RGBA, LA, a palette with
transparency, 16-bit, CMYK, an EXIF-rotated JPEG, several sizes, stereo FLAC at another rate and
a truncated WAV. Each record through HF must equal the record of the same file through
``ImageFolderDataset``/``AudioFolderDataset`` and through packed shards, value for value.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modalax import ConfigError, DataError, DataLoader
from modalax._src.sources import HFSource, as_source

from .media_fixtures import audio_column, registered_decoders, write_audio, write_images

datasets = pytest.importorskip("datasets")
modalax_image = pytest.importorskip("modalax_image")
modalax_audio = pytest.importorskip("modalax_audio")


@pytest.fixture(autouse=True)
def decoders() -> Iterator[None]:
    with registered_decoders():
        yield


def cells_paths(ds: Any, column: str) -> list[str]:
    feature = type(ds.features[column])(decode=False)
    return [cell["path"] for cell in ds.cast_column(column, feature)[column]]


def image_folder(tmp_path: Path) -> Any:
    write_images(tmp_path / "imgs")
    return datasets.load_dataset(
        "imagefolder", data_dir=str(tmp_path / "imgs"), split="train", cache_dir=str(tmp_path / "c")
    )


@pytest.mark.parametrize(
    "config",
    [
        {"height": 24, "width": 32},
        {"height": 16, "representation": "grayscale"},
        {"height": 20, "width": 12, "representation": "rgba", "resize_method": "nearest"},
    ],
    ids=["rgb", "grayscale", "rgba-nearest"],
)
def test_hf_images_equal_the_folder_dataset_and_packed_shards(tmp_path: Path, config: dict[str, Any]) -> None:
    from modalax import get_dataset_factory
    from modalax._src.packed import pack
    from modalax_image import ImageFolderDataset, ImageModalityConfig

    cfg = ImageModalityConfig(**config)
    ds = image_folder(tmp_path)
    paths = cells_paths(ds, "image")
    assert len(paths) == 8
    folder = ImageFolderDataset.from_files(paths, config=cfg)
    pack(folder, tmp_path / "packed", progress=False)
    packed = get_dataset_factory("image", "packed")(cfg, root=tmp_path / "packed")
    hf = HFSource(ds, configs={"image": cfg})
    everything = np.arange(len(paths))
    want = folder.get_records(everything)["images"]
    assert want.shape == (8, cfg.height, cfg.width, cfg.representation.channels)
    np.testing.assert_array_equal(hf.get_records(everything)["images"], want)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(hf)).get_records(everything)["images"], want)
    np.testing.assert_array_equal(packed.get_records(everything)["images"], want)
    batch = next(iter(DataLoader(ds, 8, shuffle=False, drop_last=False)))  # the default config through the loader
    default = ImageFolderDataset.from_files(paths).get_records(everything)["images"]
    np.testing.assert_array_equal(np.asarray(batch["images"]), default)


def test_what_hf_alone_would_have_decoded_differently(tmp_path: Path) -> None:
    """HF's own decoding keeps 1 or 4 channels (and a 16-bit mode); ours follows the config as the folder does."""
    from modalax_image import decode_image

    ds = image_folder(tmp_path)
    paths = cells_paths(ds, "image")
    own = {Path(p).name: np.asarray(img) for p, img in zip(paths, ds["image"], strict=True)}
    assert own["grey.png"].ndim == 2 and own["rgba.png"].shape[-1] == 4 and own["deep.png"].dtype != np.uint8
    src = HFSource(ds)
    for j, path in enumerate(paths):
        np.testing.assert_array_equal(src[j]["images"], decode_image(path)["images"])


def test_hf_audio_equals_the_folder_dataset_and_refuses_a_truncated_wav(tmp_path: Path) -> None:
    from modalax_audio import AudioFolderDataset, AudioModalityConfig

    good, truncated = write_audio(tmp_path / "clips")
    # load_dataset("audiofolder") needs torchcodec to build; these are the cells it would store.
    ds = datasets.Dataset.from_dict({"audio": audio_column([*good, truncated])}).cast_column("audio", datasets.Audio())
    paths = cells_paths(ds, "audio")
    cfg = AudioModalityConfig(sample_rate=11025, duration=0.3)
    hf = HFSource(ds, configs={"audio": cfg})
    bad = paths.index(str(truncated))
    rows = [j for j in range(len(paths)) if j != bad]
    folder = AudioFolderDataset.from_files([paths[j] for j in rows], config=cfg)
    want = folder.get_records(np.arange(len(rows)))
    got = hf.get_records(rows)
    assert sorted(got) == ["audio", "length", "source_sample_rate"]
    for key in got:
        np.testing.assert_array_equal(got[key], want[key])
    assert sorted(got["source_sample_rate"].tolist()) == [8000, 16000, 22050]
    with pytest.raises(DataError, match=rf"HF column 'audio' record {bad}: .*truncated\.wav"):
        hf.get_records([rows[0], bad])
    with pytest.raises(DataError, match=r"truncated\.wav"):
        AudioFolderDataset.from_files([truncated], config=cfg)[0]


def test_several_media_columns_nest_by_column_and_plain_columns_stay(tmp_path: Path) -> None:
    paths = [str(p) for p in write_images(tmp_path / "imgs")[:3]]
    ds = datasets.Dataset.from_dict({"a": paths, "b": paths[::-1], "id": [4, 5, 6], "text": ["x", "y", "z"]})
    ds = ds.cast_column("a", datasets.Image()).cast_column("b", datasets.Image())
    batch = HFSource(ds).get_records([2, 0])
    assert sorted(batch) == ["a", "b", "id", "text"] and sorted(batch["a"]) == ["images"]
    np.testing.assert_array_equal(batch["a"]["images"][0], batch["b"]["images"][1])  # paths[2] both
    assert batch["id"].tolist() == [6, 4] and batch["id"].dtype == np.int64 and list(batch["text"]) == ["z", "x"]
    loaded = next(iter(DataLoader(ds, 3, shuffle=False)))
    assert loaded["a"]["images"].shape == (3, 64, 64, 3)


def hf_table(columns: dict[str, list[Any]]) -> Any:
    return datasets.Dataset.from_dict(columns)


PLAIN_FAULTS = [
    ({"n": [0, 1, 2, 3, None, 5]}, {}, DataError, r"field 'n' of record 4 is None \(null\).*fill=\{'n': value\}"),
    ({"f": [0.5, None, 1.0, 2.0, 3.0, 4.0]}, {}, DataError, r"field 'f' of record 1 is None"),
    ({"x": [0.0, 1.0, 2.0, 3.0, 4.0, 1e300]}, {}, DataError, r"field 'x' of record 5 holds 1e\+300, which float32"),
    ({"big": [0, 1, 2, 3, 2**40, 5]}, {}, DataError, r"field 'big' of record 4 holds 1099511627776, which int32"),
    ({"l": [[1, 2]] * 4 + [[3], [4, 5]]}, {}, DataError, r"field 'l' of record 4 holds 1 values but record 5 holds 2"),
    ({"m": [{"i": 1}] * 4 + [{"i": None}, {"i": 2}]}, {}, DataError, r"field 'm\.i' of record 4 is None"),
    ({"s": ["a", "b", "c", "d", None, "f"]}, {}, DataError, r"field 's' of record 4 is None"),
    ({"n": [0, 1, 2, 3, None, 5]}, {"fill": {"n": "zero"}}, ConfigError, r"HFSource.fill\['n'\]: got 'zero'"),
    ({"n": [0] * 6}, {"fill": {"nope": 1}}, ConfigError, r"HFSource.fill: got \['nope'\], expected .*\['n'\]"),
    ({"n": [0] * 6}, {"configs": {"image": {}}}, ConfigError, r"HFSource.configs: got \['image'\], expected .* \[\]"),
    ({"n": [0] * 6}, {"columns": "n"}, ConfigError, r"HFSource.columns: got the string 'n'"),
]


@pytest.mark.parametrize(("columns", "options", "error", "message"), PLAIN_FAULTS)
def test_plain_columns_arrive_as_they_were_or_are_refused(
    columns: dict[str, list[Any]], options: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        HFSource(hf_table(columns), **options).get_records([5, 4, 1, 0])


def test_timestamps_have_no_array_form() -> None:
    import datetime

    ds = hf_table({"t": [datetime.datetime(2024, 1, d) for d in (1, 2)]})
    with pytest.raises(ConfigError, match=r"field 't' has Arrow type timestamp.*columns=\[\.\.\.\]"):
        HFSource(ds).get_records([0])


def test_explicit_fill_and_dtype_are_applied() -> None:
    ds = hf_table(
        {"n": [1, None, 3], "x": [1.0, 1e300, 2.0], "m": [{"i": 1}, {"i": None}, {"i": 3}], "l": [[1, 2]] * 3}
    )
    src = HFSource(ds, fill={"n": -1, "m.i": 0}, dtype={"x": "float32"})
    batch = src.get_records([1, 2])
    assert batch["n"].tolist() == [-1, 3] and batch["n"].dtype == np.int64  # still ints, not NaN floats
    assert batch["x"].dtype == np.float32 and np.isinf(batch["x"][0])  # the user chose float32
    assert batch["m"]["i"].tolist() == [0, 3] and batch["l"].tolist() == [[1, 2], [1, 2]]
    assert src[1]["m"]["i"] == 0 and np.ndim(src[1]["m"]["i"]) == 0


def media_dataset(tmp_path: Path, feature: Any, column: str = "img") -> Any:
    paths = [str(p) for p in write_images(tmp_path / "imgs")[:2]]
    if isinstance(feature, dict):  # media inside a struct
        cells = [{"inner": {"bytes": None, "path": p}} for p in paths]
        return datasets.Dataset.from_dict({column: cells}, features=datasets.Features({column: feature}))
    return datasets.Dataset.from_dict({column: paths}).cast_column(column, feature)


MEDIA_FAULTS = [
    (
        lambda: datasets.Image(mode="L"),
        {},
        r"column 'img' is Image\(mode='L'\), but the 'image' config decodes to mode 'RGB'",
    ),
    (
        lambda: datasets.Image(),
        {"configs": {"image": 3}},
        r"HFSource.configs\['image'\]: got int, expected a ImageModalityConfig",
    ),
    (
        lambda: datasets.Image(),
        {"configs": {"audio": {}}},
        r"HFSource.configs: got \['audio'\], expected .*\['image'\]",
    ),
    (lambda: datasets.Image(), {"decode_options": {"image": {"nope": 1}}}, r"decode_options\['image'\]: .*'nope'"),
    (lambda: datasets.Image(), {"num_threads": 0}, r"HFSource.num_threads: got 0"),
    (lambda: {"inner": datasets.Image()}, {}, r"column 'img' holds media inside a list or struct"),
]


@pytest.mark.parametrize(("feature", "options", "message"), MEDIA_FAULTS)
def test_media_columns_refused_with_the_way_out(tmp_path: Path, feature: Any, options: dict, message: str) -> None:
    ds = media_dataset(tmp_path, feature())
    with pytest.raises(ConfigError, match=message):
        HFSource(ds, **options)


def test_feature_settings_that_agree_with_the_config_are_honoured(tmp_path: Path) -> None:
    from modalax_image import ImageModalityConfig

    ds = media_dataset(tmp_path, datasets.Image(mode="L"))
    batch = HFSource(ds, configs={"image": {"representation": "grayscale", "height": 8}}).get_records([0, 1])
    assert batch["images"].shape == (2, 8, 8, 1)
    rgb = HFSource(media_dataset(tmp_path, datasets.Image(mode="RGB")), configs={"image": ImageModalityConfig()})
    assert rgb[0]["images"].shape == (64, 64, 3)
    good, _ = write_audio(tmp_path / "clips")
    audio = datasets.Dataset.from_dict({"clip": audio_column(good)}).cast_column(
        "clip", datasets.Audio(sampling_rate=22050)
    )
    with pytest.raises(ConfigError, match=r"column 'clip' is Audio\(sampling_rate=22050\), but .* 16000 Hz"):
        HFSource(audio)
    assert HFSource(audio, configs={"audio": {"sample_rate": 22050}})[0]["audio"].shape == (44100,)


def test_clashing_names_null_cells_and_undecodable_bytes(tmp_path: Path) -> None:
    ds = media_dataset(tmp_path, datasets.Image(), column="img").add_column("images", [1, 2])
    with pytest.raises(ConfigError, match=r"column 'img' decodes to the field\(s\) \['images'\]"):
        HFSource(ds).get_records([0])
    cells = [{"bytes": b"not an image", "path": None}, None]
    broken = datasets.Dataset.from_dict({"img": cells}, features=datasets.Features({"img": datasets.Image()}))
    with pytest.raises(DataError, match=r"HF column 'img' record 1 is None"):
        HFSource(broken).get_records([1])
    with pytest.raises(DataError, match=r"HF column 'img' record 0: cannot decode <12 bytes>"):
        HFSource(broken).get_records([0])


def test_dataset_dicts_are_refused() -> None:
    ds = hf_table({"n": [1, 2, 3]})
    message = r"DatasetDict with the splits \['train', 'test'\].*ds\['train'\]"
    with pytest.raises(ConfigError, match=message):
        as_source(datasets.DatasetDict({"train": ds, "test": ds}))
    with pytest.raises(ConfigError, match=message):
        DataLoader(datasets.DatasetDict({"train": ds, "test": ds}), 2)


def test_a_stream_is_no_index_source_but_loads_in_order() -> None:
    stream = hf_table({"n": [1, 2, 3]}).to_iterable_dataset()
    with pytest.raises(ConfigError, match=r"streaming IterableDataset.*streaming=False.*DataLoader\(stream"):
        as_source(stream)
    loader = DataLoader(stream, 2)
    assert type(loader).__name__ == "StreamingLoader"
    batches = list(loader)
    assert [np.asarray(b["n"]).tolist() for b in batches] == [[1, 2], [3, 3]]  # the short batch repeats its last
    assert [np.asarray(b["mask"]).tolist() for b in batches] == [[True, True], [True, False]]
