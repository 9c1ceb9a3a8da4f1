"""The text adapter keeps core's adapter contract (``modalax.plugin.BaseModelAdapter``): generic code
builds a text model as it builds any other, and bad arguments are ``ConfigError``s naming them."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError, DataError
from modalax.plugin import BaseModelAdapter, ModelAdapter
from modalax_text import (
    TextAdapter,
    TextLanguageModel,
    TextModality,
    TextModel,
    TextParams,
    cross_entropy_loss,
    text_config,
)

SMALL = text_config(vocab_size=40, max_length=8)
TOKENS = jnp.array([[2, 5, 6, 7, 3, 0, 0, 0], [2, 9, 3, 0, 0, 0, 0, 0]])


class Bigram(nnx.Module):
    """A user's plain nnx language model: declares only the sizes it needs."""

    def __init__(self, *, vocab_size: int, rngs: nnx.Rngs, dim: int = 8) -> None:
        self.vocab_size = vocab_size
        self.embed = nnx.Embed(vocab_size, dim, rngs=rngs)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        return self.embed.attend(self.embed(tokens))


class TakesAll(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs, **sizes: int) -> None:
        self.sizes = dict(sizes)


class TakesParams(nnx.Module):
    def __init__(self, config: object, *, text_params: TextParams, rngs: nnx.Rngs) -> None:
        self.config, self.text_params = config, text_params


class WrongWidth(Bigram):
    def __call__(self, tokens: jax.Array) -> jax.Array:
        return super().__call__(tokens)[..., :-1]


@dataclasses.dataclass
class OtherConfig:  # a config of another modality
    height: int = 8


def test_generic_code_builds_a_text_model_both_ways():
    cls = modalax.get_adapter("text")
    assert cls is TextAdapter and issubclass(cls, BaseModelAdapter) and cls.config_class is TextParams
    adapter = cls(TextLanguageModel, SMALL)
    assert isinstance(adapter, ModelAdapter) and adapter.params == TextParams(vocab_size=40, max_length=8)
    default = adapter.create(rngs=nnx.Rngs(0))
    assert isinstance(default, TextLanguageModel) and default.embed_dim == 64
    sized = adapter.create({"embed_dim": 16, "num_layers": 1, "num_heads": 2}, rngs=nnx.Rngs(0))
    assert isinstance(sized, TextLanguageModel) and sized.embed_dim == 16
    logits = nnx.jit(lambda m, t: m(t))(sized, TOKENS)
    assert logits.shape == (2, 8, 40)
    # the same as the modality's own adapter
    same = (
        TextModality(SMALL)
        .get_adapter(TextLanguageModel)
        .create({"embed_dim": 16, "num_layers": 1, "num_heads": 2}, rngs=nnx.Rngs(0))
    )
    np.testing.assert_array_equal(
        nnx.state(same, nnx.Param)["embed"]["embedding"][...], nnx.state(sized, nnx.Param)["embed"]["embedding"][...]
    )


def test_none_config_means_the_defaults_and_none_model_the_language_model():
    adapter = TextAdapter(Bigram, None)
    assert adapter.params == TextParams() and adapter.config == TextParams()
    model = adapter.create(rngs=nnx.Rngs(0))
    assert isinstance(model, TextModel) and model.model.vocab_size == 10000
    assert TextAdapter(None, SMALL).model_cls is TextLanguageModel
    assert TextModality(SMALL).get_adapter().model_cls is TextLanguageModel
    # every accepted form of the text config gives the same params
    for config in (SMALL, TextParams(vocab_size=40, max_length=8), {"vocab_size": 40, "max_length": 8}):
        assert TextAdapter(Bigram, config).params == TextParams(vocab_size=40, max_length=8)


