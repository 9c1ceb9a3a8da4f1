"""The dtype rule of image kernels and operators, empty batches, and numpy numbers in configs."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from modalax import DataError
from modalax_image import ImageModalityConfig, kernels
from modalax_image.operator_configs import (
    BrightnessConfig,
    ContrastConfig,
    CropConfig,
    FlipConfig,
    GaussianNoiseConfig,
    GrayscaleConfig,
    NormalizeConfig,
    ResizeConfig,
    RotateConfig,
)
from modalax_image.operators import (
    BrightnessOperator,
    ContrastOperator,
    CropOperator,
    FlipOperator,
    GaussianNoiseOperator,
    GrayscaleOperator,
    NormalizeOperator,
    ResizeOperator,
    RotateOperator,
)

RNG = np.random.default_rng(3)
U8 = RNG.integers(0, 256, (3, 6, 5, 3), dtype=np.uint8)
UNIT = U8.astype(np.float32) / np.float32(255)


def rngs() -> nnx.Rngs:
    return nnx.Rngs(0, augment=1)


@pytest.mark.parametrize(
    ("images", "expected"),
    [
        (U8, UNIT),
        ((U8.astype(np.uint16) * 257), UNIT),  # uint16 full range
        (UNIT, UNIT),  # float already in [0, 1]: not divided again
        (U8 > 127, (U8 > 127).astype(np.float32)),
    ],
    ids=["uint8", "uint16", "float", "bool"],
)
def test_normalize_reads_the_range_from_the_dtype(images, expected):
    out = NormalizeOperator(NormalizeConfig()).apply_batch({"images": images})["images"]
    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-6)
    signed = NormalizeOperator(NormalizeConfig(output_range=(-1.0, 1.0))).apply_batch({"images": images})["images"]
    np.testing.assert_allclose(np.asarray(signed), expected * 2 - 1, atol=1e-6)


def test_normalize_with_an_explicit_range_takes_any_dtype():
    data = (U8.astype(np.float32)).astype(np.int32)  # int32 0..255: the range is not in the dtype
    out = NormalizeOperator(NormalizeConfig(input_range=(0, 255))).apply_batch({"images": data})["images"]
    np.testing.assert_allclose(np.asarray(out), UNIT, atol=1e-6)
    floats = NormalizeOperator(NormalizeConfig(input_range=(0.0, 255.0))).apply_batch({"images": U8 * 1.0})
    np.testing.assert_allclose(np.asarray(floats["images"]), UNIT, atol=1e-6)


FIXED = [
    ("brightness", lambda: BrightnessOperator(BrightnessConfig(max_delta=0.2, stochastic=False)), lambda x: x + 0.2),
    (
        "contrast",
        lambda: ContrastOperator(ContrastConfig(upper=1.5, stochastic=False)),
        lambda x: (x - x.mean((1, 2), keepdims=True)) * 1.5 + x.mean((1, 2), keepdims=True),
    ),
    ("grayscale", lambda: GrayscaleOperator(GrayscaleConfig()), lambda x: x @ np.asarray(kernels.LUMA)[:, None]),
    ("resize", lambda: ResizeOperator(ResizeConfig(height=6, width=5)), lambda x: x),  # same size: identity
]


@pytest.mark.parametrize(("name", "make", "reference"), FIXED, ids=[f[0] for f in FIXED])
def test_value_operators_give_the_same_float_result_for_uint8_and_float_input(name, make, reference):
    op = make()
    from_u8 = np.asarray(op.apply_batch({"images": U8})["images"])
    from_float = np.asarray(op.apply_batch({"images": UNIT})["images"])
    assert from_u8.dtype == np.float32
    np.testing.assert_allclose(from_u8, from_float, atol=1e-6)
    np.testing.assert_allclose(from_float, reference(UNIT.astype(np.float64)), atol=1e-5)


def test_brightness_delta_is_a_fraction_of_the_range_for_every_dtype():
    op = BrightnessOperator(BrightnessConfig(max_delta=0.2, clip_range=(0.0, 1.0)), rngs=rngs())
    key = jax.random.key(0)
    from_u8 = np.asarray(op.apply_batch({"images": U8}, rng=key)["images"])
    from_float = np.asarray(op.apply_batch({"images": UNIT}, rng=key)["images"])
    np.testing.assert_allclose(from_u8, from_float, atol=1e-6)
    shift = (from_float - UNIT)[UNIT.clip(0.2, 0.8) == UNIT]  # unclipped pixels
    assert 0.0 < np.abs(shift).max() <= 0.2 + 1e-6  # never +-0.2 on a 0..255 scale


def test_noise_std_and_rotate_fill_are_on_the_unit_scale():
    noisy = GaussianNoiseOperator(GaussianNoiseConfig(std=0.1), rngs=rngs()).apply_batch(
        {"images": np.full((4, 32, 32, 1), 128, np.uint8)}, rng=jax.random.key(1)
    )["images"]
    assert abs(float(np.std(noisy)) - 0.1) < 0.01 and abs(float(np.mean(noisy)) - 128 / 255) < 0.01
    rotated = RotateOperator(RotateConfig(max_angle=45.0, stochastic=False, fill=0.5)).apply_batch(
        {"images": np.full((1, 9, 9, 1), 255, np.uint8)}
    )["images"]
    corner, centre = np.asarray(rotated)[0, 0, 0, 0], np.asarray(rotated)[0, 4, 4, 0]
    assert corner == pytest.approx(0.5) and centre == pytest.approx(1.0)


def test_pixel_moving_operators_keep_dtype_and_values():
    flip = FlipOperator(FlipConfig(stochastic=False)).apply_batch({"images": U8})["images"]
    assert flip.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(flip), U8[:, :, ::-1])
    crop = CropOperator(CropConfig(height=2, width=3, stochastic=False)).apply_batch({"images": U8})["images"]
    np.testing.assert_array_equal(np.asarray(crop), U8[:, 2:4, 1:4])
    nearest = ResizeOperator(ResizeConfig(height=12, width=10, method="nearest")).apply_batch({"images": U8})
    assert nearest["images"].dtype == np.uint8


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.int8, np.uint32])
@pytest.mark.parametrize(
    "call",
    [
        lambda x: kernels.brightness(x, 0.1),
        lambda x: kernels.contrast(x, 1.1),
        lambda x: kernels.to_grayscale(x),
        lambda x: kernels.resize(x, 3, 3),
        lambda x: kernels.rotate(x, 10.0),
        lambda x: kernels.normalize(x),
        lambda x: kernels.gaussian_noise(x, jax.random.split(jax.random.key(0), 3), 0.1),
    ],
    ids=["brightness", "contrast", "to_grayscale", "resize", "rotate", "normalize", "gaussian_noise"],
)
def test_integers_without_a_known_range_are_data_errors(dtype, call):
    with pytest.raises(DataError, match=r"image\.\w+: got images of dtype \w+, expected uint8, uint16, bool or float"):
        call(U8.astype(dtype))


KEYS0 = jax.random.split(jax.random.key(0), 0)
KERNELS = [
    ("resize", lambda x: kernels.resize(x, 4, 3), (4, 3, 3)),
    ("resize_nearest", lambda x: kernels.resize(x, 4, 3, "nearest"), (4, 3, 3)),
    ("normalize", lambda x: kernels.normalize(x), (6, 5, 3)),
    ("flip", lambda x: kernels.flip(x, True), (6, 5, 3)),
    ("crop", lambda x: kernels.crop(x, np.zeros((0, 2), np.int32), 2, 2), (2, 2, 3)),
    ("brightness", lambda x: kernels.brightness(x, 0.1), (6, 5, 3)),
    ("contrast", lambda x: kernels.contrast(x, 1.1), (6, 5, 3)),
    ("rotate", lambda x: kernels.rotate(x, 10.0), (6, 5, 3)),
    ("rotate_nearest", lambda x: kernels.rotate(x, 10.0, "nearest"), (6, 5, 3)),
    ("gaussian_noise", lambda x: kernels.gaussian_noise(x, KEYS0, 0.1), (6, 5, 3)),
    ("to_grayscale", lambda x: kernels.to_grayscale(x), (6, 5, 1)),
]


@pytest.mark.parametrize(("name", "call", "shape"), KERNELS, ids=[k[0] for k in KERNELS])
def test_kernels_return_an_empty_batch_for_an_empty_batch(name, call, shape):
    out = call(np.zeros((0, 6, 5, 3), np.uint8))
    assert out.shape == (0, *shape)


OPERATORS = [
    (lambda: ResizeOperator(ResizeConfig(height=4, width=3, auxiliary_fields=("seg",))), (4, 3, 3), (4, 3)),
    (lambda: NormalizeOperator(NormalizeConfig()), (6, 5, 3), (6, 5)),
    (lambda: GrayscaleOperator(GrayscaleConfig()), (6, 5, 1), (6, 5)),
    (lambda: FlipOperator(FlipConfig(auxiliary_fields=("seg",)), rngs=rngs()), (6, 5, 3), (6, 5)),
    (lambda: CropOperator(CropConfig(height=2, auxiliary_fields=("seg",)), rngs=rngs()), (2, 2, 3), (2, 2)),
    (lambda: BrightnessOperator(BrightnessConfig(), rngs=rngs()), (6, 5, 3), (6, 5)),
    (lambda: ContrastOperator(ContrastConfig(), rngs=rngs()), (6, 5, 3), (6, 5)),
    (lambda: RotateOperator(RotateConfig(auxiliary_fields=("seg",)), rngs=rngs()), (6, 5, 3), (6, 5)),
    (lambda: GaussianNoiseOperator(GaussianNoiseConfig(), rngs=rngs()), (6, 5, 3), (6, 5)),
]


@pytest.mark.parametrize(("make", "shape", "seg_shape"), OPERATORS)
def test_operators_return_an_empty_batch_of_the_output_structure(make, shape, seg_shape):
    batch = {"images": np.zeros((0, 6, 5, 3), np.uint8), "seg": np.zeros((0, 6, 5), np.int32), "names": []}
    out = make().apply_batch(batch)
    assert out["images"].shape == (0, *shape) and out["seg"].shape == (0, *seg_shape)
    assert out["seg"].dtype == np.int32 and out["names"] == []


def test_configs_accept_numpy_numbers():
    config = ImageModalityConfig(height=np.int64(32), width=np.int32(16))
    assert config.image_shape == (32, 16, 3) and type(config.height) is int
    assert ImageModalityConfig(height=np.int64(32)) == ImageModalityConfig(height=32)
    resize = ResizeConfig(height=np.int64(8), width=np.uint8(4))
    assert (resize.height, resize.width) == (8, 4) and type(resize.height) is int
    crop = CropConfig(height=np.int32(2))
    assert crop.width == 2
    bright = BrightnessConfig(max_delta=np.float32(0.25), clip_range=(np.float32(0), np.float64(1)))
    assert bright.max_delta == 0.25 and type(bright.max_delta) is float and bright.clip_range == (0.0, 1.0)
    normalize = NormalizeConfig(input_range=(np.int64(0), np.int64(255)))
    assert normalize.input_range == (0.0, 255.0)


def test_datasets_accept_numpy_sizes():
    from modalax_image import MNISTLikeDataset, SyntheticImageDataset

    small = ImageModalityConfig(height=np.int64(8))
    synthetic = SyntheticImageDataset(small, dataset_size=np.int64(5), pattern_type="circles", num_circles=np.int32(2))
    assert len(synthetic) == 5 and synthetic.num_circles == 2
    digits = MNISTLikeDataset(dataset_size=np.uint16(7), num_classes=np.int64(3), rngs=0)
    assert len(digits) == 7 and int(np.asarray(digits.get_records(np.arange(7))["labels"]).max()) < 3
