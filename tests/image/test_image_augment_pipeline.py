"""Rank checks, empty batches, the loader and datarax's expectations for augmentations."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import DataError, MissingFieldError
from modalax_image.augment_configs import (
    ColorJitterConfig,
    CutoutConfig,
    PixelDropoutConfig,
    PoissonNoiseConfig,
    SaltAndPepperConfig,
)
from modalax_image.augment_ops import (
    ColorJitterOperator,
    CutoutOperator,
    PixelDropoutOperator,
    PoissonNoiseOperator,
    SaltAndPepperOperator,
)
from modalax_image.mix_ops import CutMixConfig, MixUpConfig
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

RNG = np.random.default_rng(3)

EVERY_OPERATOR = {
    "resize": ResizeConfig(height=6, width=10),
    "normalize": NormalizeConfig(output_range=(-1.0, 1.0)),
    "grayscale": GrayscaleConfig(),
    "flip": FlipConfig(),
    "crop": CropConfig(height=5, width=6),
    "brightness": BrightnessConfig(delta_range=(-0.1, 0.3)),
    "contrast": ContrastConfig(),
    "rotate": RotateConfig(angle_range=(-30, 30)),
    "gaussian_noise": GaussianNoiseConfig(mean=0.1),
    "cutout": CutoutConfig(num_patches=2, size_range=(1, 4)),
    "pixel_dropout": PixelDropoutConfig(probability=0.3),
    "salt_and_pepper": SaltAndPepperConfig(amount=0.3),
    "poisson_noise": PoissonNoiseConfig(peak=30.0),
    "color_jitter": ColorJitterConfig(brightness=0.3, contrast=0.3, saturation=0.5, hue=0.2),
}


# Batch operators (they mix records of one batch): covered in test_image_mix.py.
BATCH_OPERATORS = {
    "mixup": MixUpConfig(num_classes=3),
    "cutmix": CutMixConfig(num_classes=3),
}


def make(name: str):
    """The operator registered as ``image/<name>``, built from the tables' config."""
    config = EVERY_OPERATOR.get(name) or BATCH_OPERATORS[name]
    return modalax.get_operator("image", name)(config, rngs=nnx.Rngs(0, augment=1))


def test_every_image_operator_is_covered():
    registered = [name.split("/")[1] for name in modalax.list_operators("image")]
    assert sorted([*EVERY_OPERATOR, *BATCH_OPERATORS]) == registered


def _batch(images: np.ndarray) -> dict[str, np.ndarray]:
    return {"images": images, "labels": np.arange(len(images), dtype=np.int32) % 3}


@pytest.mark.parametrize("name", sorted([*EVERY_OPERATOR, *BATCH_OPERATORS]))
def test_every_operator_declares_image_elements_and_refuses_an_unbatched_image(name):
    op = make(name)
    assert op.element_ndim == 3 and op.element_axes == "(height, width, channels)"
    image = RNG.random((8, 12, 3), dtype=np.float32)  # one image: before, its 8 rows were read as 8 images
    with pytest.raises(
        DataError,
        match=r"has shape \(8, 12, 3\), expected a batch of images \(N, height, width, "
        r"channels\), rank 4; for one image add the batch axis \(x\[None\]\)",
    ):
        op.apply_batch(_batch(image), rng=jax.random.key(0))
    with pytest.raises(DataError, match=r"\(5, 8, 12\).* for a batch of \(N, H, W\) grayscale images the channel axis"):
        op.apply_batch(_batch(RNG.random((5, 8, 12), dtype=np.float32)), rng=jax.random.key(0))
    with pytest.raises(DataError, match=r"has shape \(2, 8, 12, 3, 1\), expected a batch of images"):
        op.apply_batch(_batch(np.stack([image[..., None]] * 2)), rng=jax.random.key(0))
    one = op.apply_batch(_batch(image[None]), rng=jax.random.key(0))["images"]  # the batch axis added: works
    assert one.shape[0] == 1 and one.ndim == 4


