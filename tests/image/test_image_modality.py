"""ImageModality: process (size, method, range, augmentation, errors), generate, loss, adapter."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError, DataError
from modalax_image import ImageAdapter, ImageModality, ImageModalityConfig, kernels
from modalax_image.adapter import ImageModel

RNG = np.random.default_rng(5)


def modality(**kwargs) -> ImageModality:
    return ImageModality(ImageModalityConfig(**{"height": 8, "width": 6, **kwargs}), rngs=nnx.Rngs(0, augment=1))


def test_is_a_registered_generative_model_with_the_protocol():
    m = modality()
    assert isinstance(m, modalax.GenerativeModel) and isinstance(m, modalax.Modality)
    assert modalax.get_modality("image") is ImageModality and m.name == "image"
    assert modalax.validate_modality_interface(m)
    assert m.image_shape == m.output_shape == (8, 6, 3)


def test_process_resizes_with_the_configured_method_and_normalises_uint8():
    raw = RNG.integers(0, 256, (2, 4, 3, 3), dtype=np.uint8)
    bilinear = np.asarray(modality().process(raw))
    expected = np.asarray(kernels.resize(raw.astype(np.float32) / 255.0, 8, 6))
    np.testing.assert_allclose(bilinear, expected, atol=1e-6)
    nearest = np.asarray(modality(resize_method="nearest").process(raw))
    np.testing.assert_allclose(nearest, np.repeat(np.repeat(raw, 2, 1), 2, 2) / 255.0, atol=1e-7)
    assert not np.allclose(bilinear, nearest)


def test_normalize_false_gives_minus_one_to_one_and_single_images_keep_rank():
    raw = np.array([0, 255], np.uint8).reshape(1, 2, 1)
    m = ImageModality(
        ImageModalityConfig(representation="grayscale", height=1, width=2, normalize=False), rngs=nnx.Rngs(0)
    )
    np.testing.assert_allclose(np.asarray(m.process(raw))[..., 0], [[-1.0, 1.0]])
    floats = np.array([0.0, 0.25], np.float32).reshape(1, 2, 1)
    np.testing.assert_allclose(np.asarray(m.process(floats))[..., 0], [[-1.0, -0.5]])
    np.testing.assert_allclose(np.asarray(m.postprocess(m.process(floats)))[..., 0], [[0.0, 0.25]])
    assert m.process(floats, flatten=True).shape == (2,)


def test_augmentation_only_when_enabled_and_training():
    x = RNG.random((16, 8, 6, 3), dtype=np.float32)
    plain = modality()
    np.testing.assert_array_equal(np.asarray(plain.process(x)), np.asarray(plain.process(x)))
    aug = modality(augmentation=True)
    a, b = np.asarray(aug.process(x)), np.asarray(aug.process(x))
    assert not np.allclose(a, b) and not np.allclose(a, x)  # new draws each call
    assert a.min() >= 0.0 and a.max() <= 1.0
    aug.eval()
    np.testing.assert_allclose(np.asarray(aug.process(x)), x, atol=1e-6)
    assert not np.allclose(np.asarray(aug.process(x, training=True)), x)
    aug.train()
    assert not np.allclose(np.asarray(aug.process(x)), x)
    same = [np.asarray(aug.process(x, rngs=nnx.Rngs(augment=3))) for _ in range(2)]
    np.testing.assert_array_equal(same[0], same[1])


@pytest.mark.parametrize(
    ("data", "kwargs", "match"),
    [
        (np.zeros((8, 6)), {}, r"got shape \(8, 6\) \(rank 2\), expected \(H, W, C\) or \(N, H, W, C\)"),
        (np.zeros((1, 1, 8, 6, 3)), {}, r"rank 5"),
        (np.zeros((2, 8, 6, 1)), {}, r"got 1 channel\(s\) .* expected 3 for RGB"),
        (np.full((1, 8, 6, 3), np.nan, np.float32), {}, r"contain 144 NaN/inf value\(s\); expected finite pixels"),
        (
            np.full((1, 8, 6, 3), 200.0, np.float32),
            {},
            r"span \[200, 200\], expected input_range \[0, 1\] "
            r"\(uint8-scaled floats\? pass input_range=\(0, 255\)\)",
        ),
        (np.zeros((1, 8, 6, 3), bool), {}, r"got boolean images"),
        (np.zeros((1, 8, 6, 3), np.int64), {}, r"dtype int64, whose value range is unknown.*pass input_range"),
        (np.zeros((1, 8, 6, 3), np.int16), {}, r"dtype int16, whose value range is unknown"),
        (np.zeros((1, 8, 6, 3)), {"nan_policy": "ignore"}, r"nan_policy: unknown value 'ignore'"),
    ],
)
def test_bad_inputs_raise_clear_errors(data, kwargs, match):
    with pytest.raises((DataError, ConfigError), match=match):
        modality().process(data, **kwargs)


def test_nan_policies_zero_and_propagate():
    x = np.full((1, 8, 6, 3), 0.5, np.float32)
    x[0, 0, 0, 0] = np.nan
    zeroed = np.asarray(modality().process(x, nan_policy="zero"))
    assert np.isfinite(zeroed).all() and zeroed[0, 0, 0, 0] == 0.0
    assert np.isnan(np.asarray(modality().process(x, nan_policy="propagate"))[0, 0, 0, 0])
    scaled = np.asarray(modality().process(x * 255, input_range=(0, 255), nan_policy="zero"))
    np.testing.assert_allclose(scaled[0, 1:, 1:], 0.5, atol=1e-6)


def test_generate_shapes_range_and_determinism():
    m = modality(normalize=False)
    g = np.asarray(m.generate(3, rngs=nnx.Rngs(4)))
    assert g.shape == (3, 8, 6, 3) and g.min() >= -1.0 and g.max() <= 1.0 and g.std() > 0.1
    np.testing.assert_array_equal(g, np.asarray(m.generate(3, rngs=nnx.Rngs(4))))
    assert m.generate(2, height=5, width=7).shape == (2, 5, 7, 3)
    with pytest.raises(ConfigError, match=r"generate.n_samples: got 0"):
        m.generate(0)


def test_loss_fn_is_mse_on_images():
    batch = {"images": jnp.zeros((2, 8, 6, 3))}
    assert float(modality().loss_fn(batch, jnp.full((2, 8, 6, 3), 0.5))) == pytest.approx(0.25)
    assert float(modality().loss_fn(batch, {"reconstruction": jnp.ones((2, 8, 6, 3))})) == pytest.approx(1.0)
    with pytest.raises(DataError, match=r"model outputs have shape \(2, 4\)"):
        modality().loss_fn(batch, jnp.zeros((2, 4)))


class TinyDecoder(nnx.Module):
    """A user model: latent (N, 4) -> flat pixels; knows nothing about images."""

    def __init__(self, latent: int, *, output_shape: tuple[int, int, int], rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(latent, int(np.prod(output_shape)), rngs=rngs)

    def __call__(self, z: jax.Array) -> jax.Array:
        return self.linear(z)

    def generate(self, n_samples: int, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        return self(jax.random.normal((rngs or nnx.Rngs(0)).default(), (n_samples, 4)))


@pytest.mark.parametrize(("normalize", "low", "high"), [(True, 0.0, 1.0), (False, -1.0, 1.0)])
def test_adapter_builds_the_model_with_shapes_and_squashes_outputs_into_range(normalize, low, high):
    m = modality(normalize=normalize)
    adapter = m.get_adapter(TinyDecoder)
    assert isinstance(adapter, ImageAdapter) and isinstance(adapter, modalax.ModelAdapter)
    model = adapter.create(4, rngs=nnx.Rngs(0))
    assert isinstance(model, ImageModel) and model.output_shape == (8, 6, 3)
    out = model(jnp.ones((5, 4)) * 10.0)
    assert out.shape == (5, 8, 6, 3) and float(out.min()) >= low and float(out.max()) <= high
    assert float(out.min()) < low + 0.5 * (high - low) < float(out.max())
    assert model.generate(2, rngs=nnx.Rngs(1)).shape == (2, 8, 6, 3)
    target = {"images": jnp.full((5, 8, 6, 3), low)}
    loss = model.loss_fn(target, out)
    assert float(loss) == pytest.approx(float(jnp.mean((out - low) ** 2)))

    # the wrapped model trains through the modality loss
    z = jax.random.normal(jax.random.key(0), (5, 4))

    def objective(mod):
        return mod.loss_fn(target, mod(z))

    grads = nnx.grad(objective)(model)
    assert float(jnp.abs(grads.model.linear.kernel[...]).sum()) > 0


def test_adapter_errors():
    with pytest.raises(ConfigError, match=r"model_cls: got 3"):
        ImageAdapter(3)
    model = modality().get_adapter(TinyDecoder).create(4, rngs=nnx.Rngs(0))
    with pytest.raises(DataError, match=r"cannot be images of shape \(8, 6, 3\)"):
        model.to_images(jnp.zeros((2, 5)))


def test_extensions_give_loader_augmentation_only_when_enabled():
    assert modality().get_extensions(None, rngs=nnx.Rngs(0, augment=1)) == {}
    ext = modality(augmentation=True).get_extensions(None, rngs=nnx.Rngs(0, augment=1))
    pipeline = ext["augmentation"]
    x = RNG.random((6, 8, 6, 3), dtype=np.float32)
    out = np.asarray(pipeline.apply_batch({"images": x}, rng=jax.random.key(0))["images"])
    assert out.shape == x.shape and out.min() >= 0.0 and out.max() <= 1.0 and not np.allclose(out, x)
    assert modality().get_extensions({"augmentation": True}, rngs=nnx.Rngs(0, augment=1)).keys() == {"augmentation"}
    with pytest.raises(ConfigError, match=r"get_extensions.config: got int"):
        modality().get_extensions(3, rngs=nnx.Rngs(0))
