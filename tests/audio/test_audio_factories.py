"""Dataset factories: one argument order (config, root, split; keyword seed/rngs), every registered type
built by create_audio_dataset, the decode path on the modality record, and what 0.2 users relied on."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from flax import nnx

import modalax
from modalax import ConfigError, DataError, UnknownNameError
from modalax.plugin import get_modality_record, resolve
from modalax_audio import (
    AudioFiles,
    AudioFolderDataset,
    AudioModalityConfig,
    SyntheticAudioDataset,
    audio_extensions,
    create_audio_dataset,
    decode_audio,
)
from modalax_audio.datasets.factory import DATASET_TYPES

CFG = AudioModalityConfig(sample_rate=8000, duration=0.1)


def _folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for label, rate in (("a", 8000), ("b", 11025)):
        (root / label).mkdir(parents=True)
        sf.write(root / label / "x.flac", 0.3 * rng.standard_normal(rate // 5), rate, subtype="PCM_16")
    return root


@pytest.fixture(scope="module")
def packed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("array_record")
    tmp = tmp_path_factory.mktemp("packed")
    modalax.pack(AudioFolderDataset(CFG, _folder(tmp / "audio")), tmp / "packed", progress=False)
    return tmp / "packed"


def _records(ds: Any) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in ds.get_records(np.arange(len(ds))).items()}


def test_every_factory_takes_config_then_root_then_split() -> None:
    from modalax_audio.packed import PackedAudioDataset

    for cls, head in (
        (SyntheticAudioDataset, ["config", "dataset_size", "audio_types", "name", "split"]),
        (AudioFolderDataset, ["config", "root", "split"]),
        (PackedAudioDataset, ["config", "root", "split"]),
    ):
        params = inspect.signature(cls.__init__).parameters
        positional = [p for p in params.values() if p.kind is p.POSITIONAL_OR_KEYWORD][1:]
        assert [p.name for p in positional] == head, cls.__name__
        assert positional[0].default is None and params["split"].default == "train"
    assert {"seed", "rngs", "n_samples"} <= set(inspect.signature(SyntheticAudioDataset.__init__).parameters)


def test_dataset_size_and_the_seeds_n_samples_are_one_argument() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the API reference's spelling is documented: no warning
        by_seed = SyntheticAudioDataset(CFG, n_samples=7, seed=1)
        by_name = SyntheticAudioDataset(CFG, dataset_size=7, seed=1)
        positional = SyntheticAudioDataset(CFG, 7, ["sine", "noise", "chirp"], "clips", "train", seed=1)
        agreeing = SyntheticAudioDataset(CFG, dataset_size=7, n_samples=7, seed=1)
    for ds in (by_seed, by_name, positional, agreeing):
        assert len(ds) == ds.n_samples == ds.dataset_size == 7
        np.testing.assert_array_equal(_records(ds)["audio"], _records(by_seed)["audio"])
    assert positional.name == "clips" and len(SyntheticAudioDataset(CFG)) == 1000
    assert len(create_audio_dataset("synthetic", CFG, dataset_size=4)) == len(create_audio_dataset(n_samples=4)) == 4
    assert len(modalax.create_dataset("audio", "synthetic", config=CFG, dataset_size=3)) == 3


def test_seed_and_rngs_give_the_same_records() -> None:
    want = _records(SyntheticAudioDataset(CFG, 6, seed=5))["audio"]
    for ds in (
        SyntheticAudioDataset(CFG, 6, rngs=5),
        SyntheticAudioDataset(CFG, 6, rngs=nnx.Rngs(5)),
        create_audio_dataset("synthetic", CFG, dataset_size=6, seed=5),
        create_audio_dataset("synthetic", CFG, dataset_size=6, rngs=nnx.Rngs(5)),
    ):
        np.testing.assert_array_equal(_records(ds)["audio"], want)
    assert not np.array_equal(_records(SyntheticAudioDataset(CFG, 6, seed=6))["audio"], want)


def _make(dataset_type: str, root: Path, packed: Path, **kwargs: Any) -> Any:
    where = {"folder": {"root": root}, "packed": {"root": packed}}.get(dataset_type, {})
    return create_audio_dataset(dataset_type, CFG, **where, **kwargs)


def test_create_audio_dataset_builds_every_registered_type(tmp_path: Path, packed_root: Path) -> None:
    root = _folder(tmp_path / "audio")
    registered = modalax.list_datasets("audio")
    assert sorted(registered) == sorted(DATASET_TYPES) == ["folder", "packed", "synthetic"]
    for dataset_type in registered:
        ours = _make(dataset_type, root, packed_root, split="train", seed=2)
        factory = modalax.get_dataset_factory("audio", dataset_type)
        theirs = factory(
            CFG,
            **({"root": packed_root if dataset_type == "packed" else root} if dataset_type != "synthetic" else {}),
            seed=2,
        )
        assert type(ours) is type(theirs) and ours.config == CFG and len(ours) == len(theirs), dataset_type
        for key, value in _records(theirs).items():
            np.testing.assert_array_equal(_records(ours)[key], value, err_msg=f"{dataset_type}: {key}")
        with pytest.raises(ConfigError, match="both rngs and seed"):
            _make(dataset_type, root, packed_root, seed=1, rngs=nnx.Rngs(1))
    # packed values are the folder's, by construction (one decode path)
    for key, value in _records(_make("folder", root, packed_root)).items():
        np.testing.assert_array_equal(_records(_make("packed", root, packed_root))[key], value)


def test_create_audio_dataset_builds_another_plugins_audio_type(isolated_registry: Any) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []

    def tiny(config: Any = None, split: str = "train", **kwargs: Any) -> Any:
        calls.append((config, {"split": split, **kwargs}))
        return SyntheticAudioDataset(config, 2, split=split)

    modalax.register_dataset("audio", "tiny", tiny)
    assert len(create_audio_dataset("tiny", CFG, split="val", seed=3)) == 2
    assert calls == [(CFG, {"split": "val", "seed": 3})]
    with pytest.raises(UnknownNameError, match=r"unknown dataset type 'tny'.*did you mean 'tiny'"):
        create_audio_dataset("tny", CFG)


def test_the_modality_record_names_the_one_decode_path(tmp_path: Path) -> None:
    record = get_modality_record("audio")
    decode, extensions = resolve(record.decoder), resolve(record.extensions)
    assert decode is decode_audio and extensions() == audio_extensions()
    root = _folder(tmp_path)
    folder = AudioFolderDataset(CFG, root)
    for i, path in enumerate(folder.paths):
        got = decode(path, CFG)
        assert decode(path.read_bytes(), CFG.to_dict(), resample=True)["audio"].tobytes() == got["audio"].tobytes()
        for key, value in folder.get_records(np.array([i])).items():
            if key in got:
                np.testing.assert_array_equal(value[0], got[key])
    assert decode(folder.paths[0])["audio"].shape == (AudioModalityConfig().n_time_steps,)  # config=None: defaults


def test_names_and_the_restored_audio_files_source(tmp_path: Path, packed_root: Path) -> None:
    from modalax_audio.packed import PackedAudioDataset

    root = _folder(tmp_path)
    assert AudioFolderDataset(CFG, root, name="birds").name == "birds"
    assert AudioFolderDataset(CFG, root).get_data_statistics()["name"] == "AudioFolderDataset"
    assert PackedAudioDataset(CFG, packed_root, name="shards").name == "shards"
    folder = AudioFolderDataset(CFG, root)
    files = AudioFiles(folder.paths, CFG, labels=[1, 0], num_threads=2)
    got, want = files.get_records(np.arange(2)), folder.get_records(np.arange(2))
    np.testing.assert_array_equal(got["audio"], want["audio"])
    np.testing.assert_array_equal(got["length"], want["length"])
    assert got["labels"].tolist() == [1, 0] and len(files) == 2
    with pytest.raises(DataError, match=r"b/x\.flac': sample rate 11025 Hz, expected 8000 Hz"):
        AudioFiles(folder.paths, CFG, resample=False).get_records(np.arange(2))


def test_the_02_packed_argument_order_still_works(packed_root: Path) -> None:
    from modalax_audio.packed import PackedAudioDataset

    with pytest.warns(DeprecationWarning, match=r"PackedAudioDataset\(root, config\) is deprecated"):
        old = PackedAudioDataset(packed_root, CFG)
    new = PackedAudioDataset(CFG, packed_root)
    np.testing.assert_array_equal(_records(old)["audio"], _records(new)["audio"])


BAD: list[tuple[str, Callable[[Path], Any], type, str]] = [
    ("unknown type", lambda r: create_audio_dataset("foldr", CFG), UnknownNameError, r"'foldr'.*did you mean 'folder'"),
    (
        "size zero",
        lambda r: SyntheticAudioDataset(CFG, 0),
        ConfigError,
        r"dataset_size: got 0, expected a positive int",
    ),
    ("negative n_samples", lambda r: SyntheticAudioDataset(CFG, n_samples=-1), ConfigError, r"n_samples: got -1"),
    ("float size", lambda r: SyntheticAudioDataset(CFG, 2.5), ConfigError, r"dataset_size: got 2.5"),
    (
        "two sizes",
        lambda r: SyntheticAudioDataset(CFG, dataset_size=3, n_samples=4),
        ConfigError,
        r"dataset_size=3 and n_samples=4; expected one",
    ),
    ("name not a str", lambda r: SyntheticAudioDataset(CFG, name=3), ConfigError, r"name: got 3"),
    ("folder name not a str", lambda r: AudioFolderDataset(CFG, r, name=3), ConfigError, r"name: got 3"),
    ("folder without root", lambda r: create_audio_dataset("folder", CFG), DataError, r"root: got None"),
    ("packed without root", lambda r: create_audio_dataset("packed", CFG), DataError, r"root: got None"),
    ("resample not a bool", lambda r: AudioFolderDataset(CFG, r, resample="yes"), ConfigError, r"resample: got 'yes'"),
    ("unknown decode option", lambda r: AudioFolderDataset(CFG, r, mono=True), ConfigError, r"unknown option.*'mono'"),
    (
        "files labels of another length",
        lambda r: AudioFiles([r / "a" / "x.flac"], CFG, labels=[0, 1]),
        ConfigError,
        r"AudioFiles.labels: got shape \(2,\), expected \(1,\)",
    ),
    ("files config", lambda r: AudioFiles([r / "a" / "x.flac"], 16000), ConfigError, r"AudioFiles.config: got int"),
    ("decode config", lambda r: decode_audio(r / "a" / "x.flac", "16k"), ConfigError, r"decode_audio.config: got str"),
    ("decode resample", lambda r: decode_audio(r / "a" / "x.flac", CFG, resample=1), ConfigError, r"resample: got 1"),
]


@pytest.mark.parametrize(("what", "attempt", "error", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_factory_arguments(tmp_path: Path, what: str, attempt: Callable[[Path], Any], error: type, message: str):
    root = _folder(tmp_path)
    with pytest.raises(error, match=message):
        attempt(root)
