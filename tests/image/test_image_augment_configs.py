"""Augmentation configs: bad values as a table, asymmetric brightness and rotation ranges."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest
from flax import nnx

from modalax import ConfigError
from modalax_image import kernels
from modalax_image.augment_configs import (
    ColorJitterConfig,
    CutoutConfig,
    PixelDropoutConfig,
    PoissonNoiseConfig,
    SaltAndPepperConfig,
)
from modalax_image.operator_configs import BrightnessConfig, GaussianNoiseConfig, RotateConfig
from modalax_image.operators import BrightnessOperator, RotateOperator

BAD = [
    (CutoutConfig, {"num_patches": -1}, "num_patches", "-1"),
    (CutoutConfig, {"num_patches": 1.5}, "num_patches", "1.5"),
    (CutoutConfig, {"patch_size": 0}, "patch_size", "0"),
    (CutoutConfig, {"patch_size": (8, -8)}, "patch_size", "(8, -8)"),
    (CutoutConfig, {"patch_size": (8, 8, 8)}, "patch_size", "(8, 8, 8)"),
    (CutoutConfig, {"patch_size": "8"}, "patch_size", "'8'"),
    (CutoutConfig, {"size_range": (5, 2)}, "size_range", "(5, 2)"),
    (CutoutConfig, {"size_range": (0, 3)}, "size_range", "(0, 3)"),
    (CutoutConfig, {"size_range": (1.5, 3)}, "size_range", "(1.5, 3)"),
    (CutoutConfig, {"patch_size": 4, "size_range": (2, 6)}, "size_range", "(2, 6)"),
    (CutoutConfig, {"fill": math.nan}, "fill", "nan"),
    (CutoutConfig, {"fill": "zero"}, "fill", "'zero'"),
    (CutoutConfig, {"mask_fill": math.inf}, "mask_fill", "inf"),
    (CutoutConfig, {"stochastic": False}, "stochastic", "False"),
    (PixelDropoutConfig, {"probability": 1.5}, "probability", "1.5"),
    (PixelDropoutConfig, {"probability": -0.1}, "probability", "-0.1"),
    (PixelDropoutConfig, {"per_channel": "yes"}, "per_channel", "'yes'"),
    (PixelDropoutConfig, {"fill": math.nan}, "fill", "nan"),
    (SaltAndPepperConfig, {"amount": 2}, "amount", "2"),
    (SaltAndPepperConfig, {"salt_vs_pepper": -1.0}, "salt_vs_pepper", "-1.0"),
    (SaltAndPepperConfig, {"stochastic": False}, "stochastic", "False"),
    (PoissonNoiseConfig, {"peak": 0}, "peak", "0"),
    (PoissonNoiseConfig, {"peak": -1.0}, "peak", "-1.0"),
    (PoissonNoiseConfig, {"peak": math.inf}, "peak", "inf"),
    (ColorJitterConfig, {"brightness": -0.1}, "brightness", "-0.1"),
    (ColorJitterConfig, {"brightness": (1.5, 0.5)}, "brightness", "(1.5, 0.5)"),
    (ColorJitterConfig, {"contrast": (-0.5, 1.0)}, "contrast", "(-0.5, 1.0)"),
    (ColorJitterConfig, {"contrast": math.nan}, "contrast", "nan"),
    (ColorJitterConfig, {"saturation": "a"}, "saturation", "'a'"),
    (ColorJitterConfig, {"hue": 0.6}, "hue", "0.6"),
    (ColorJitterConfig, {"hue": (-0.7, 0.2)}, "hue", "(-0.7, 0.2)"),
    (BrightnessConfig, {"max_delta": -1.0}, "max_delta", "-1.0"),
    (BrightnessConfig, {"delta_range": (0.3, 0.1)}, "delta_range", "(0.3, 0.1)"),
    (BrightnessConfig, {"delta_range": (0.0, math.inf)}, "delta_range", "(0.0, inf)"),
    (BrightnessConfig, {"max_delta": 0.1, "delta_range": (0.0, 0.3)}, "delta_range", "(0.0, 0.3)"),
    (BrightnessConfig, {"delta_range": (0.0, 0.3), "stochastic": False}, "delta_range", "(0.0, 0.3)"),
    (RotateConfig, {"angle_range": (10, -10)}, "angle_range", "(10, -10)"),
    (RotateConfig, {"angle_range": 30}, "angle_range", "30"),
    (RotateConfig, {"max_angle": 15, "angle_range": (0, 90)}, "max_angle", "15"),
    (GaussianNoiseConfig, {"mean": math.nan}, "mean", "nan"),
    (GaussianNoiseConfig, {"mean": "x"}, "mean", "'x'"),
]


@pytest.mark.parametrize("cls, kwargs, name, shown", BAD, ids=[f"{c.__name__}-{k}" for c, k, _, _ in BAD])
def test_bad_config_values_name_the_field_and_value(cls, kwargs, name, shown):
    with pytest.raises(ConfigError) as info:
        cls(**kwargs)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert cls.__name__ in message and name in message and shown in message, message


def test_defaults_and_accepted_spellings():
    assert CutoutConfig().patch_size == (8, 8) and CutoutConfig(patch_size=5).patch_size == (5, 5)
    assert CutoutConfig(size_range=(2, 6)).max_size == (6, 6) and CutoutConfig(size_range=(2, 6)).patch_size is None
    assert CutoutConfig(num_patches=np.int64(3)).num_patches == 3  # numpy numbers are as good as literals
    assert BrightnessConfig().max_delta == 0.2 and RotateConfig().max_angle == 15.0
    assert BrightnessConfig(delta_range=[0, 0.3]).delta_range == (0.0, 0.3)
    assert ColorJitterConfig(brightness=0.2, hue=0.0).ranges() == {
        "brightness": (0.8, 1.2),
        "contrast": None,
        "saturation": None,
        "hue": None,
    }
    assert ColorJitterConfig(brightness=2.0).ranges()["brightness"] == (0.0, 3.0)  # torchvision: max(0, 1 - v)


def test_asymmetric_brightness_range():
    x = np.full((300, 2, 2, 1), 0.5, np.float32)
    op = BrightnessOperator(BrightnessConfig(delta_range=(0.0, 0.3)), rngs=nnx.Rngs(0, augment=1))
    delta = np.asarray(op.apply_batch({"images": x}, rng=jax.random.key(1))["images"])[:, 0, 0, 0] - 0.5
    assert delta.min() >= -1e-6 and delta.max() <= 0.3 + 1e-6  # only brighter
    assert delta.min() < 0.02 and delta.max() > 0.28
    symmetric = BrightnessOperator(BrightnessConfig(max_delta=0.3), rngs=nnx.Rngs(0, augment=1))
    d = np.asarray(symmetric.apply_batch({"images": x}, rng=jax.random.key(1))["images"])[:, 0, 0, 0] - 0.5
    assert d.min() < -0.25 and d.max() > 0.25


def test_rotation_angle_range_is_drawn_and_applied():
    n = 200
    x = np.random.default_rng(0).random((n, 9, 9, 1), dtype=np.float32)
    op = RotateOperator(RotateConfig(angle_range=(80.0, 100.0), method="nearest"), rngs=nnx.Rngs(0, augment=1))
    k = jax.random.split(jax.random.key(2), n)
    angles = np.asarray(op.record_params(k, {"images": x[0]}))
    assert angles.min() >= 80.0 and angles.max() <= 100.0 and angles.max() - angles.min() > 15.0
    out = np.asarray(op.apply_batch({"images": x}, keys=k)["images"])
    np.testing.assert_array_equal(out, np.asarray(kernels.rotate(x, angles, "nearest")))
