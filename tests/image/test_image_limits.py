"""Never runs away: outputs too big for memory, float16 inputs, overflowing noise parameters, NaN."""

from __future__ import annotations

import io
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from PIL import Image

import modalax
from modalax import ConfigError
from modalax_image import ImageModality, ImageModalityConfig, augment_kernels, decode_image, kernels, memory
from modalax_image.augment_configs import PoissonNoiseConfig
from modalax_image.augment_ops import PoissonNoiseOperator
from modalax_image.operator_configs import (
    BrightnessConfig,
    ContrastConfig,
    GaussianNoiseConfig,
    ResizeConfig,
    RotateConfig,
)
from modalax_image.operators import BrightnessOperator, ContrastOperator, ResizeOperator

RNG = np.random.default_rng(23)
GB = 10**9


@pytest.fixture
def one_gigabyte(monkeypatch):
    """A host (and CPU device) with 1 GB free, whatever this machine has."""
    monkeypatch.setattr(memory, "host_available_bytes", lambda: GB)
    assert jax.local_devices()[0].memory_stats() is None or jax.default_backend() != "cpu"


def test_an_impossible_resize_is_refused_before_allocating():
    x = np.zeros((2, 8, 8, 3), np.float32)  # 12 TB asked: more than any machine has
    with pytest.raises(ConfigError, match=r"image.resize: resizing 2 image\(s\) of 8x8x3 to 1000000x1000000 needs 24"):
        kernels.resize(x, 1_000_000, 1_000_000)


def test_two_images_to_30000_squared_name_the_size_and_the_bytes(one_gigabyte):
    x = np.zeros((2, 8, 8, 3), np.float32)
    need = 2 * 30000 * 30000 * 3 * 4 + 2 * 30000 * 8 * 3 * 4  # the output and the first pass's rows
    message = (
        rf"resizing 2 image\(s\) of 8x8x3 to 30000x30000 needs 21.6 GB \({need} bytes\), more than the "
        rf"1.0 GB \({GB} bytes\) available on the host"
    )
    with pytest.raises(ConfigError, match=r"image.resize: " + message):
        kernels.resize(x, 30000, 30000)
    with pytest.raises(ConfigError, match=r"ResizeOperator: " + message):
        ResizeOperator(ResizeConfig(height=30000)).apply_batch({"images": x})
    assert kernels.resize(x, 300, 300).shape == (2, 300, 300, 3)  # what fits still runs


