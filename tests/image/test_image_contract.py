"""The contracts core states: the adapter, dataset factories, the decode path, operators under jax.jit."""

from __future__ import annotations

import inspect
import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from PIL import Image

import modalax
from modalax import ConfigError
from modalax.plugin import BaseModelAdapter, get_modality_record, resolve
from modalax_image import (
    ImageAdapter,
    ImageModality,
    ImageModalityConfig,
    ImageModel,
    create_image_dataset,
    decode_image,
    pillow_extensions,
)
from modalax_image.augment_configs import ColorJitterConfig
from modalax_image.augment_ops import ColorJitterOperator
from modalax_image.operator_configs import FlipConfig, ResizeConfig
from modalax_image.operators import FlipOperator, ResizeOperator

RNG = np.random.default_rng(29)
SMALL = ImageModalityConfig(height=8, width=6)


class Decoder(nnx.Module):
    def __init__(self, latent: int = 3, *, output_shape: tuple[int, int, int], rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(latent, int(np.prod(output_shape)), rngs=rngs)

    def __call__(self, z: jax.Array) -> jax.Array:
        return self.linear(z)


# --------------------------------------------------------------------------- adapter
def test_the_adapter_contract_builds_the_model_with_and_without_a_model_config():
    adapter_cls = modalax.get_adapter("image")
    assert adapter_cls is ImageAdapter and issubclass(ImageAdapter, BaseModelAdapter)
    assert ImageAdapter.config_class is ImageModalityConfig
    adapter = adapter_cls(Decoder, SMALL)
    plain = adapter.create(rngs=nnx.Rngs(0))  # no model config: Decoder's default latent
    given = adapter.create(5, rngs=nnx.Rngs(0))  # the model's own config, first
    assert isinstance(plain, ImageModel) and plain(jnp.ones((2, 3))).shape == (2, 8, 6, 3)
    assert given(jnp.ones((4, 5))).shape == (4, 8, 6, 3)
    again = adapter.create(rngs=nnx.Rngs(0))
    np.testing.assert_array_equal(np.asarray(plain(jnp.ones((1, 3)))), np.asarray(again(jnp.ones((1, 3)))))
    assert adapter_cls(Decoder).config == ImageModalityConfig()  # None: the config class's defaults
    from_modality = ImageModality(SMALL, rngs=nnx.Rngs(0)).get_adapter(Decoder)
    assert isinstance(from_modality, ImageAdapter) and from_modality.config is SMALL


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((3,), r"ImageAdapter.model_cls: got 3, expected an nnx model class"),
        ((Decoder(output_shape=(1, 1, 1), rngs=nnx.Rngs(0)),), r"ImageAdapter.model_cls: got .*Decoder"),
        ((Decoder, {"height": 8}), r"ImageAdapter.config: got dict, expected an instance of ImageModalityConfig"),
        ((Decoder, "rgb"), r"ImageAdapter.config: got str, expected an instance of ImageModalityConfig"),
    ],
)
def test_adapter_arguments_are_checked(args, match):
    with pytest.raises(ConfigError, match=match):
        ImageAdapter(*args)


# ------------------------------------------------------------------ dataset factories
def _factories() -> dict[str, object]:
    return {name: modalax.get_dataset_factory("image", name) for name in modalax.list_datasets("image")}


def test_the_factories_under_test_are_every_registered_one():
    assert sorted(_factories()) == ["folder", "mnist_like", "packed", "synthetic"]


@pytest.mark.parametrize("name", ["folder", "mnist_like", "packed", "synthetic"])
def test_every_factory_takes_config_first_then_its_data_then_split_and_seed_or_rngs(name):
    factory = _factories()[name]
    assert isinstance(factory, type)  # the dataset classes; nnx hides their __init__ behind (*args, **kwargs)
    params = dict(list(inspect.signature(factory.__init__).parameters.items())[1:])
    names = list(params)
    assert names[0] == "config" and params["config"].default is None
    location = {"folder": "root", "packed": "root"}.get(name, "dataset_size")  # generated: their size
    assert names[1] == location and names.index("split") > 1 and params["split"].default == "train"
    for keyword in ("seed", "rngs"):
        assert params[keyword].kind is inspect.Parameter.KEYWORD_ONLY and params[keyword].default is None


