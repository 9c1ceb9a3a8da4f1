"""Real files written by soundfile in every format/subtype it supports, decoded by modalax.

The reference is soundfile's own read of the same file (within 1e-4): modalax must add
nothing and lose nothing on the way (channels averaged to mono, float32).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from modalax import DataError
from modalax_audio import AudioFolderDataset, AudioModalityConfig, audio_extensions, decode_audio, read_audio

sf = pytest.importorskip("soundfile")
librosa = pytest.importorskip("librosa")

RATE = 16000
T = np.arange(RATE // 4) / RATE
STEREO = np.stack([0.5 * np.sin(2 * np.pi * 440 * T), 0.25 * np.sin(2 * np.pi * 660 * T)], axis=1).astype(np.float32)

# (format, subtype, endian, extension): WAV in every variant the issue names, then the other codecs.
WAV_SUBTYPES = ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"]
CASES = (
    [("WAV", s, "FILE", ".wav") for s in WAV_SUBTYPES]
    + [("WAVEX", s, "FILE", ".wav") for s in WAV_SUBTYPES]  # WAVE_FORMAT_EXTENSIBLE
    + [("RF64", s, "FILE", ".wav") for s in ["PCM_16", "PCM_24", "FLOAT"]]
    + [("WAV", s, "BIG", ".wav") for s in ["PCM_16", "PCM_24", "FLOAT"]]  # RIFX
    + [("WAV", s, "FILE", ".wav") for s in ["IMA_ADPCM", "MS_ADPCM", "GSM610"]]
    + [("FLAC", s, "FILE", ".flac") for s in ["PCM_S8", "PCM_16", "PCM_24"]]
    + [("OGG", "VORBIS", "FILE", ".ogg"), ("OGG", "OPUS", "FILE", ".opus"), ("MP3", "MPEG_LAYER_III", "FILE", ".mp3")]
    + [("AIFF", "PCM_16", "FILE", ".aiff"), ("W64", "PCM_24", "FILE", ".w64"), ("CAF", "FLOAT", "FILE", ".caf")]
)


def write(path: Path, fmt: str, subtype: str, endian: str, data: np.ndarray = STEREO, rate: int = RATE) -> Path:
    if not sf.check_format(fmt, subtype, endian):
        pytest.skip(f"libsndfile {sf.__libsndfile_version__} does not write {fmt}/{subtype}/{endian}")
    sf.write(path, data, rate, format=fmt, subtype=subtype, endian=endian)
    return path


@pytest.mark.parametrize(("fmt", "subtype", "endian", "ext"), CASES, ids=lambda v: str(v))
def test_every_format_decodes_as_soundfile_reads_it(tmp_path: Path, fmt: str, subtype: str, endian: str, ext: str):
    data = STEREO[:, :1] if subtype == "GSM610" else STEREO  # libsndfile's GSM 6.10 is mono only
    path = write(tmp_path / f"clip{ext}", fmt, subtype, endian, data)
    ref, ref_rate = sf.read(path, dtype="float32", always_2d=True)
    audio, rate = read_audio(path)
    assert rate == ref_rate == RATE and audio.dtype == np.float32
    np.testing.assert_allclose(audio, ref.mean(axis=1), atol=1e-4)
    assert ext in audio_extensions()
    # Lossless codecs keep the signal itself, not just soundfile's view of it.
    if subtype in ("PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"):
        np.testing.assert_allclose(audio, STEREO.mean(axis=1), atol=1e-4)


@pytest.mark.parametrize("kind", ["path", "str", "bytes", "file"])
def test_decode_audio_takes_paths_bytes_and_files_alike(tmp_path: Path, kind: str) -> None:
    path = write(tmp_path / "a.flac", "FLAC", "PCM_24", "FILE", rate=22050)
    config = AudioModalityConfig(sample_rate=16000, duration=0.5, normalize=False)
    src = {"path": path, "str": str(path), "bytes": path.read_bytes(), "file": io.BytesIO(path.read_bytes())}[kind]
    got = decode_audio(src, config)
    want = decode_audio(path, config)
    assert set(got) == {"audio", "length", "source_sample_rate"}
    np.testing.assert_array_equal(got["audio"], want["audio"])
    ref = librosa.resample(sf.read(path, dtype="float32")[0].mean(axis=1), orig_sr=22050, target_sr=16000)
    # librosa's length, ceil(4000 * 16000 / 22050) = 2903 (soxr alone gives 2902)
    assert int(got["length"]) == len(ref) == 2903 and int(got["source_sample_rate"]) == 22050
    np.testing.assert_allclose(got["audio"][: len(ref)], ref, atol=1e-5)


def test_default_extensions_find_every_codec_in_a_folder(tmp_path: Path) -> None:
    written = []
    for fmt, subtype, ext in [
        ("FLAC", "PCM_16", ".flac"),
        ("OGG", "VORBIS", ".ogg"),
        ("MP3", "MPEG_LAYER_III", ".mp3"),
    ]:
        if sf.check_format(fmt, subtype):
            written.append(write(tmp_path / f"x{ext}", fmt, subtype, "FILE"))
    write(tmp_path / "y.wav", "WAV", "PCM_16", "FILE")
    (tmp_path / "notes.txt").write_text("not audio")
    ds = AudioFolderDataset(AudioModalityConfig(sample_rate=RATE, duration=0.25), tmp_path)
    assert sorted(p.name for p in ds.paths) == sorted([p.name for p in written] + ["y.wav"])
    batch = ds.get_records(np.arange(len(ds)))
    assert batch["audio"].shape == (len(ds), 4000) and "labels" not in batch


def test_extensions_cover_the_common_aliases() -> None:
    exts = audio_extensions()
    for ext in (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".8svx", ".iff", ".au", ".snd", ".sph", ".mat"):
        assert ext in exts
    assert (".mp3" in exts) == ("MP3" in sf.available_formats())
    assert (".opus" in exts) == ("OPUS" in sf.available_subtypes("OGG"))
    assert ".raw" not in exts  # header-less: never guessed from an extension


@pytest.mark.parametrize(("fmt", "subtype", "ext"), [("WAV", "PCM_16", ".wav"), ("FLAC", "PCM_16", ".flac")])
def test_truncated_files_are_data_errors_naming_them(tmp_path: Path, fmt: str, subtype: str, ext: str) -> None:
    full = write(tmp_path / f"full{ext}", fmt, subtype, "FILE")
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(full.read_bytes()[: len(full.read_bytes()) // 2])
    with pytest.raises(DataError, match=rf"cut\{ext}"):
        read_audio(cut)


def test_truncated_wav_data_chunk_says_so(tmp_path: Path) -> None:
    full = write(tmp_path / "full.wav", "WAV", "PCM_16", "FILE")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[:2000])
    with pytest.raises(DataError, match=r"cut\.wav.*truncated.*declares"):
        read_audio(cut)


def test_truncated_mp3_is_a_data_error(tmp_path: Path) -> None:
    full = write(tmp_path / "full.mp3", "MP3", "MPEG_LAYER_III", "FILE")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(full.read_bytes()[: len(full.read_bytes()) // 2])
    with pytest.raises(DataError, match=r"cut\.mp3"):
        read_audio(cut)


@pytest.mark.parametrize("ext", [".wav", ".flac", ".mp3", ".ogg"])
def test_a_non_audio_file_with_an_audio_extension_is_a_data_error(tmp_path: Path, ext: str) -> None:
    fake = tmp_path / f"photo{ext}"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    with pytest.raises(DataError, match=rf"photo\{ext}.*cannot decode as audio"):
        read_audio(fake)
