"""Host resampling has librosa.resample's length rule and values, on many lengths and rate pairs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from modalax import ConfigError
from modalax_audio import AudioFolderDataset, AudioModalityConfig, decode_audio, host_resampled_length, resample_host

librosa = pytest.importorskip("librosa")

# Common pairs both ways, the pairs whose float ratio lifts ceil past the exact value (44.1 <-> 48 kHz
# family: 147-sample multiples), and rates sharing no factor with the target.
PAIRS = [
    (44100, 16000),
    (16000, 44100),
    (22050, 16000),
    (48000, 16000),
    (16000, 48000),
    (44100, 48000),
    (22050, 24000),
    (11025, 12000),
    (8000, 44100),
    (44101, 16000),
    (7919, 16000),
    (96000, 44100),
    (24000, 7919),
]
RNG = np.random.default_rng(0)
LENGTHS = [1, 2, 3, 5, 7, 146, 147, 294, 441, 1000, 1001, 4410, 44100, *RNG.integers(10, 30000, 8).tolist()]


def _reference(x: np.ndarray, orig: int, target: int, fix: bool = True) -> np.ndarray:
    return librosa.resample(x, orig_sr=orig, target_sr=target, res_type="soxr_hq", fix=fix)


@pytest.mark.parametrize(("orig", "target"), PAIRS, ids=lambda v: str(v))
def test_length_and_values_equal_librosa(orig: int, target: int) -> None:
    for n in LENGTHS:
        x = RNG.uniform(-1, 1, n).astype(np.float32)
        want = _reference(x, orig, target)
        got = resample_host(x, orig, target)
        assert got.shape == want.shape == (host_resampled_length(n, orig, target),), (orig, target, n)
        np.testing.assert_array_equal(got, want, err_msg=f"{orig} -> {target}, {n} samples")
        own = resample_host(x, orig, target, fix=False)  # soxr's own length, as librosa's fix=False
        np.testing.assert_array_equal(own, _reference(x, orig, target, fix=False))


def test_the_rule_is_librosas_float_ceil_not_sox_rounding() -> None:
    assert (
        host_resampled_length(44100, 44100, 48000)
        == 48001
        == len(_reference(np.zeros(44100, np.float32), 44100, 48000))
    )
    assert host_resampled_length(44100, 44100, 48000) == math.ceil(44100 * (48000 / 44100)) != 44100 * 48000 // 44100
    assert host_resampled_length(4000, 22050, 16000) == 2903 == math.ceil(4000 * 16000 / 22050)  # soxr alone: 2902
    assert len(resample_host(np.zeros(4000, np.float32), 22050, 16000, fix=False)) == 2902


def test_batches_resample_row_by_row() -> None:
    x = RNG.uniform(-1, 1, (2, 3, 1001)).astype(np.float32)
    got = resample_host(x, 44100, 48000)
    assert got.shape == (2, 3, host_resampled_length(1001, 44100, 48000))
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(got[i, j], resample_host(x[i, j], 44100, 48000))
    assert resample_host(np.zeros((0, 1001), np.float32), 44100, 48000).shape == (0, got.shape[-1])


@pytest.mark.parametrize("fix", [None, 1, "yes"])
def test_fix_must_be_a_bool(fix: object) -> None:
    with pytest.raises(ConfigError, match=r"resample_host.fix: got .*, expected a bool"):
        resample_host(np.zeros(10, np.float32), 8000, 16000, fix=fix)  # type: ignore[arg-type]


def test_decoded_files_have_librosas_length_and_values(tmp_path: Path) -> None:
    # 88 files of random lengths and rates, as in the report (51 of them were a sample short before).
    rates = [8000, 11025, 22050, 44100, 48000, 32000, 96000, 7919]
    config = AudioModalityConfig(sample_rate=16000, duration=2.0, normalize=False)
    files = []
    for i in range(88):
        rate = rates[i % len(rates)]
        n = int(RNG.integers(rate // 10, rate))  # under a second: the whole file fits the clip
        path = tmp_path / f"{i:02d}.wav"
        sf.write(path, RNG.uniform(-0.5, 0.5, n).astype(np.float32), rate, subtype="FLOAT")
        files.append(path)
    batch = AudioFolderDataset(config, files=files).get_records(np.arange(len(files)))
    short = 0
    for i, path in enumerate(files):
        y, rate = sf.read(path, dtype="float32")
        want = _reference(y, rate, 16000)
        length = int(batch["length"][i])
        assert length == len(want), path.name
        np.testing.assert_array_equal(batch["audio"][i][:length], want, err_msg=path.name)
        assert not np.any(batch["audio"][i][length:])
        short += len(resample_host(y, rate, 16000, fix=False)) < len(want)
        assert decode_audio(path, config)["length"] == length
    assert short > 20  # the cases soxr alone leaves a sample short are among them
