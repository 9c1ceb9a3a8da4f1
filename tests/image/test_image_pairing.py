"""The image pairing (``ImageModality.pairing``): rendering, features, encoder and quality, as multimodal sees them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from PIL import Image

import modalax
from modalax import ConfigError, DataError
from modalax.plugin import ModalityPairing, pairing_of
from modalax_image.evaluation import psnr, ssim
from modalax_image.pairing import IMAGE_FIELD_STD, ImageEncoder, ImagePairing, render_image_reference

KEY = jax.random.key(3)


@pytest.fixture(scope="module")
def pairing() -> ImagePairing:
    p = pairing_of("image", {"shape": (24, 16, 3)})
    assert isinstance(p, ImagePairing)
    return p


def test_reached_through_the_registry_with_its_keys_and_options(pairing: ImagePairing) -> None:
    assert modalax.get_modality("image").pairing().sample_shape == (32, 32, 3)  # the API reference's default
    assert isinstance(pairing, ModalityPairing) and pairing.field == "image"
    assert pairing.batch_keys == ("image", "images") and pairing.dtype == "float32"
    assert pairing.sample_shape == (24, 16, 3)
    again = pairing_of("image", pairing.options())
    assert again.options() == pairing.options() == {"shape": [24, 16, 3], "data_range": 1.0}


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"shape": (32, 32)}, r"ImagePairing\.shape: got \(32, 32\), expected \(height, width, channels\)"),
        ({"shape": (0, 32, 3)}, r"shape: got \(0, 32, 3\)"),
        ({"shape": (32, 32, True)}, r"shape: got \(32, 32, True\)"),
        ({"shape": "32x32"}, r"shape: got '32x32'"),
        ({"data_range": 0.0}, r"data_range: got 0.0"),
        ({"height": 32}, r"ImagePairing: unknown option\(s\) 'height'"),
    ],
)
def test_bad_options_are_config_errors(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        pairing_of("image", options)


def test_world_is_a_pure_function_of_the_key(pairing: ImagePairing) -> None:
    a, b = pairing.make_world(KEY, 5), pairing.make_world(KEY, 5)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    other = pairing.make_world(jax.random.key(4), 5)
    assert not np.allclose(a.basis, other.basis)
    assert a.basis.shape == (5, 24, 16, 3) and a.low.shape == (5, 8, 8, 3)
    # every pixel's pre-sigmoid value has standard deviation IMAGE_FIELD_STD for a unit-variance u
    np.testing.assert_allclose(np.sqrt((np.asarray(a.basis, np.float64) ** 2).sum(0)), IMAGE_FIELD_STD, rtol=1e-5)
    with pytest.raises(ConfigError, match="latent_dim"):
        pairing.make_world(KEY, 0)


def test_render_matches_the_per_sample_numpy_reference(pairing: ImagePairing) -> None:
    world = pairing.make_world(KEY, 6)
    u = np.random.default_rng(0).standard_normal((5, 6))
    images = np.asarray(pairing.render(world, jnp.asarray(u, jnp.float32), None))
    assert images.shape == (5, 24, 16, 3) and images.dtype == np.float32
    for i in range(5):
        np.testing.assert_allclose(images[i], render_image_reference(world, u[i]), atol=2e-5)
    # the field is linear in u: logits of u1 + u2 are the sums of the logits
    logit = lambda x: np.log(x) - np.log1p(-x)  # noqa: E731
    both = np.asarray(pairing.render(world, jnp.asarray(u[:1] + u[1:2], jnp.float32), None), np.float64)
    np.testing.assert_allclose(logit(both[0]), logit(images[0].astype(np.float64)) + logit(images[1]), atol=2e-3)


def test_features_are_pillow_bilinear_pooling(pairing: ImagePairing) -> None:
    x = np.random.default_rng(1).random((2, 24, 16, 3)).astype(np.float32)
    got = np.asarray(pairing.features(x)).reshape(2, 8, 8, 3)
    for b in range(2):
        for c in range(3):
            ref = Image.fromarray(x[b, :, :, c], mode="F").resize((8, 8), Image.Resampling.BILINEAR)
            np.testing.assert_allclose(got[b, :, :, c], np.asarray(ref), atol=1e-5)
    assert pairing.features(x[..., 0]).shape == (2, 64)  # grayscale (B, H, W) is one channel
    with pytest.raises(DataError, match=r"features: got shape \(24, 16\)"):
        pairing.features(x[0, :, :, 0])


def test_encoder_shapes_width_and_errors(pairing: ImagePairing) -> None:
    enc = pairing.encoder(8, rngs=nnx.Rngs(0), hidden_dim=20)
    assert isinstance(enc, ImageEncoder) and enc.mlp.fc1.out_features == 20
    x = jnp.asarray(np.random.default_rng(2).random((3, 24, 16, 3)), jnp.float32)
    out = enc(x)
    assert out.shape == (3, 8)
    np.testing.assert_allclose(enc(x[0]), out[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(DataError, match=r"expected \(24, 16, 3\)"):
        enc(jnp.zeros((2, 16, 16, 3)))


def test_quality_is_the_plugins_psnr_and_ssim() -> None:
    rng = np.random.default_rng(3)
    ref = rng.random((3, 16, 16, 3)).astype(np.float32)
    gen = np.clip(ref + rng.normal(scale=0.05, size=ref.shape), 0, 1).astype(np.float32)
    scores = pairing_of("image", {"shape": (16, 16, 3)}).quality(gen, ref)
    assert scores["psnr"] == pytest.approx(float(np.mean(psnr(gen, ref))), rel=1e-6)
    mse = np.mean((gen.astype(np.float64) - ref) ** 2, axis=(1, 2, 3))
    assert scores["psnr"] == pytest.approx(np.mean(10 * np.log10(1 / mse)), rel=1e-4)
    assert scores["ssim"] == pytest.approx(float(np.mean(ssim(gen, ref))), rel=1e-6)
    wide = pairing_of("image", {"shape": (16, 16, 3), "data_range": 255.0}).quality(gen * 255, ref * 255)
    assert wide["psnr"] == pytest.approx(scores["psnr"], rel=1e-4)  # the data range is the option's
