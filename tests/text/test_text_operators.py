"""Token kernels and operators: exact numerics, protected specials, per-record keys, the loader."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError
from modalax_text import (
    CausalMask,
    CausalMaskConfig,
    PaddingMask,
    PaddingMaskConfig,
    PositionEncoding,
    PositionEncodingConfig,
    SyntheticTextDataset,
    TokenDropout,
    TokenDropoutConfig,
    TokenMasking,
    TokenMaskingConfig,
    TokenSubstitution,
    TokenSubstitutionConfig,
    kernels,
    text_config,
)

VOCAB = 50
PARAMS = {"vocab_size": VOCAB, "max_length": 16}
SPECIALS = (0, 1, 2, 3)


def sample_tokens(n: int = 64, length: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, length - 1, n)
    tokens = np.zeros((n, length), np.int32)
    for i, k in enumerate(lengths):
        tokens[i, 0] = 2
        tokens[i, 1 : k + 1] = rng.integers(4, VOCAB, k)
        tokens[i, k + 1] = 3
    return tokens


@jax.jit
def record_params(keys: jax.Array) -> jax.Array:
    """The keys an operator derives from per-record keys (its generate_random_params on a batch of one)."""
    return jax.vmap(lambda k: jax.random.split(k, 1)[0])(keys)


def test_masking_follows_bert_proportions_and_spares_specials():
    tokens = jnp.asarray(np.tile(sample_tokens(1, 16)[0], (4000, 1)))
    tokens = tokens.at[:, 1:14].set(7)
    keys = jax.random.split(jax.random.key(0), 4000)
    fn = modalax.get_kernel("text.mask_tokens")
    masked, selected = fn(
        tokens, keys, mask_prob=0.3, mask_token_id=4, vocab_size=VOCAB, protected=(0, 2, 3), specials=SPECIALS
    )
    masked, selected, tokens = map(np.asarray, (masked, selected, tokens))
    assert not selected[tokens <= 3].any()
    np.testing.assert_array_equal(masked[~selected], tokens[~selected])
    frac = selected[tokens == 7].mean()
    assert abs(frac - 0.3) < 0.01
    picked = masked[selected]
    assert abs((picked == 4).mean() - 0.8) < 0.02
    kept = (picked == 7).mean()  # kept (10%) plus random draws that hit 7 again
    assert abs(kept - (0.1 + 0.1 / (VOCAB - 4))) < 0.015
    assert not np.isin(picked, [0, 1, 2, 3]).any()


def test_dropout_and_substitution_rates_and_protected_ids():
    tokens = jnp.asarray(sample_tokens(2000, 16, seed=1))
    keys = jax.random.split(jax.random.key(1), 2000)
    t = np.asarray(tokens)
    dropped = np.asarray(
        modalax.get_kernel("text.token_dropout")(tokens, keys, rate=0.25, unk_token_id=1, protected=(0, 2, 3))
    )
    words = t >= 4
    np.testing.assert_array_equal(dropped[~words], t[~words])
    assert abs((dropped[words] == 1).mean() - 0.25) < 0.02
    sub = np.asarray(
        modalax.get_kernel("text.random_substitution")(
            tokens, keys, rate=0.5, vocab_size=VOCAB, protected=(0, 2, 3), specials=SPECIALS
        )
    )
    np.testing.assert_array_equal(sub[~words], t[~words])
    changed = sub[words] != t[words]
    assert abs(changed.mean() - 0.5 * (1 - 1 / (VOCAB - 4))) < 0.02
    assert sub[words].min() >= 4 and sub[words].max() < VOCAB
    counts = np.bincount(sub[words][changed], minlength=VOCAB)[4:]
    assert counts.min() > 0  # every regular id can be drawn


def test_regular_ids_skip_arbitrary_specials():
    u = (jnp.arange(7) + 0.5) / 7
    np.testing.assert_array_equal(kernels.regular_ids(u, 10, (0, 3, 9)), [1, 2, 4, 5, 6, 7, 8])


def test_masks_and_position_encodings_are_exact():
    tokens = jnp.asarray(sample_tokens(8, 16, seed=2))
    t = np.asarray(tokens)
    pad = np.asarray(modalax.get_kernel("text.padding_mask")(tokens, pad_token_id=0))
    np.testing.assert_array_equal(pad, t != 0)
    causal = np.asarray(modalax.get_kernel("text.causal_mask")(tokens, pad_token_id=0))
    i, j = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    np.testing.assert_array_equal(causal, (j <= i)[None] & (t != 0)[:, None, :])
    plain = np.asarray(modalax.get_kernel("text.causal_mask")(tokens, pad_token_id=None))
    np.testing.assert_array_equal(plain, np.broadcast_to(j <= i, (8, 16, 16)))
    dim = 10
    pe = np.asarray(modalax.get_kernel("text.position_encoding")(tokens, dim=dim))
    ref = np.zeros((16, dim))
    for p in range(16):
        for c in range(dim):
            angle = p / 10000 ** (2 * (c // 2) / dim)
            ref[p, c] = np.sin(angle) if c % 2 == 0 else np.cos(angle)
    assert pe.shape == (8, 16, dim) and pe.dtype == np.float32
    np.testing.assert_allclose(pe[3], ref, atol=2e-6)


def test_operators_match_the_kernels_for_the_same_record_keys():
    tokens = jnp.asarray(sample_tokens(16, 16, seed=3))
    keys = jax.random.split(jax.random.key(5), 16)
    rngs = nnx.Rngs(0, augment=1)
    mask_op = TokenMasking(TokenMaskingConfig(mask_prob=0.4, mask_token_id=4, text_params=PARAMS), rngs=rngs)
    out = mask_op.apply_batch({"text_tokens": tokens, "texts": ["x"] * 16}, keys=keys)
    ref_masked, ref_sel = modalax.get_kernel("text.mask_tokens")(
        tokens,
        record_params(keys),
        mask_prob=0.4,
        mask_token_id=4,
        vocab_size=VOCAB,
        protected=(0, 2, 3),
        specials=SPECIALS,
    )
    np.testing.assert_array_equal(out["text_tokens"], ref_masked)
    np.testing.assert_array_equal(out["mlm_mask"], ref_sel)
    assert out["texts"] == ["x"] * 16
    drop = TokenDropout(TokenDropoutConfig(rate=0.3, text_params=PARAMS, target_key="noisy"), rngs=rngs)
    out = drop.apply_batch({"text_tokens": tokens}, keys=keys)
    np.testing.assert_array_equal(out["text_tokens"], tokens)
    np.testing.assert_array_equal(
        out["noisy"], modalax.get_kernel("text.token_dropout")(tokens, record_params(keys), rate=0.3)
    )
    sub = TokenSubstitution(TokenSubstitutionConfig(rate=0.3, text_params=PARAMS), rngs=rngs)
    np.testing.assert_array_equal(
        sub.apply_batch({"text_tokens": tokens}, keys=keys)["text_tokens"],
        modalax.get_kernel("text.random_substitution")(tokens, record_params(keys), rate=0.3, vocab_size=VOCAB),
    )
    det = {"text_tokens": tokens}
    for op in (
        PaddingMask(PaddingMaskConfig()),
        CausalMask(CausalMaskConfig()),
        PositionEncoding(PositionEncodingConfig(dim=6)),
    ):
        det = op.apply_batch(det)
    np.testing.assert_array_equal(det["padding_mask"], np.asarray(tokens) != 0)
    np.testing.assert_array_equal(det["causal_mask"], modalax.get_kernel("text.causal_mask")(tokens, pad_token_id=0))
    np.testing.assert_allclose(det["position_encoding"], modalax.get_kernel("text.position_encoding")(tokens, dim=6))


def test_loader_randomness_is_per_record_and_independent_of_batch_size():
    ds = SyntheticTextDataset(text_config(max_length=16), 24, "random_sentences", rngs=0)

    def run(batch_size: int) -> dict[int, np.ndarray]:  # two loaders: two compiles, the slowest test here
        op = TokenMasking(TokenMaskingConfig(mask_prob=0.5), rngs=nnx.Rngs(0, augment=1))
        loader = modalax.DataLoader(
            ds, batch_size, operators=[op], shuffle=True, seed=3, with_indices=True, drop_last=True
        )
        return {int(i): np.asarray(m) for b in loader for i, m in zip(b["index"], b["mlm_mask"], strict=True)}

    by_8, by_12 = run(8), run(12)
    assert sorted(by_8) == list(range(24))
    for i in range(24):
        np.testing.assert_array_equal(by_8[i], by_12[i])
    assert sum(m.any() for m in by_8.values()) > 12


def test_operator_configs_validate():
    with pytest.raises(ConfigError, match=r"TokenMaskingConfig\.mask_prob: got 1\.5, expected a number in \[0, 1\]"):
        TokenMaskingConfig(mask_prob=1.5)
    with pytest.raises(ConfigError, match=r"random_prob \+ keep_prob: got 1\.2"):
        TokenMaskingConfig(random_prob=0.6, keep_prob=0.6)
    with pytest.raises(ConfigError, match=r"mask_token_id: got 60, expected < vocab_size=50"):
        TokenMaskingConfig(mask_token_id=60, text_params=PARAMS)
    with pytest.raises(ConfigError, match=r"TokenDropoutConfig\.stochastic: got False, expected True"):
        TokenDropoutConfig(stochastic=False)
    with pytest.raises(ConfigError, match=r"TextParams\.eos_token_id: got 2, which collides"):
        TokenDropoutConfig(text_params={"eos_token_id": 2})
    with pytest.raises(ConfigError, match=r"PositionEncodingConfig\.dim: got 0"):
        PositionEncodingConfig(dim=0)
    with pytest.raises(ConfigError, match=r"needs rngs with stream 'augment'"):
        TokenDropout(TokenDropoutConfig())
    assert TokenMaskingConfig().mask_token_id == 1  # UNK unless a mask id is given
    assert TokenMaskingConfig(text_params=text_config(unk_token_id=7)).mask_token_id == 7
