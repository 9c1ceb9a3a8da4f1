"""Fault injection: bad audio inputs, each a clear error naming the field or the file.

Every case builds its bad input, calls modalax, and asserts the error type and that the
message names what is wrong (a file name, a field name, a value).  Inputs that have a correct
answer instead (numpy scalars in configs, empty batches) are checked for that answer.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from modalax import ConfigError, DataError, MissingFieldError, UnknownNameError
from modalax_audio import (
    AdditiveNoiseConfig,
    AudioEvaluationSuite,
    AudioFolderDataset,
    AudioModality,
    AudioModalityConfig,
    GainConfig,
    GainOperator,
    MaskConfig,
    RandomCropConfig,
    TimeShiftConfig,
    create_audio_dataset,
    read_audio,
    read_wav,
    resample_host,
    write_wav,
)
from modalax_audio import kernels as K

CFG = AudioModalityConfig(sample_rate=16000, duration=0.1)


def riff(rate: int, data: bytes = b"\x00\x10" * 200, channels: int = 1) -> bytes:
    """A PCM-16 WAV whose header says ``rate`` Hz, built by hand (no writer accepts a bad rate)."""
    fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * 2 * channels) % 2**32, 2 * channels, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def file_with(tmp: Path, name: str, content: bytes) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def truncated(tmp: Path) -> Path:
    full = write_wav(tmp / "full.wav", np.sin(np.arange(8000) / 10), 16000).read_bytes()
    return file_with(tmp, "cut.wav", full[:3000])


def nan_wav(tmp: Path) -> Path:
    path = write_wav(tmp / "nan.wav", np.zeros(10), 16000, "float32")
    path.write_bytes(path.read_bytes()[:-4] + struct.pack("<f", float("nan")))
    return path


def folder_with(tmp: Path, bad_name: str, content: bytes) -> AudioFolderDataset:
    write_wav(tmp / "cls" / "good.wav", np.sin(np.arange(1600) / 10), 16000)
    file_with(tmp, f"cls/{bad_name}", content)
    return AudioFolderDataset(CFG, tmp)


def loose_beside_classes(tmp: Path) -> Path:
    file_with(tmp, "cls/a.wav", riff(16000))
    file_with(tmp, "loose.wav", riff(16000))
    return tmp


def read_all(ds: AudioFolderDataset) -> Any:
    return ds.get_records(np.arange(len(ds)))


# (case id, builder(tmp) -> callable raising, error type, regex the message must match)
FILE_CASES: list[tuple[str, Callable[[Path], Callable[[], Any]], type, str]] = [
    ("truncated data chunk", lambda t: lambda: read_wav(truncated(t)), DataError, r"cut\.wav.*truncated"),
    ("header rate 0", lambda t: lambda: read_wav(file_with(t, "r0.wav", riff(0))), DataError, r"r0\.wav.*rate 0 Hz"),
    (
        "header rate 4e9",
        lambda t: lambda: read_wav(file_with(t, "r4g.wav", riff(4_000_000_000))),
        DataError,
        r"r4g\.wav.*4000000000 Hz",
    ),
    (
        "header rate 2 MHz",
        lambda t: lambda: read_audio(file_with(t, "r2m.wav", riff(2_000_000))),
        DataError,
        r"r2m\.wav.*2000000 Hz.*implausible",
    ),
    (
        "header rate 0 in a folder",
        lambda t: lambda: read_all(folder_with(t, "zero.wav", riff(0))),
        DataError,
        r"zero\.wav.*rate 0 Hz",
    ),
    (
        "header rate 4e9 in a folder",
        lambda t: lambda: read_all(folder_with(t, "huge.wav", riff(4_000_000_000))),
        DataError,
        r"huge\.wav.*4000000000",
    ),
    (
        "text with a .wav name",
        lambda t: lambda: read_wav(file_with(t, "text.wav", b"hello " * 50)),
        DataError,
        r"text\.wav.*cannot decode",
    ),
    ("empty file", lambda t: lambda: read_audio(file_with(t, "empty.flac", b"")), DataError, r"empty\.flac"),
    ("missing file", lambda t: lambda: read_audio(t / "nowhere.wav"), DataError, r"nowhere\.wav.*no such file"),
    (
        "no samples",
        lambda t: lambda: read_audio(file_with(t, "silent.wav", riff(16000, b""))),
        DataError,
        r"silent\.wav.*no samples",
    ),
    ("NaN samples", lambda t: lambda: read_audio(nan_wav(t)), DataError, r"nan\.wav.*NaN"),
    ("bad bytes", lambda t: lambda: read_audio(b"\x00" * 64), DataError, r"<64 bytes>.*cannot decode"),
    (
        "other rate with resample=False",
        lambda t: (
            lambda: read_all(
                AudioFolderDataset(CFG, files=[write_wav(t / "r8k.wav", np.ones(100) * 0.1, 8000)], resample=False)
            )
        ),
        DataError,
        r"r8k\.wav.*8000 Hz, expected 16000",
    ),
    (
        "files beside class folders",
        lambda t: lambda: AudioFolderDataset(CFG, loose_beside_classes(t)),
        DataError,
        r"beside class folders.*loose\.wav",
    ),
    (
        "root and files",
        lambda t: lambda: AudioFolderDataset(CFG, t, files=[t / "a.wav"]),
        ConfigError,
        r"root=.*files=.*expected one of them",
    ),
    (
        "labels=True without class folders",
        lambda t: lambda: AudioFolderDataset(CFG, file_with(t, "flat/a.wav", riff(16000)).parent, labels=True),
        DataError,
        r"class sub-folders.*flat",
    ),
    (
        "num_threads -1",
        lambda t: lambda: AudioFolderDataset(CFG, files=[t], num_threads=-1),
        ConfigError,
        "num_threads",
    ),
    ("files as one path", lambda t: lambda: AudioFolderDataset(CFG, files=str(t)), ConfigError, r"files.*list"),
    ("empty files list", lambda t: lambda: AudioFolderDataset(CFG, files=[]), DataError, r"files.*empty"),
]


@pytest.mark.parametrize(("builder", "error", "pattern"), [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES])
def test_bad_files_and_folders(tmp_path: Path, builder: Callable, error: type, pattern: str) -> None:
    call = builder(tmp_path)
    with pytest.raises(error, match=pattern):
        call()


def stochastic_gain_on(batch: dict[str, Any]) -> Any:
    op = GainOperator(GainConfig(stochastic=True, stream_name="augment"), rngs=nnx.Rngs(0, augment=1))
    return op(batch)


VALUE_CASES: list[tuple[str, Callable[[], Any], type, str]] = [
    (
        "operator over data without its field",
        lambda: stochastic_gain_on({"mel": jnp.zeros((2, 10))}),
        MissingFieldError,
        r"'audio'.*\['mel'\]",
    ),
    (
        "unknown dataset type",
        lambda: create_audio_dataset("foldr"),
        UnknownNameError,
        r"'foldr'.*did you mean 'folder'",
    ),
    (
        "unknown synthetic audio type",
        lambda: create_audio_dataset("synthetic", audio_types=["sin"]),
        UnknownNameError,
        r"audio_types.*'sin'",
    ),
    ("n_mels above n_fft//2+1", lambda: K.mel_filterbank(16000, 256, 200), ConfigError, r"n_mels=200.*n_fft=256"),
    (
        "mel spectrogram n_mels above bins",
        lambda: K.mel_spectrogram(jnp.zeros((1000,)), 16000, 64, 16, n_mels=40),
        ConfigError,
        r"n_mels=40.*n_fft=64",
    ),
    ("gain_db NaN", lambda: GainConfig(gain_db=float("nan")), ConfigError, r"gain_db.*nan"),
    ("gain_db inf", lambda: GainConfig(gain_db=float("inf")), ConfigError, r"gain_db.*inf"),
    ("max_gain_db inf", lambda: GainConfig(max_gain_db=float("inf")), ConfigError, r"max_gain_db"),
    ("snr_db NaN", lambda: AdditiveNoiseConfig(snr_db=float("nan")), ConfigError, r"snr_db"),
    ("min_snr_db -inf", lambda: AdditiveNoiseConfig(min_snr_db=-np.inf, max_snr_db=10.0), ConfigError, "min_snr_db"),
    ("mask_value NaN", lambda: MaskConfig(mask_value=float("nan")), ConfigError, r"mask_value"),
    ("crop duration inf", lambda: RandomCropConfig(duration=float("inf"), sample_rate=16000), ConfigError, "duration"),
    ("time shift float", lambda: TimeShiftConfig(shift=1.5), ConfigError, r"shift"),
    ("config pad_mode", lambda: AudioModalityConfig(pad_mode="wrap"), ConfigError, r"pad_mode"),
    (
        "config mel with n_mels above bins",
        lambda: AudioModalityConfig(representation="mel_spectrogram", n_fft=128, hop_length=32, n_mels=80),
        ConfigError,
        r"n_mels=80 with n_fft=128",
    ),
    ("config duration NaN", lambda: AudioModalityConfig(duration=float("nan")), ConfigError, r"duration"),
    ("config sample_rate float", lambda: AudioModalityConfig(sample_rate=16000.5), ConfigError, r"sample_rate"),
    (
        "kernel resample 44101 -> 16000",
        lambda: K.resample(jnp.zeros((100,)), 44101, 16000),
        ConfigError,
        r"up=16000, down=44101.*MAX_FILTER_SIZE",
    ),
    ("kernel resample_poly coprime", lambda: K.resample_poly(jnp.zeros((100,)), 16000, 7919), ConfigError, "down=7919"),
    (
        "kernel resample 4e9 Hz",
        lambda: K.resample(jnp.zeros((100,)), 4_000_000_000, 16000),
        ConfigError,
        r"down=250000",
    ),
    ("host resample rate 0", lambda: resample_host(np.zeros(10), 0, 16000), ConfigError, r"orig_sr.*0"),
    ("process rate 0", lambda: AudioModality(CFG).process(np.zeros(100), sample_rate=0), ConfigError, "sample_rate"),
    (
        "evaluation of an empty batch",
        lambda: AudioEvaluationSuite(CFG).evaluate_batch(np.zeros((0, 1600))),
        DataError,
        r"empty batch",
    ),
    ("process NaN audio", lambda: AudioModality(CFG).process(np.full(100, np.nan)), DataError, r"NaN"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), [c[1:] for c in VALUE_CASES], ids=[c[0] for c in VALUE_CASES])
def test_bad_values(call: Callable, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        call()


def test_numpy_scalars_are_accepted_like_python_numbers() -> None:
    cfg = AudioModalityConfig(
        sample_rate=np.int64(16000), n_fft=np.int32(512), hop_length=np.int16(128), duration=np.float32(0.5)
    )
    assert cfg == AudioModalityConfig(sample_rate=16000, n_fft=512, hop_length=128, duration=0.5)
    assert type(cfg.sample_rate) is int and type(cfg.duration) is float
    assert GainConfig(gain_db=np.float32(3.0)).gain_db == 3.0
    assert MaskConfig(max_width=np.int64(4)).max_width == 4
    assert RandomCropConfig(length=np.int64(100)).n_samples == 100
    assert TimeShiftConfig(shift=np.int32(-3)).shift == -3


def test_empty_batches_give_empty_results() -> None:
    z = jnp.zeros((0, 1600))
    assert K.stft(z, 256, 64).shape == (0, 129, 26)
    assert K.mel_spectrogram(z, 16000, 256, 64, 40).shape == (0, 40, 26)
    assert K.mfcc(z, 16000, 13, 256, 64, 40).shape == (0, 13, 26)
    assert K.resample(z, 48000, 16000).shape == (0, 534)
    assert K.apply_gain_db(z, jnp.zeros((0,))).shape == (0, 1600)
    modality = AudioModality(CFG)
    assert modality.process(np.zeros((0, 1600), np.float32)).shape == (0, 1600)
    # A rate pair the kernel refuses goes through soxr on the host, empty batch included.
    assert modality.process(np.zeros((0, 1600), np.float32), sample_rate=44101).shape == (0, 1600)
    assert resample_host(np.zeros((0, 4410)), 44100, 16000).shape == (0, 1600)


def test_huge_ratios_in_process_use_the_host_resampler() -> None:
    x = np.sin(2 * np.pi * 440 * np.arange(7919) / 7919).astype(np.float32)
    got = np.asarray(
        AudioModality(AudioModalityConfig(sample_rate=16000, duration=1.0, normalize=False)).process(
            x, sample_rate=7919
        )
    )
    np.testing.assert_allclose(got[:16000], resample_host(x, 7919, 16000)[:16000], atol=1e-6)
