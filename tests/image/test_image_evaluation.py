"""ImageEvaluationSuite: SSIM/PSNR/MSE against scikit-image, batched."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from modalax import ConfigError, DataError
from modalax_image import ImageEvaluationSuite, ImageModalityConfig
from modalax_image.evaluation import ssim

RNG = np.random.default_rng(3)


def pairs(n: int, h: int, w: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    base = np.stack([np.sin(3 * ys + k) * np.cos(5 * xs - k) * 0.4 + 0.5 for k in range(n * c)])
    ref = base.reshape(n, c, h, w).transpose(0, 2, 3, 1).astype(np.float32)
    noisy = np.clip(ref + RNG.normal(0, 0.08, ref.shape), 0, 1).astype(np.float32)
    return noisy, ref


@pytest.mark.parametrize(("h", "w", "c", "data_range"), [(32, 24, 3, 1.0), (16, 16, 1, 1.0), (20, 30, 4, 2.0)])
def test_ssim_matches_skimage_gaussian_ssim(h, w, c, data_range):
    gen, ref = pairs(4, h, w, c)
    gen, ref = gen * data_range, ref * data_range
    ours = np.asarray(ssim(gen, ref, data_range=data_range))
    for i in range(4):
        expected = structural_similarity(
            gen[i],
            ref[i],
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=data_range,
            channel_axis=-1,
        )
        assert abs(ours[i] - expected) < 1e-4, (i, ours[i], expected)
    assert np.all(ours < 1.0) and np.all(ours > 0.0)
    np.testing.assert_allclose(np.asarray(ssim(ref, ref, data_range=data_range)), 1.0, atol=1e-6)


def test_suite_means_match_skimage_psnr_and_mse():
    gen, ref = pairs(3, 16, 16, 3)
    suite = ImageEvaluationSuite()
    result = suite.evaluate_batch(gen, ref)
    assert set(result) == {"mse", "psnr", "ssim"} and all(isinstance(v, float) for v in result.values())
    mses = [mean_squared_error(ref[i], gen[i]) for i in range(3)]
    psnrs = [peak_signal_noise_ratio(ref[i], gen[i], data_range=1.0) for i in range(3)]
    assert result["mse"] == pytest.approx(np.mean(mses), rel=1e-5)
    assert result["psnr"] == pytest.approx(np.mean(psnrs), rel=1e-5)
    per = suite.per_image(gen, ref)
    assert per["ssim"].shape == (3,)
    assert suite.compute_quality_metrics(gen, ref) == result


def test_data_range_from_config_and_metric_selection():
    suite = ImageEvaluationSuite(["psnr"], config=ImageModalityConfig(normalize=False))
    assert suite.data_range == 2.0 and suite.metrics == ("psnr",)
    gen, ref = pairs(1, 12, 12, 1)
    value = suite.evaluate_batch(gen * 2 - 1, ref * 2 - 1)["psnr"]
    assert value == pytest.approx(peak_signal_noise_ratio(ref[0] * 2 - 1, gen[0] * 2 - 1, data_range=2.0), rel=1e-5)


def test_errors():
    with pytest.raises(ConfigError, match=r"unknown metric 'fid'; available: mse, psnr, ssim"):
        ImageEvaluationSuite(["mse", "fid"])
    with pytest.raises(ConfigError, match=r"data_range: got 0"):
        ImageEvaluationSuite(data_range=0)
    suite = ImageEvaluationSuite()
    with pytest.raises(DataError, match=r"reference=None"):
        suite.evaluate_batch(np.zeros((1, 16, 16, 3)))
    with pytest.raises(DataError, match=r"differs from reference"):
        suite.evaluate_batch(np.zeros((1, 16, 16, 3)), np.zeros((1, 16, 16, 1)))
    with pytest.raises(DataError, match=r"smaller than the 11x11 window"):
        suite.evaluate_batch(np.zeros((1, 8, 8, 3)), np.zeros((1, 8, 8, 3)))
