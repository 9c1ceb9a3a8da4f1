"""AudioEvaluationSuite: metric values on signals with known answers."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from modalax import DataError
from modalax_audio import AudioEvaluationSuite, AudioModalityConfig
from modalax_audio.evaluation import log_spectral_distance, signal_to_noise_ratio, spectral_convergence

CFG = AudioModalityConfig(sample_rate=8000, duration=0.25, n_fft=256, hop_length=64, n_mels=32)
T = np.arange(CFG.n_time_steps) / 8000


def tones(freqs: list[float]) -> np.ndarray:
    return np.stack([0.5 * np.sin(2 * np.pi * f * T) for f in freqs]).astype(np.float32)


def test_identical_batches_score_perfectly() -> None:
    ref = tones([300, 500, 700])
    m = AudioEvaluationSuite(CFG).evaluate_batch(ref, ref)
    assert m["spectral_convergence"] == pytest.approx(0.0, abs=1e-6)
    assert m["log_spectral_distance"] == pytest.approx(0.0, abs=1e-4)
    assert m["snr_db"] > 90


def test_known_snr_and_distances() -> None:
    ref = tones([440, 440])
    gen = ref * np.float32(10 ** (-1 / 20))  # 1 dB quieter
    # SNR of a scaled copy: |1 - g|^2 of the power -> 10 log10(1 / (1 - g)^2)
    expected = 10 * np.log10(1 / (1 - 10 ** (-1 / 20)) ** 2)
    np.testing.assert_allclose(signal_to_noise_ratio(jnp.asarray(gen), jnp.asarray(ref)), expected, rtol=1e-3)
    noise = np.random.default_rng(0).standard_normal((2, CFG.n_time_steps)).astype(np.float32)
    quieter = noise * np.float32(10 ** (-1 / 20))  # every bin 1 dB down (a tone's empty bins sit at the floor)
    np.testing.assert_allclose(log_spectral_distance(jnp.asarray(quieter), jnp.asarray(noise), 256, 64), 1.0, atol=1e-3)
    np.testing.assert_allclose(
        spectral_convergence(jnp.asarray(gen), jnp.asarray(ref), 256, 64), 1 - 10 ** (-1 / 20), rtol=1e-3
    )


def test_diversity_and_centroid() -> None:
    suite = AudioEvaluationSuite(CFG)
    same = suite.evaluate_batch(tones([500, 500, 500]))
    varied = suite.evaluate_batch(tones([200, 1000, 3000]))
    assert same["diversity_log_mel"] == pytest.approx(0.0, abs=1e-2)
    assert varied["diversity_log_mel"] > 10.0
    assert same["spectral_centroid_mean"] == pytest.approx(500, abs=40)  # Hann leakage adds a little
    assert same["spectral_centroid_std"] < 1.0 and varied["spectral_centroid_std"] > 500
    assert same["rms_mean"] == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)
    assert all(isinstance(v, float) for v in varied.values())
    assert suite.compute_quality_metrics(tones([500])).keys() == same.keys()


def test_mismatched_shapes_are_rejected() -> None:
    with pytest.raises(DataError, match="differ"):
        AudioEvaluationSuite(CFG).evaluate_batch(tones([300, 400]), tones([300]))