@pytest.mark.parametrize("name", ["synthetic", "mnist_like"])
def test_generated_datasets_take_seed_or_rngs_not_both(name):
    factory = _factories()[name]
    by_seed = factory(None, 20, seed=7)
    by_rngs = factory(dataset_size=20, rngs=nnx.Rngs(7))
    by_int = create_image_dataset(name, dataset_size=20, rngs=7)
    other = factory(None, 20, seed=8)
    first = np.asarray(by_seed.get_records(np.arange(4))["images"])
    np.testing.assert_array_equal(first, np.asarray(by_rngs.get_records(np.arange(4))["images"]))
    np.testing.assert_array_equal(first, np.asarray(by_int.get_records(np.arange(4))["images"]))
    assert not np.array_equal(first, np.asarray(other.get_records(np.arange(4))["images"]))
    with pytest.raises(ConfigError, match=r"rngs: got both rngs and seed=1; expected at most one of them"):
        factory(seed=1, rngs=nnx.Rngs(1))
    with pytest.raises(ConfigError, match=r"got 1.5 \(float\), expected an integer seed"):
        factory(seed=1.5)


def test_create_image_dataset_takes_either_order_and_the_folder_root(tmp_path):
    for i in range(2):
        Image.fromarray(RNG.integers(0, 256, (8, 6, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    seeded = create_image_dataset("synthetic", SMALL, dataset_size=5, seed=3)
    config_first = create_image_dataset(SMALL, "synthetic", dataset_size=5, seed=3)
    np.testing.assert_array_equal(
        np.asarray(seeded.get_records([0])["images"]), np.asarray(config_first.get_records([0])["images"])
    )
    folder = create_image_dataset("folder", SMALL, root=tmp_path, seed=1)
    assert len(folder) == 2 and folder.config is SMALL
    with pytest.raises(ConfigError, match=r"config: got 'synthetic', expected an ImageModalityConfig"):
        create_image_dataset("folder", "synthetic")


# ---------------------------------------------------------------------- decode path
def test_the_modality_record_names_its_one_decode_path():
    record = get_modality_record("image")
    assert resolve(record.decoder) is decode_image and resolve(record.extensions) is pillow_extensions
    assert ".png" in resolve(record.extensions)() and ".jpg" in resolve(record.extensions)()
    buf = io.BytesIO()
    array = RNG.integers(0, 256, (8, 6, 3), dtype=np.uint8)
    Image.fromarray(array).save(buf, "PNG")
    record_out = resolve(record.decoder)(buf.getvalue(), SMALL, background=(0, 0, 0))  # decode(source, config, **opts)
    np.testing.assert_array_equal(record_out["images"], array / np.float32(255))


# --------------------------------------------------------------- under jax.jit
@pytest.mark.parametrize(
    "make",
    [
        lambda: FlipOperator(FlipConfig(), rngs=nnx.Rngs(0, augment=1)),
        lambda: ColorJitterOperator(ColorJitterConfig(brightness=0.5), rngs=nnx.Rngs(0, augment=1)),
    ],
)
def test_stochastic_operators_under_jit_take_keys_or_rng_and_say_so_otherwise(make):
    x = {"images": RNG.random((4, 6, 6, 3), dtype=np.float32)}
    op = make()
    keys = jax.random.split(jax.random.key(2), 4)
    eager = np.asarray(op.apply_batch(x, keys=keys)["images"])
    by_keys = jax.jit(lambda b, k: op.apply_batch(b, keys=k))(x, keys)
    np.testing.assert_array_equal(np.asarray(by_keys["images"]), eager)
    by_rng = jax.jit(lambda b, r: op.apply_batch(b, rng=r))(x, jax.random.key(5))
    np.testing.assert_array_equal(
        np.asarray(by_rng["images"]), np.asarray(op.apply_batch(x, rng=jax.random.key(5))["images"])
    )
    with pytest.raises(
        ConfigError,
        match=r"apply_batch: called inside jax.jit \(or another jax transform\) without keys= or rng=; .*"
        r"stream 'augment' inside a trace.*keys=jax.random.split\(key, batch_size\)",
    ):
        jax.jit(lambda b: op.apply_batch(b))(x)
    assert op.apply_batch(x)["images"].shape == (4, 6, 6, 3)  # eagerly it still draws from its stream


def test_deterministic_operators_need_nothing_under_jit():
    op = ResizeOperator(ResizeConfig(height=4, width=5))
    x = {"images": RNG.random((2, 6, 6, 3), dtype=np.float32)}
    out = jax.jit(lambda b: op.apply_batch(b))(x)
    np.testing.assert_allclose(np.asarray(out["images"]), np.asarray(op.apply_batch(x)["images"]), atol=1e-6)
