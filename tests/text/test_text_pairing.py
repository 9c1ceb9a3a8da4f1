"""The text pairing (``TextModality.pairing``): rendering, features, encoder and quality, as multimodal sees them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy.stats import norm

import modalax
from modalax import ConfigError, DataError
from modalax.plugin import ModalityPairing, pairing_of
from modalax_text.evaluation import TextEvaluationSuite
from modalax_text.pairing import RESERVED_TOKENS, TEXT_LEVELS, TextEncoder, TextPairing, render_text_reference
from modalax_text.params import text_config

KEY = jax.random.key(5)


@pytest.fixture(scope="module")
def pairing() -> TextPairing:
    p = pairing_of("text", {"vocab_size": 120, "sequence_length": 12})
    assert isinstance(p, TextPairing)
    return p


def test_reached_through_the_registry_with_its_keys_and_options(pairing: TextPairing) -> None:
    assert modalax.get_modality("text").pairing().sample_shape == (50,)  # the API reference's default
    assert isinstance(pairing, ModalityPairing) and pairing.field == "text"
    assert pairing.batch_keys == ("text", "text_tokens") and pairing.dtype == "int32"
    assert pairing.options() == {"vocab_size": 120, "sequence_length": 12}
    assert pairing_of("text", pairing.options()).options() == pairing.options()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"vocab_size": 8}, r"TextPairing\.vocab_size: got 8, expected >= 12 \(4 reserved ids plus 8 levels\)"),
        ({"vocab_size": 0}, r"vocab_size: got 0"),
        ({"sequence_length": 0}, r"sequence_length: got 0"),
        ({"sequence_length": 2.5}, r"sequence_length: got 2.5"),
        ({"evaluation_config": 42}, r"config: got int"),
        ({"max_length": 9}, r"TextPairing: unknown option\(s\) 'max_length'"),
    ],
)
def test_bad_options_are_config_errors(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        pairing_of("text", options)


def test_world_levels_are_equiprobable_and_tokens_avoid_the_special_ids(pairing: TextPairing) -> None:
    world = pairing.make_world(KEY, 7)
    again = pairing.make_world(KEY, 7)
    for x, y in zip(world, again, strict=True):
        np.testing.assert_array_equal(x, y)
    w = np.asarray(world.directions, np.float64)
    # orthonormal within each block of latent_dim (7) positions: independent views of u
    np.testing.assert_allclose(w[:7] @ w[:7].T, np.eye(7), atol=1e-6)
    np.testing.assert_allclose(w[7:] @ w[7:].T, np.eye(5), atol=1e-6)
    np.testing.assert_allclose(world.edges, norm.ppf(np.arange(1, TEXT_LEVELS) / TEXT_LEVELS), atol=1e-6)
    table = np.asarray(world.table)
    assert table.shape == (12, TEXT_LEVELS) and table.min() >= RESERVED_TOKENS and table.max() < 120
    u = jax.random.normal(jax.random.key(0), (20000, 7))
    proj = np.asarray(u @ world.directions.T)
    counts = np.stack([np.bincount(np.searchsorted(world.edges, p), minlength=TEXT_LEVELS) for p in proj.T])
    np.testing.assert_allclose(counts / 20000, 1 / TEXT_LEVELS, atol=0.012)  # a unit projection is N(0, 1)


def test_render_matches_the_one_token_at_a_time_reference(pairing: TextPairing) -> None:
    world = pairing.make_world(KEY, 7)
    u = np.random.default_rng(0).standard_normal((6, 7))
    tokens = np.asarray(pairing.render(world, jnp.asarray(u, jnp.float32), None))
    assert tokens.shape == (6, 12) and tokens.dtype == np.int32
    for i in range(6):
        # a projection within float32 rounding of a level edge may flip; allow one position
        assert np.sum(tokens[i] != render_text_reference(world, u[i])) <= 1


def test_features_are_a_bag_of_words_and_check_the_ids(pairing: TextPairing) -> None:
    ids = np.random.default_rng(1).integers(0, 120, (4, 12)).astype(np.int32)
    np.testing.assert_array_equal(pairing.features(ids), [np.bincount(row, minlength=120) for row in ids])
    cases = [
        (ids.astype(np.float32), "got dtype float32, expected integer token ids"),
        (np.array([[5, 120]], np.int32), r"sample 0 holds token id 120; expected ids in \[0, vocab_size=120\)"),
        (np.array([[5, 6], [7, -1]], np.int32), "sample 1 holds token id -1"),
        (ids[0], r"got shape \(12,\), expected \(B, L\)"),
    ]
    for bad, match in cases:
        with pytest.raises(DataError, match=match):
            pairing.features(bad)


def test_encoder_ignores_padding_and_takes_a_width(pairing: TextPairing) -> None:
    enc = pairing.encoder(8, rngs=nnx.Rngs(0), hidden_dim=24)
    assert isinstance(enc, TextEncoder) and enc.embed.features == 24
    tokens = jnp.asarray(np.random.default_rng(2).integers(4, 120, (2, 12)), jnp.int32)
    padded = jnp.concatenate([tokens, jnp.zeros((2, 5), jnp.int32)], axis=1)
    np.testing.assert_allclose(enc(padded), enc(tokens), rtol=1e-6)
    np.testing.assert_allclose(enc(tokens[0]), enc(tokens)[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(DataError, match="expected integers"):
        enc(tokens.astype(jnp.float32))


def test_quality_is_the_plugins_bleu_and_perplexity(pairing: TextPairing) -> None:
    rng = np.random.default_rng(3)
    ref = rng.integers(4, 30, size=(4, 9))
    gen = ref.copy()
    gen[:, ::3] = 5
    log_probs = np.log(rng.uniform(0.05, 1.0, size=ref.shape))
    scores = pairing.quality(gen, ref, log_probs=log_probs)
    assert scores["bleu"] == pytest.approx(TextEvaluationSuite().bleu(gen, ref).score)
    assert 0 < scores["bleu"] < 100 and pairing.quality(ref, ref)["bleu"] == pytest.approx(100.0)
    assert scores["perplexity"] == pytest.approx(np.exp(-log_probs.mean()), rel=1e-9)
    assert pairing.quality(None, None, log_probs=log_probs, targets=ref) == {"perplexity": scores["perplexity"]}
    # the evaluation config's padding id is the one perplexity skips
    padded = pairing_of("text", {"evaluation_config": text_config(pad_token_id=5, unk_token_id=1)})
    only = padded.quality(None, None, log_probs=log_probs, targets=gen)["perplexity"]
    assert only == pytest.approx(np.exp(-log_probs[gen != 5].mean()), rel=1e-9)
