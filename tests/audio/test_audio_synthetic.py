"""SyntheticAudioDataset: signal content measured from the samples, determinism, loader use."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError
from modalax_audio import AudioModalityConfig, SyntheticAudioDataset, create_audio_dataset
from modalax_audio.datasets import AudioDataset

signal = pytest.importorskip("scipy.signal")

CFG = AudioModalityConfig(sample_rate=16000, duration=0.25)


def inst_freq(x: np.ndarray, sr: int) -> np.ndarray:
    """Instantaneous frequency (Hz) from the phase of the analytic signal."""
    phase = np.unwrap(np.angle(signal.hilbert(x.astype(np.float64))))
    return np.diff(phase) * sr / (2 * np.pi)


def test_sine_frequency_measured_from_the_signal() -> None:
    ds = SyntheticAudioDataset(CFG, n_samples=40, audio_types=["sine"], seed=1)
    batch = ds.get_records(np.arange(40))
    freqs = np.asarray(batch["freq_start"])
    assert np.all((freqs >= 200) & (freqs < 800)) and np.ptp(freqs) > 200  # spread over the range
    for x, f in zip(np.asarray(batch["audio"])[:8], freqs[:8], strict=True):
        measured = np.median(inst_freq(x, 16000)[200:-200])
        assert measured == pytest.approx(f, abs=1.0)
    np.testing.assert_allclose(np.max(np.abs(np.asarray(batch["audio"])), axis=1), 1.0, rtol=1e-5)


def test_chirp_frequency_sweeps_linearly_over_the_stated_range() -> None:
    ds = SyntheticAudioDataset(CFG, n_samples=6, audio_types=["chirp"], seed=2)
    batch = ds.get_records(np.arange(6))
    n = CFG.n_time_steps
    t = (np.arange(n - 1) + 0.5) / 16000
    for x, f0, f1 in zip(
        np.asarray(batch["audio"]), np.asarray(batch["freq_start"]), np.asarray(batch["freq_end"]), strict=True
    ):
        assert 100 <= f0 < 500 and 1000 <= f1 < 4000
        f = inst_freq(x, 16000)
        keep = slice(300, n - 300)  # the analytic signal is unreliable at the edges
        slope, intercept = np.polyfit(t[keep], f[keep], 1)
        assert intercept == pytest.approx(f0, abs=5.0)
        assert intercept + slope * CFG.duration == pytest.approx(f1, abs=5.0)
        residual = f[keep] - (intercept + slope * t[keep])
        assert np.median(np.abs(residual)) < 5.0  # linear, not just matching at the ends


def test_noise_is_white_and_zero_mean() -> None:
    ds = SyntheticAudioDataset(
        AudioModalityConfig(sample_rate=16000, duration=0.5, normalize=False),
        n_samples=4,
        audio_types=["noise"],
        seed=0,
    )
    x = np.asarray(ds.get_records(np.arange(4))["audio"])
    assert abs(x.mean()) < 0.01 and x.std() == pytest.approx(0.2, rel=0.05)
    spectrum = np.abs(np.fft.rfft(x, axis=-1)) ** 2
    bands = spectrum[:, 1:].reshape(4, 8, -1).mean(axis=(0, 2))
    assert bands.max() / bands.min() < 1.3  # flat: each eighth of the band holds about the same power
    lag1 = np.mean([np.corrcoef(r[:-1], r[1:])[0, 1] for r in x])
    assert abs(lag1) < 0.05


def test_types_cycle_and_are_reported() -> None:
    ds = SyntheticAudioDataset(CFG, n_samples=7, seed=0)
    assert isinstance(ds, AudioDataset) and len(ds) == ds.n_samples == 7
    names = [ds[i]["audio_type"] for i in range(4)]
    assert names == ["sine", "noise", "chirp", "sine"]
    assert [int(ds[i]["audio_type_id"]) for i in range(3)] == [0, 1, 2]
    assert ds[0]["audio"].shape == (4000,)
    batch = ds.get_batch(5)
    assert batch["audio"].shape == (5, 4000) and len(batch["audio_type"]) == 5
    assert [ds.audio_types[int(i)] for i in batch["audio_type_id"]] == batch["audio_type"]
    collated = ds.collate_fn([ds[0], ds[1]])
    assert collated["audio"].shape == (2, 4000) and collated["audio_type"] == ["sine", "noise"]
    assert [s["audio_type"] for s in ds][:3] == ["sine", "noise", "chirp"]


def test_records_are_a_pure_function_of_seed_split_and_index() -> None:
    a = SyntheticAudioDataset(CFG, n_samples=100, seed=5)
    b = SyntheticAudioDataset(CFG, n_samples=100, rngs=nnx.Rngs(5))
    idx = np.array([3, 50, 99])
    np.testing.assert_array_equal(a.get_records(idx)["audio"], b.get_records(idx)["audio"])
    np.testing.assert_array_equal(a.get_records(idx[::-1])["audio"][::-1], a.get_records(idx)["audio"])
    val = SyntheticAudioDataset(CFG, n_samples=100, seed=5, split="val")
    assert not np.allclose(val.get_records(idx)["audio"], a.get_records(idx)["audio"])
    other = SyntheticAudioDataset(CFG, n_samples=100, seed=6)
    assert not np.allclose(other.get_records(idx)["audio"], a.get_records(idx)["audio"])


def test_records_are_identical_across_processes() -> None:
    code = textwrap.dedent("""
        import hashlib, numpy as np
        from modalax_audio import AudioModalityConfig, SyntheticAudioDataset
        ds = SyntheticAudioDataset(AudioModalityConfig(sample_rate=16000, duration=0.25), n_samples=100, seed=5)
        print(hashlib.sha256(np.asarray(ds.get_records(np.array([3, 50, 99]))["audio"]).tobytes()).hexdigest())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    ds = SyntheticAudioDataset(CFG, n_samples=100, seed=5)
    here = hashlib.sha256(np.asarray(ds.get_records(np.array([3, 50, 99]))["audio"]).tobytes()).hexdigest()
    assert out == here


