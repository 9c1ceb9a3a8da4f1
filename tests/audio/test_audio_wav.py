"""WAV decoding (PCM 8/16/24/32-bit, IEEE float, multi-channel) and AudioFolderDataset."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest

import modalax
from modalax import DataError
from modalax_audio import AudioFolderDataset, AudioModalityConfig, read_wav, write_wav

signal = pytest.importorskip("scipy.signal")
soundfile = pytest.importorskip("soundfile")
librosa = pytest.importorskip("librosa")

# Quantisation step of each format: the round trip must be exact to half a step.
STEP = {"pcm8": 1 / 128, "pcm16": 1 / 32768, "pcm24": 1 / 2**23, "pcm32": 1 / 2**31, "float32": 1e-7, "float64": 1e-12}


def tone(sr: int, seconds: float = 0.2, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return 0.6 * np.sin(2 * np.pi * freq * t) + 0.2 * np.sin(2 * np.pi * 3 * freq * t)


@pytest.mark.parametrize("fmt", list(STEP))
@pytest.mark.parametrize("sr", [8000, 22050, 44100])
def test_round_trip_at_every_bit_depth_and_rate(tmp_path: Path, fmt: str, sr: int) -> None:
    x = tone(sr)
    path = write_wav(tmp_path / f"a_{fmt}.wav", x, sr, fmt)
    y, rate = read_wav(path)
    assert rate == sr and y.dtype == np.float32 and y.shape == x.shape
    assert np.max(np.abs(y - x)) <= STEP[fmt] / 2 + 1e-7


def test_pcm_files_are_read_by_the_standard_library(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "a.wav", tone(16000), 16000, "pcm24")
    with wave.open(str(path)) as f:  # a plain PCM file any reader accepts
        assert (f.getsampwidth(), f.getframerate(), f.getnchannels()) == (3, 16000, 1)


def test_extreme_pcm_codes_decode_to_the_full_range(tmp_path: Path) -> None:
    for fmt, width in (("pcm16", 2), ("pcm24", 3), ("pcm32", 4)):
        path = tmp_path / f"{fmt}.wav"
        full = 1 << (8 * width - 1)
        codes = np.array([-full, full - 1, 0], np.int64)
        raw = b"".join(int(c).to_bytes(width, "little", signed=True) for c in codes)
        with wave.open(str(path), "wb") as f:
            f.setnchannels(1)
            f.setsampwidth(width)
            f.setframerate(8000)
            f.writeframes(raw)
        y, _ = read_wav(path)
        np.testing.assert_allclose(y, [-1.0, (full - 1) / full, 0.0], rtol=0, atol=1e-7)


@pytest.mark.parametrize("fmt", ["pcm16", "float32"])
def test_channels_are_averaged_to_mono(tmp_path: Path, fmt: str) -> None:
    left, right = tone(8000), tone(8000, freq=300.0) * 0.5
    y, _ = read_wav(write_wav(tmp_path / "st.wav", np.stack([left, right], axis=1), 8000, fmt))
    np.testing.assert_allclose(y, (left + right) / 2, atol=STEP[fmt])


def _riff(fmt_chunk: bytes, data: bytes) -> bytes:
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk + b"data" + struct.pack("<I", len(data))
    return b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data


def test_extensible_float_files_are_read(tmp_path: Path) -> None:
    x = tone(8000).astype("<f4")
    guid = struct.pack("<H", 3) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    fmt = struct.pack("<HHIIHH", 0xFFFE, 1, 8000, 32000, 4, 32) + struct.pack("<HHI", 22, 32, 4) + guid
    path = tmp_path / "ext.wav"
    path.write_bytes(_riff(fmt, x.tobytes()))
    y, rate = read_wav(path)
    assert rate == 8000 and np.array_equal(y, x)


def test_bad_files_raise_data_errors_naming_them(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all")
    with pytest.raises(DataError, match=r"junk\.wav.*cannot decode as audio"):
        read_wav(junk)
    alaw = tmp_path / "alaw.wav"  # A-law is read now (libsndfile), as soundfile reads it
    alaw.write_bytes(_riff(struct.pack("<HHIIHH", 6, 1, 8000, 8000, 1, 8), b"\x00" * 100))
    np.testing.assert_allclose(read_wav(alaw)[0], soundfile.read(alaw, dtype="float32")[0], atol=1e-7)
    odd_float = tmp_path / "f16.wav"
    odd_float.write_bytes(_riff(struct.pack("<HHIIHH", 3, 1, 8000, 16000, 2, 16), b"\x00" * 100))
    with pytest.raises(DataError, match=r"f16\.wav.*cannot decode"):
        read_wav(odd_float)
    empty = write_wav(tmp_path / "empty.wav", np.zeros(1), 8000, "pcm16")
    with wave.open(str(empty), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(8000)
    with pytest.raises(DataError, match=r"empty\.wav.*no samples"):
        read_wav(empty)
    nan = write_wav(tmp_path / "nan.wav", np.array([0.0, 1.0]), 8000, "float32")
    nan.write_bytes(nan.read_bytes()[:-4] + struct.pack("<f", float("nan")))
    with pytest.raises(DataError, match=r"nan\.wav.*NaN"):
        read_wav(nan)
    truncated = tmp_path / "cut.wav"
    truncated.write_bytes(write_wav(tmp_path / "ok.wav", tone(8000), 8000).read_bytes()[:30])
    with pytest.raises(DataError, match=r"cut\.wav"):
        read_wav(truncated)
    with pytest.raises(DataError, match="no such file"):
        read_wav(tmp_path / "missing.wav")


def make_folder(root: Path) -> dict[str, tuple[np.ndarray, int]]:
    specs = {
        "dog/a.wav": (22050, "pcm16"),
        "dog/b.wav": (16000, "pcm24"),
        "cat/c.wav": (44100, "float32"),
        "cat/d.WAV": (8000, "pcm8"),
    }
    out = {}
    for rel, (sr, fmt) in specs.items():
        x = tone(sr, seconds=0.3 if sr != 8000 else 0.1)
        write_wav(root / rel, x, sr, fmt)
        out[rel] = read_wav(root / rel)
    (root / "notes.txt").write_text("not audio")
    return out


def test_folder_dataset_resamples_and_cuts_to_the_config(tmp_path: Path) -> None:
    files = make_folder(tmp_path)
    cfg = AudioModalityConfig(sample_rate=16000, duration=0.25, normalize=False)
    ds = AudioFolderDataset(cfg, tmp_path, labels=True)
    assert len(ds) == 4 and ds.class_names == ["cat", "dog"]
    batch = ds.get_records(np.arange(4))
    assert batch["audio"].shape == (4, 4000) and batch["audio"].dtype == np.float32
    for i, path in enumerate(ds.paths):
        x, sr = files[str(path.relative_to(tmp_path))]
        # The host resampler is soxr HQ, librosa's default: values equal librosa.resample's.
        ref = librosa.resample(x, orig_sr=sr, target_sr=16000) if sr != 16000 else x
        n = min(4000, len(ref))
        assert int(batch["length"][i]) == n and int(batch["source_sample_rate"][i]) == sr
        got = batch["audio"][i]
        np.testing.assert_allclose(got[:n], ref[:n], atol=1e-5)
        poly = signal.resample_poly(x.astype(np.float64), 16000, sr) if sr != 16000 else x
        assert 10 * np.log10(np.sum(poly[:n] ** 2) / np.sum((poly[:n] - got[:n]) ** 2 + 1e-30)) > 40
        assert np.all(got[n:] == 0)
        assert int(batch["labels"][i]) == ds.class_names.index(path.parent.name)


def test_folder_dataset_through_the_loader_and_registry(tmp_path: Path) -> None:
    make_folder(tmp_path)
    ds = modalax.create_dataset(
        "audio", "folder", config=AudioModalityConfig(sample_rate=8000, duration=0.2), root=tmp_path
    )
    batches = list(modalax.DataLoader(ds, 2, shuffle=False))
    assert len(batches) == 2 and batches[0]["audio"].shape == (2, 1600)
    assert batches[0]["sample_rate"] == 8000 and ds[0]["sample_rate"] == 8000
    np.testing.assert_allclose(np.max(np.abs(np.asarray(batches[0]["audio"])), axis=1), 1.0, rtol=1e-6)


def test_folder_dataset_errors(tmp_path: Path) -> None:
    make_folder(tmp_path)
    strict = AudioFolderDataset(AudioModalityConfig(sample_rate=16000, duration=0.1), tmp_path, resample=False)
    with pytest.raises(DataError, match=r"a\.wav.*sample rate 22050 Hz, expected 16000 Hz"):
        strict.get_records(np.array([strict.paths.index(tmp_path / "dog" / "a.wav")]))
    (tmp_path / "dog" / "broken.wav").write_bytes(b"RIFF\x00\x00")
    ds = AudioFolderDataset(AudioModalityConfig(sample_rate=16000, duration=0.1), tmp_path)
    with pytest.raises(DataError, match=r"broken\.wav"):
        ds.get_records(np.arange(len(ds)))
    with pytest.raises(DataError, match=r"no \.flac files"):
        AudioFolderDataset(None, tmp_path, extensions=(".flac",))
    with pytest.raises(DataError, match=r"nowhere.*expected an existing folder"):
        AudioFolderDataset(None, tmp_path / "nowhere")
