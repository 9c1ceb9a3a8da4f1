"""Per-channel normalisation (torchvision's ``Normalize``) and rotation by a fixed angle (Pillow's ``rotate``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from PIL import Image

import modalax
from modalax import ConfigError, DataError
from modalax_image import IMAGENET_MEAN, IMAGENET_STD, kernels, resample
from modalax_image.operator_configs import NormalizeConfig, RotateConfig
from modalax_image.operators import NormalizeOperator, RotateOperator

RNG = np.random.default_rng(31)


def torchvision_normalize(x01: np.ndarray, mean, std) -> np.ndarray:
    """``transforms.Normalize``: ``(x - mean[c]) / std[c]`` on a [0, 1] tensor, channel-last here."""
    return (x01 - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_imagenet_normalize_matches_torchvision(dtype):
    raw = RNG.integers(0, 256, (3, 5, 7, 3), dtype=np.uint8)
    x = raw if dtype == np.uint8 else raw.astype(np.float32) / np.float32(255)
    expected = torchvision_normalize(raw.astype(np.float32) / np.float32(255), IMAGENET_MEAN, IMAGENET_STD)
    op = NormalizeOperator(NormalizeConfig(mean=IMAGENET_MEAN, std=IMAGENET_STD))
    out = np.asarray(op.apply_batch({"images": x})["images"])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    kernel = modalax.get_kernel("image.normalize")
    np.testing.assert_allclose(np.asarray(kernel(x, mean=IMAGENET_MEAN, std=IMAGENET_STD)), expected, atol=1e-6)
    assert abs(float(expected[..., 0].mean()) - float(out[..., 0].mean())) < 1e-6


def test_normalize_after_an_input_range_and_for_one_channel():
    x = RNG.random((2, 4, 4, 1), dtype=np.float32) * 100
    out = kernels.normalize(x, input_range=(0.0, 100.0), mean=[0.5], std=[0.25])
    np.testing.assert_allclose(np.asarray(out), (x / 100 - 0.5) / 0.25, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"mean": (0.5, 0.5), "std": (0.2, 0.2, 0.2)},
            r"mean has 2 values and std 3; expected one of each per channel",
        ),
        ({"mean": (0.5,), "std": (0.0,)}, r"std: got \(0.0,\), expected every value > 0"),
        ({"mean": (0.5,), "std": (-1.0,)}, r"std: got \(-1.0,\), expected every value > 0"),
        ({"mean": (float("nan"),), "std": (1.0,)}, r"mean: got \(nan,\), expected finite numbers"),
        ({"mean": (0.5,), "std": (float("inf"),)}, r"std: got \(inf,\), expected finite numbers"),
        ({"mean": (0.5,)}, r"std: got None with the other given; expected mean and std, or neither"),
        ({"std": (0.5,)}, r"mean: got None with the other given"),
        ({"mean": "0.5", "std": (0.5,)}, r"mean: got '0.5', expected one number per channel"),
        ({"mean": (), "std": ()}, r"mean: got \(\), expected one number per channel"),
        ({"mean": (True,), "std": (1.0,)}, r"mean: got \(True,\), expected finite numbers"),
        ({"mean": (0.5,), "std": (0.5,), "output_range": (-1, 1)}, r"output_range: got \(-1.0, 1.0\) with mean/std"),
    ],
)
def test_bad_channel_statistics(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        NormalizeConfig(**kwargs)


def test_channel_count_must_match_at_trace_time_and_numpy_values_are_accepted():
    cfg = NormalizeConfig(mean=np.array([0.5, 0.5, 0.5]), std=[np.float32(0.5)] * 3)
    assert cfg.mean == (0.5, 0.5, 0.5) and isinstance(cfg.std, tuple)
    with pytest.raises(DataError, match=r"mean and std have 3 values, but the images have 4 channels"):
        NormalizeOperator(cfg).apply_batch({"images": np.zeros((2, 3, 3, 4), np.float32)})
    with pytest.raises(ConfigError, match=r"image.normalize.std: got \(0.0,\)"):
        kernels.normalize(np.zeros((1, 2, 2, 1), np.float32), mean=(0.0,), std=(0.0,))


# ------------------------------------------------------------------ fixed rotation
def pillow_rotate(x: np.ndarray, angle: float) -> np.ndarray:
    return np.stack(
        [
            np.stack(
                [
                    np.asarray(Image.fromarray(img[..., c], "F").rotate(angle, resample=Image.Resampling.BILINEAR))
                    for c in range(img.shape[-1])
                ],
                axis=-1,
            )
            for img in x
        ]
    )


@pytest.mark.parametrize("angle", [-37.5, -90.0, 12.0, 200.0, -725.0])
def test_a_fixed_angle_matches_pillow_rotate(angle):
    x = RNG.random((2, 20, 27, 2), dtype=np.float32)
    op = RotateOperator(RotateConfig(angle=angle))
    assert not op.stochastic and op.config.angle == angle
    out = np.asarray(op.apply_batch({"images": x})["images"])
    ref = pillow_rotate(x, angle)
    ys, xs = (np.asarray(a)[0] for a in resample.rotation_coords(jnp.array([angle]), 20, 27))
    clear = (np.minimum(np.abs(xs), np.abs(xs - 27)) > 1e-3) & (np.minimum(np.abs(ys), np.abs(ys - 20)) > 1e-3)
    assert clear.mean() > 0.7
    np.testing.assert_allclose(out[:, clear], ref[:, clear], atol=1e-5)
    same = jax.jit(lambda b: op.apply_batch(b))({"images": x})  # deterministic: no keys needed under jit
    np.testing.assert_allclose(np.asarray(same["images"]), out, atol=1e-6)


def test_negative_and_positive_fixed_angles_are_inverse_turns():
    x = np.zeros((1, 9, 9, 1), np.float32)
    x[0, 0, 4, 0] = 1.0  # top centre
    left = np.asarray(RotateOperator(RotateConfig(angle=90, method="nearest")).apply_batch({"images": x})["images"])
    right = np.asarray(RotateOperator(RotateConfig(angle=-90, method="nearest")).apply_batch({"images": x})["images"])
    assert left[0, 4, 0, 0] == 1.0  # counter-clockwise: top goes left
    assert right[0, 4, 8, 0] == 1.0  # clockwise: top goes right


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"angle": 10, "max_angle": 5}, r"got angle=10 and max_angle=5; expected one of them"),
        ({"angle": 10, "angle_range": (0, 5)}, r"got angle=10 and angle_range=\(0, 5\)"),
        ({"angle": 10, "stochastic": True}, r"stochastic: got True with angle=10; a fixed angle is deterministic"),
        ({"angle": float("inf")}, r"angle: got inf, expected a finite number"),
        ({"angle": "90"}, r"angle: got '90'"),
    ],
)
def test_bad_fixed_angles(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        RotateConfig(**kwargs)


def test_the_random_path_is_unchanged_and_round_trips():
    cfg = RotateConfig()
    assert cfg.stochastic and cfg.max_angle == 15.0 and cfg.angle is None
    op = RotateOperator(cfg, rngs=nnx.Rngs(0, augment=1))
    x = RNG.random((8, 10, 10, 1), dtype=np.float32)
    angles = np.asarray(op.record_params(jax.random.split(jax.random.key(0), 8), {"images": x[0]}))
    assert np.all(np.abs(angles) <= 15.0) and len(set(angles.tolist())) == 8
    fixed = RotateConfig(angle=-30)
    assert RotateConfig.from_dict(fixed.to_dict()).angle == -30.0
    assert RotateConfig(stochastic=False, max_angle=20).max_angle == 20.0  # the 0.1 form: rotate by max_angle
