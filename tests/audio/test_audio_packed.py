"""audio/packed: packed audio files decode to exactly the folder's values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("array_record")

import modalax
from modalax import DataError, pack
from modalax_audio.config import AudioModalityConfig
from modalax_audio.packed import PackedAudioDataset

CONFIG = AudioModalityConfig(sample_rate=8000, duration=0.25)


def _write_folder(root: Path) -> None:
    rng = np.random.default_rng(3)
    for label, (fmt, subtype, rate) in {
        "a": ("WAV", "PCM_16", 8000),
        "b": ("FLAC", "PCM_24", 22050),
        "c": ("WAV", "FLOAT", 11025),
    }.items():
        (root / label).mkdir(parents=True)
        for i in range(2):
            clip = (0.5 * rng.standard_normal((rate // (3 + i), 1 + i))).clip(-1, 1).astype(np.float32)
            sf.write(root / label / f"{i}.{fmt.lower()}", clip, rate, subtype=subtype, format=fmt)


def test_packed_audio_values_equal_the_folder(tmp_path: Path) -> None:
    _write_folder(tmp_path / "audio")
    source = modalax.create_dataset("audio", "folder", root=tmp_path / "audio", config=CONFIG)
    index = pack(source, tmp_path / "packed", shards=2, progress=False)
    assert index.modality == "audio" and index.decode == {"field": "file", "resample": True}
    packed = modalax.create_dataset("audio", "packed", root=tmp_path / "packed")
    assert isinstance(packed, PackedAudioDataset) and packed.config == CONFIG and packed.class_names == ["a", "b", "c"]
    idx = np.arange(len(source))[::-1]
    want, got = source.get_records(idx), packed.get_records(idx)
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        assert np.asarray(got[key]).dtype == np.asarray(value).dtype
        assert float(np.max(np.abs(np.asarray(got[key], np.float64) - np.asarray(value, np.float64)))) == 0.0


def test_generated_audio_packs_as_arrays_and_keeps_its_rate(tmp_path: Path) -> None:
    source = modalax.create_dataset("audio", "synthetic", n_samples=6, config=CONFIG)
    index = pack(source, tmp_path / "packed", progress=False)
    assert index.constants == {"sample_rate": 8000}
    got = modalax.create_dataset("audio", "packed", root=tmp_path / "packed").get_records(np.arange(6))
    want = source.get_records(np.arange(6))
    np.testing.assert_array_equal(got["audio"], np.asarray(want["audio"]))
    assert got["sample_rate"] == 8000
    with pytest.raises(DataError, match=r"field 'audio'.*\(2000,\).*\(4000,\)"):
        modalax.create_dataset(
            "audio", "packed", root=tmp_path / "packed", config={"sample_rate": 16000, "duration": 0.25}
        )


def test_a_broken_file_fails_when_read_naming_shard_and_record(tmp_path: Path) -> None:
    _write_folder(tmp_path / "audio")
    (tmp_path / "audio" / "c" / "9.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    source = modalax.create_dataset("audio", "folder", root=tmp_path / "audio", config=CONFIG)
    pack(source, tmp_path / "packed", progress=False)
    packed = modalax.create_dataset("audio", "packed", root=tmp_path / "packed")
    with pytest.raises(DataError, match=r"data\.array_record-00000-of-00001' record 6 \(index 6\).*cannot decode"):
        packed.get_records(np.array([6]))
