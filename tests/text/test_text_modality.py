"""TextModality (the API reference's examples) and the text adapter's model and loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError, DataError, ModalityConfiguration
from modalax_text import TextAdapter, TextLanguageModel, TextModality, cross_entropy_loss, text_config


def test_seed_example_tokenizes_right_after_construction():
    config = ModalityConfiguration(
        name="text",
        modality_type="text",
        metadata={
            "text_params": {
                "vocab_size": 10000,
                "max_length": 512,
                "pad_token_id": 0,
                "bos_token_id": 2,
                "eos_token_id": 3,
            }
        },
    )
    modality = TextModality(config=config, rngs=nnx.Rngs(0))
    tokens = modality.tokenize("Hello world")
    assert isinstance(tokens, jax.Array) and tokens.shape == (512,) and tokens.dtype == jnp.int32
    assert modality.detokenize(tokens) == "hello world"  # case_sensitive=False lower-cases
    text = "Hello world, this is a test sentence"
    assert modality.detokenize(modality.tokenize(text)) == text.lower()
    assert modality.name == "text" and modality.vocab_size == 10000 and modality.max_length == 512
    assert modality_class_is_registered()


def modality_class_is_registered() -> bool:
    return modalax.get_modality("text") is TextModality


def test_protocol_and_vocabulary_switch(tmp_path):
    modality = TextModality(text_config(max_length=12), rngs=nnx.Rngs(0))
    assert modalax.validate_modality_interface(modality, raise_on_error=True)
    vocab = modality.build_vocabulary(["the cat sat", "the dog ran"], reserved_tokens=("<mask>",))
    assert vocab.id_of("<mask>") == 4 and vocab.id_of("the") == 5
    ids = modality.tokenize(["The cat ran!", "a dog"])
    assert ids.shape == (2, 12)
    assert modality.detokenize(ids) == ["the cat ran <unk>", "<unk> dog"]
    path = modality.save_vocabulary(tmp_path / "v.json")
    fresh = TextModality(text_config(max_length=12))
    fresh.load_vocabulary(path)
    np.testing.assert_array_equal(fresh.tokenize("the cat"), modality.tokenize("the cat"))
    with pytest.raises(ConfigError, match=r"vocab_size is 10000 in the file, but the configuration has 20"):
        TextModality(text_config(vocab_size=20)).load_vocabulary(path)
    batch = modality.create_batch_from_samples(
        [{"text_tokens": ids[0], "text": "x"}, {"text_tokens": ids[1], "text": "y"}]
    )
    assert batch["texts"] == ["x", "y"] and batch["text_tokens"].shape == (2, 12)
    assert modality.validate_data_shape(ids)
    with pytest.raises(DataError, match=r"expected integer ids \(\.\.\., 12\)"):
        modality.validate_data_shape(np.zeros((2, 5), np.int32))
    ext = modality.get_extensions({"embed_dim": 8}, rngs=nnx.Rngs(0))
    assert ext["token_embedding"].embedding.shape == (10000, 8) and ext["tokenizer"] is modality.tokenizer


def test_generate_frames_random_sequences():
    modality = TextModality(text_config(vocab_size=30, max_length=10))
    tokens = np.asarray(modality.generate(50, rngs=nnx.Rngs(1)))
    assert tokens.shape == (50, 10) and np.all(tokens[:, 0] == 2)
    assert np.all((tokens == 3).sum(axis=1) == 1)
    eos = np.argmax(tokens == 3, axis=1)
    for row, e in zip(tokens, eos, strict=True):
        assert np.all(row[1:e] >= 4) and np.all(row[e + 1 :] == 0)


def test_cross_entropy_matches_a_manual_computation_and_ignores_padding():
    rng = np.random.default_rng(0)
    logits = jnp.asarray(rng.normal(size=(2, 6, 9)), jnp.float32)
    tokens = jnp.array([[2, 5, 6, 3, 0, 0], [2, 7, 3, 0, 0, 0]])
    logp = np.asarray(jax.nn.log_softmax(logits, -1))
    picks = [(b, t) for b in range(2) for t in range(5) if int(tokens[b, t + 1]) != 0]
    expected = -np.mean([logp[b, t, int(tokens[b, t + 1])] for b, t in picks])
    assert float(cross_entropy_loss(logits, tokens)) == pytest.approx(expected, rel=1e-5)
    noisy = logits.at[0, 4:].set(100.0).at[1, 3:].set(-100.0)  # predictions of padding targets
    assert float(cross_entropy_loss(noisy, tokens)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(DataError, match=r"expected \(B, L, V\) and \(B, L\)"):
        cross_entropy_loss(logits[0], tokens)


def test_adapter_builds_a_causal_model_sized_by_the_text_params():
    modality = TextModality(text_config(vocab_size=40, max_length=8))
    adapter = modality.get_adapter()
    assert isinstance(adapter, TextAdapter) and modalax.get_adapter("text") is TextAdapter
    model = adapter.create({"embed_dim": 16, "num_layers": 1, "num_heads": 2}, rngs=nnx.Rngs(0))
    assert isinstance(model, TextLanguageModel)
    tokens = jnp.array([[2, 5, 6, 7, 3, 0, 0, 0], [2, 9, 3, 0, 0, 0, 0, 0]])
    forward = nnx.jit(lambda m, t: m(t))
    logits = forward(model, tokens)
    assert logits.shape == (2, 8, 40) and bool(jnp.all(jnp.isfinite(logits)))
    # causal: changing a later token leaves earlier logits alone
    later = forward(model, tokens.at[0, 4].set(11))
    np.testing.assert_allclose(later[0, :4], logits[0, :4], atol=1e-5)
    loss = nnx.jit(lambda m, t: m.loss_fn({"text_tokens": t}))(model, tokens)
    assert float(loss) == pytest.approx(float(adapter.loss_fn({"text_tokens": tokens}, logits)), rel=1e-6)
    assert float(loss) == pytest.approx(float(modality.loss_fn({"text_tokens": tokens}, logits)), rel=1e-6)
    sample = np.asarray(model.generate(3, rngs=nnx.Rngs(2)))
    assert sample.shape == (3, 8) and np.all(sample[:, 0] == 2) and not np.any(sample[:, 1:] == 2)
    with pytest.raises(ConfigError, match=r"embed_dim: got 10, expected a multiple of num_heads=4"):
        adapter.create({"embed_dim": 10}, rngs=nnx.Rngs(0))


def test_one_training_step_lowers_the_loss():
    model = TextAdapter(None, text_config(vocab_size=20, max_length=8)).create(
        {"embed_dim": 16, "num_layers": 1, "num_heads": 2}, rngs=nnx.Rngs(0)
    )
    tokens = jnp.array([[2, 5, 6, 7, 8, 3, 0, 0]] * 4)
    graphdef, state = nnx.split(model)

    def loss(s):
        return nnx.merge(graphdef, s).loss_fn({"text_tokens": tokens})

    step = jax.jit(jax.value_and_grad(loss))
    before, grads = step(state)
    after, _ = step(jax.tree.map(lambda p, g: p - 0.05 * g, state, grads))
    assert float(after) < float(before)