def test_decode_process_and_generate_refuse_too(one_gigabyte):
    big = ImageModalityConfig(height=30000)
    buf = io.BytesIO()
    Image.fromarray(RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(buf, "PNG")
    with pytest.raises(ConfigError, match=r"decode_image: decoding <\d+ bytes> to 30000x30000x3 float32 needs 24.3 GB"):
        decode_image(buf.getvalue(), big)
    modality = ImageModality(big, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"to 30000x30000 needs 10.8 GB \(\d+ bytes\), more than the 1.0 GB"):
        modality.process(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ConfigError, match=r"resizing 1 image\(s\) of 3750x3750x3 to 30000x30000"):
        modality.generate(1)


def test_memory_helpers():
    free = memory.host_available_bytes()
    assert free is None or free > 0
    assert [memory.format_bytes(n) for n in (999, 1500, 21_600_000_000, 12 * 10**12)] == [
        "999 B",
        "1.5 kB",
        "21.6 GB",
        "12.0 TB",
    ]


# ------------------------------------------------------------------ float16 inputs
FLOAT_OPERATORS = {
    "brightness": BrightnessOperator(BrightnessConfig(stochastic=False, max_delta=0.1)),
    "contrast": ContrastOperator(ContrastConfig(stochastic=False, upper=1.3)),
    "resize": ResizeOperator(ResizeConfig(height=6, width=10)),
}


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
@pytest.mark.parametrize("name", sorted(FLOAT_OPERATORS))
def test_half_precision_inputs_compute_in_float32(name, dtype):
    x = jnp.asarray(RNG.random((3, 8, 12, 3)), dtype)
    op = FLOAT_OPERATORS[name]
    half = np.asarray(op.apply_batch({"images": x})["images"])
    full = np.asarray(op.apply_batch({"images": np.asarray(x.astype(jnp.float32))})["images"])
    assert half.dtype == np.float32  # computed in float32 (not rounded to 3 decimal digits)
    np.testing.assert_array_equal(half, full)


def test_brightness_of_a_float16_image_is_exact():
    x = np.full((1, 2, 2, 1), 0.3, np.float16)
    op = BrightnessOperator(BrightnessConfig(stochastic=False, max_delta=0.1))
    out = np.asarray(op.apply_batch({"images": x})["images"])
    np.testing.assert_array_equal(out, x.astype(np.float32) + np.float32(0.1))  # 0.30005 + 0.1, not 0.2 or 0.5


# ------------------------------------------------------------- overflowing parameters
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: PoissonNoiseConfig(peak=1e30), r"peak: got 1e\+30, expected photons at value 1 in \(0, 1e\+07\]"),
        (lambda: PoissonNoiseConfig(peak=math.inf), r"peak: got inf, expected a finite number"),
        (lambda: PoissonNoiseConfig(peak=0.0), r"peak: got 0.0, expected photons at value 1 in \(0, 1e\+07\]"),
        (lambda: GaussianNoiseConfig(std=1e7), r"std: got 10000000.0, expected a finite number in \[0, 1e\+06\]"),
        (lambda: GaussianNoiseConfig(mean=-2e6), r"mean: got -2000000.0, expected a finite number in \[-1e\+06, 1e"),
        (
            lambda: BrightnessConfig(max_delta=1e39),
            r"max_delta: got 1e\+39, expected a finite number representable in float32",
        ),
        (lambda: BrightnessConfig(delta_range=(0.0, 1e39)), r"delta_range: got \(0.0, 1e\+39\), expected a"),
        (lambda: RotateConfig(angle=-1e39), r"angle: got -1e\+39, expected a finite number representable in float32"),
    ],
)
def test_parameters_that_would_overflow_are_refused(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_poisson_at_the_largest_peak_stays_finite_and_unbiased():
    x = np.broadcast_to(np.linspace(0, 1, 64, dtype=np.float32)[:, None], (4, 8, 64, 1)).copy()
    op = PoissonNoiseOperator(PoissonNoiseConfig(peak=1e7), rngs=nnx.Rngs(0, augment=1))
    out = np.asarray(op.apply_batch({"images": x}, rng=jax.random.key(0))["images"])
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out.mean(axis=(0, 1, 3)), x[0, 0, :, 0], atol=1e-3)
    keys = jax.random.split(jax.random.key(0), 4)
    with pytest.raises(ConfigError, match=r"image.poisson_noise.peak: got 1e\+30"):
        augment_kernels.poisson_noise(x, keys, 1e30)  # the kernel checks a concrete peak too


def test_non_finite_and_huge_values_pass_poisson_noise_unchanged():
    x = np.array([np.nan, np.inf, -np.inf, 1e9, 0.5], np.float32).reshape(1, 1, 5, 1)
    out = np.asarray(augment_kernels.poisson_noise(x, jax.random.split(jax.random.key(0), 1), 255.0))[0, 0, :, 0]
    assert np.isnan(out[0]) and out[1] == np.inf and out[2] == 0.0 and out[3] == np.float32(1e9)
    assert out[4] != 0.5 and np.isfinite(out[4])  # an ordinary value gets noise


# ------------------------------------------------------------------ NaN, documented
def test_nan_handling_is_as_documented():
    x = np.full((1, 4, 4, 1), 0.5, np.float32)
    x[0, 0, 0, 0], x[0, 0, 1, 0] = np.nan, np.inf
    clipped = np.asarray(
        BrightnessOperator(BrightnessConfig(stochastic=False, max_delta=0.0, clip_range=(0.0, 1.0))).apply_batch(
            {"images": x}
        )["images"]
    )
    assert np.isnan(clipped[0, 0, 0, 0]) and clipped[0, 0, 1, 0] == 1.0  # clip_range keeps NaN, clips inf
    contrast = np.asarray(modalax.get_kernel("image.contrast")(x, 1.2))
    assert np.isnan(contrast).all()  # the per-channel mean is NaN: the whole channel
    flipped = np.asarray(modalax.get_kernel("image.flip")(x))
    assert np.isnan(flipped).sum() == 1  # moved, not spread