def test_unbatched_flip_and_resize_no_longer_read_rows_as_images():
    image = np.arange(4 * 4 * 3, dtype=np.float32).reshape(4, 4, 3) / 48
    flip = modalax.get_operator("image", "flip")(FlipConfig(stochastic=False))
    with pytest.raises(DataError, match="add the batch axis"):
        flip.apply_batch({"images": image})  # before: a "horizontal flip" swapped RGB to BGR
    np.testing.assert_array_equal(np.asarray(flip.apply_batch({"images": image[None]})["images"])[0], image[:, ::-1])
    resize = modalax.get_operator("image", "resize")(ResizeConfig(height=8, width=4))
    with pytest.raises(DataError, match="add the batch axis"):
        resize.apply_batch({"images": image})  # before: (8, 4, 4)
    assert resize.apply_batch({"images": image[None]})["images"].shape == (1, 8, 4, 3)


def test_target_key_keeps_the_source_and_a_2d_mask_of_the_same_size_follows():
    x = RNG.random((3, 8, 8, 1), dtype=np.float32)
    op = CutoutOperator(
        CutoutConfig(patch_size=3, fill=1.0, target_key="cut", auxiliary_fields=("seg",)), rngs=nnx.Rngs(0, augment=1)
    )
    seg = np.ones((3, 8, 8), np.int32)
    out = op.apply_batch({"images": x, "seg": seg}, rng=jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(out["images"]), x)
    cut, mask = np.asarray(out["cut"])[..., 0], np.asarray(out["seg"])
    assert cut.shape == (3, 8, 8) and ((cut == 1.0).sum(axis=(1, 2)) == 9).all()
    np.testing.assert_array_equal(mask == 0, cut == 1.0)
    with pytest.raises(DataError, match=r"auxiliary field 'seg' has per-element shape \(4, 4\)"):
        op.apply_batch({"images": x, "seg": seg[:, :4, :4]}, rng=jax.random.key(0))


@pytest.mark.parametrize("name", ["cutout", "pixel_dropout", "salt_and_pepper", "poisson_noise", "color_jitter"])
def test_empty_batches_give_empty_batches(name):
    shape = (0, 8, 8, 3)
    out = make(name).apply_batch({"images": np.zeros(shape, np.uint8)}, rng=jax.random.key(0))["images"]
    assert out.shape == shape
    expected = np.float32 if name in ("poisson_noise", "color_jitter") else np.uint8
    assert out.dtype == expected
    with pytest.raises(DataError, match=r"has shape \(0, 8, 8\), expected a batch of images"):
        make(name).apply_batch({"images": np.zeros((0, 8, 8), np.uint8)}, rng=jax.random.key(0))


def _run(seed: int, batch_size: int, data: dict, ops: list) -> dict[int, np.ndarray]:
    loader = modalax.DataLoader(
        modalax.ArraySource(data), batch_size, seed=seed, operators=ops, with_indices=True, drop_last=True
    )
    records = {}
    for batch in loader:
        for i, image in zip(np.asarray(batch["index"]), np.asarray(batch["images"]), strict=True):
            records[int(i)] = image
    return records


@pytest.mark.parametrize("name", sorted(EVERY_OPERATOR))
def test_every_operator_gives_a_record_the_same_bits_in_any_batch_size(name):
    # 12x12 images and batches of 3 and 16: XLA:CPU's jnp.mean over (H, W) gave contrast records
    # other last bits in batches of 16 (a matrix-vector mean did for batches under 8).
    data = {"images": RNG.random((48, 12, 12, 3), dtype=np.float32)}
    op = make(name)
    small, large = _run(0, 3, data, [op]), _run(0, 16, data, [op])
    assert sorted(small) == sorted(large) == list(range(48))
    for i in range(48):
        np.testing.assert_array_equal(small[i], large[i], err_msg=f"{name}, record {i}")