def test_works_with_the_data_loader_and_the_registry() -> None:
    ds = modalax.create_dataset("audio", "synthetic", config=CFG, n_samples=10, rngs=nnx.Rngs(0))
    assert isinstance(ds, SyntheticAudioDataset)
    loader = modalax.DataLoader(ds, 4, shuffle=True, seed=1, drop_last=True, with_indices=True)
    seen = []
    for batch in loader:
        assert batch["audio"].shape == (4, 4000)
        idx = np.asarray(batch["index"])
        np.testing.assert_array_equal(batch["audio"], ds.get_records(idx)["audio"])
        assert batch["audio_type"] == ds.type_names(idx) and batch["sample_rate"] == 16000
        seen += idx.tolist()
    assert len(seen) == 8 and len(set(seen)) == 8


def test_factory_and_bad_arguments() -> None:
    assert isinstance(create_audio_dataset("synthetic", CFG, n_samples=3), SyntheticAudioDataset)
    with pytest.raises(ConfigError, match="did you mean 'synthetic'"):
        create_audio_dataset("synthetc", CFG)
    with pytest.raises(ConfigError, match="audio type 'square'"):
        SyntheticAudioDataset(CFG, audio_types=["sine", "square"])
    with pytest.raises(ConfigError, match="non-empty list"):
        SyntheticAudioDataset(CFG, audio_types="sine")
    with pytest.raises(ConfigError, match="got both rngs and seed"):
        SyntheticAudioDataset(CFG, seed=1, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match="expected an AudioModalityConfig"):
        SyntheticAudioDataset({"sample_rate": "x"} and 3)
    with pytest.raises(IndexError):
        SyntheticAudioDataset(CFG, n_samples=3)[3]