def test_a_plain_module_is_wrapped_with_the_text_loss_and_sampling():
    model = TextAdapter(Bigram, SMALL).create({"dim": 4}, rngs=nnx.Rngs(0))
    assert isinstance(model, TextModel) and isinstance(model.model, Bigram) and model.model.vocab_size == 40
    logits = model(TOKENS)
    np.testing.assert_array_equal(logits, model.model(TOKENS))
    expected = float(cross_entropy_loss(logits, TOKENS))
    assert float(model.loss_fn({"text_tokens": TOKENS})) == pytest.approx(expected, rel=1e-6)
    assert float(nnx.jit(lambda m, t: m.loss_fn({"text_tokens": t}))(model, TOKENS)) == pytest.approx(
        expected, rel=1e-6
    )
    sample = np.asarray(model.generate(16, rngs=nnx.Rngs(1)))
    assert sample.shape == (16, 8) and np.all(sample[:, 0] == 2) and not np.any(sample[:, 1:] == 2)
    ended = (sample == 3).any(axis=1)
    for row in sample[ended]:
        e = int(np.argmax(row == 3))
        assert np.all(row[1:e] != 0) and np.all(row[e + 1 :] == 0)
    np.testing.assert_array_equal(sample, np.asarray(model.generate(16, rngs=nnx.Rngs(1))))  # same key, same rows
    with pytest.raises(ConfigError, match=r"generate\.length: got 0"):
        model.generate(2, length=0)


def test_sizes_reach_the_constructor_as_it_declares_them():
    sizes = TextAdapter(TakesAll, SMALL).create(rngs=nnx.Rngs(0)).model.sizes
    assert sizes == {
        "vocab_size": 40,
        "max_length": 8,
        "pad_token_id": 0,
        "unk_token_id": 1,
        "bos_token_id": 2,
        "eos_token_id": 3,
    }
    built = TextAdapter(TakesParams, SMALL).create(OtherConfig(3), rngs=nnx.Rngs(0)).model
    assert built.config == OtherConfig(3) and built.text_params == TextParams(vocab_size=40, max_length=8)
    same = TextAdapter(TextLanguageModel, SMALL).create(
        {"vocab_size": 40, "embed_dim": 8, "num_heads": 2}, rngs=nnx.Rngs(0)
    )
    assert same.vocab_size == 40  # restating a size is fine


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: TextAdapter(5, SMALL), ConfigError, r"TextAdapter\.model_cls: got 5, expected an nnx model class"),
        (lambda: TextAdapter("TextLanguageModel"), ConfigError, r"TextAdapter\.model_cls: got 'TextLanguageModel'"),
        (
            lambda: TextAdapter(Bigram(vocab_size=4, rngs=nnx.Rngs(0)), SMALL),
            ConfigError,
            r"TextAdapter\.model_cls: got a Bigram instance, expected an nnx model class \(pass Bigram, not Bigram",
        ),
        (lambda: TextAdapter(Bigram, 3), ConfigError, r"TextAdapter\.config: got int, expected a TextParams"),
        (lambda: TextAdapter(Bigram, OtherConfig()), ConfigError, r"TextAdapter\.config: got OtherConfig"),
        (lambda: TextAdapter(Bigram, {"vocab_size": 0}), ConfigError, r"TextParams\.vocab_size: got 0"),
        (lambda: TextAdapter(Bigram, {"vocab": 40}), ConfigError, r"vocab"),
        (
            lambda: TextAdapter(TextLanguageModel, SMALL).create({"vocab_size": 50}, rngs=nnx.Rngs(0)),
            ConfigError,
            r"TextAdapter\.create\.vocab_size: got 50, but the text params have vocab_size=40",
        ),
        (
            lambda: TextAdapter(Bigram, SMALL).create(rngs=nnx.Rngs(0), max_length=9),
            ConfigError,
            r"TextAdapter\.create\.max_length: got 9",
        ),
        (
            lambda: TextAdapter(WrongWidth, SMALL).create(rngs=nnx.Rngs(0))(TOKENS),
            DataError,
            r"WrongWidth output: got logits of shape \(2, 8, 39\), expected \(2, 8, 40\)",
        ),
    ],
    ids=[
        "int",
        "name",
        "instance",
        "int-config",
        "other-config",
        "bad-value",
        "unknown-key",
        "size-clash",
        "kwarg-clash",
        "logits",
    ],
)
def test_bad_arguments_are_named(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_the_old_argument_order_still_works_with_a_warning():
    with pytest.warns(DeprecationWarning, match=r"TextAdapter\(config, model_cls\) is deprecated"):
        old = TextAdapter(SMALL)
    assert old.model_cls is TextLanguageModel and old.params.vocab_size == 40
    with pytest.warns(DeprecationWarning):
        assert TextAdapter(SMALL, Bigram).model_cls is Bigram