@pytest.mark.slow  # four loaders, each compiling its pipeline
def test_loader_augmentation_is_deterministic_per_seed_and_per_record():
    data = {"images": RNG.integers(0, 256, (16, 12, 12, 3), dtype=np.uint8)}
    ops = [make(n) for n in ("cutout", "salt_and_pepper", "color_jitter")]
    first, again, other_seed = _run(0, 8, data, ops), _run(0, 8, data, ops), _run(1, 8, data, ops)
    small_batches = _run(0, 4, data, ops)
    assert sorted(first) == list(range(16))
    for i in range(16):
        np.testing.assert_array_equal(first[i], again[i])
        np.testing.assert_array_equal(first[i], small_batches[i])  # the batch size does not matter
        assert first[i].dtype == np.float32 and first[i].min() >= 0.0
    assert any(not np.array_equal(first[i], other_seed[i]) for i in range(16))


# ----------------------------------------------------- datarax's expectations, translated
def test_zero_patches_leave_the_image_unchanged():
    x = RNG.random((2, 16, 16, 3), dtype=np.float32)
    op = CutoutOperator(CutoutConfig(num_patches=0), rngs=nnx.Rngs(0, augment=1))
    np.testing.assert_array_equal(np.asarray(op.apply_batch({"images": x}, rng=jax.random.key(0))["images"]), x)


def test_patches_larger_than_the_image_are_a_clear_error():
    op = CutoutOperator(CutoutConfig(patch_size=(64, 64)), rngs=nnx.Rngs(0, augment=1))
    with pytest.raises(DataError, match=r"patches of up to 64x64 do not fit 32x32 images \(field 'images'\)"):
        op.apply_batch({"images": np.ones((2, 32, 32, 3), np.float32)}, rng=jax.random.key(0))


def test_identical_images_get_different_patches_and_fill_value():
    x = np.ones((4, 32, 32, 3), np.float32)
    op = CutoutOperator(CutoutConfig(num_patches=4, patch_size=8, fill=0.5), rngs=nnx.Rngs(0, augment=1))
    out = np.asarray(op.apply_batch({"images": x}, rng=jax.random.key(7))["images"])
    assert set(np.unique(out)) == {0.5, 1.0}
    assert len({out[i].tobytes() for i in range(4)}) == 4


def test_missing_field_and_wrong_rank():
    op = PixelDropoutOperator(PixelDropoutConfig(), rngs=nnx.Rngs(0, augment=1))
    with pytest.raises(KeyError) as info:
        op.apply_batch({"other": np.ones((2, 10), np.float32)}, rng=jax.random.key(0))
    assert isinstance(info.value, MissingFieldError) and "'images'" in str(info.value)
    with pytest.raises(ValueError, match=r"field 'images' has shape \(2, 32\), expected a batch of images"):
        op.apply_batch({"images": np.ones((2, 32), np.float32)}, rng=jax.random.key(0))
    jitter = SaltAndPepperOperator(SaltAndPepperConfig(), rngs=nnx.Rngs(0, augment=1))
    with pytest.raises(DataError, match=r"shape \(2, 4, 4, 3, 1\), expected a batch of images \(N, height, width, ch"):
        jitter.apply_batch({"images": np.ones((2, 4, 4, 3, 1), np.float32)}, rng=jax.random.key(0))


def test_clip_range_applies_after_noise():
    x = np.full((4, 16, 16, 3), 0.9, np.float32)
    op = PoissonNoiseOperator(PoissonNoiseConfig(peak=5.0, clip_range=(0.0, 1.0)), rngs=nnx.Rngs(0, augment=1))
    out = np.asarray(op.apply_batch({"images": x}, rng=jax.random.key(0))["images"])
    assert out.min() >= 0.0 and out.max() == 1.0
    jitter = ColorJitterOperator(ColorJitterConfig(brightness=(2.0, 3.0)), rngs=nnx.Rngs(0, augment=1))
    assert np.asarray(jitter.apply_batch({"images": x}, rng=jax.random.key(0))["images"]).max() == 1.0
