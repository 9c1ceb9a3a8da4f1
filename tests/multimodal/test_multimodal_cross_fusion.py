"""Cross-modal attention, hierarchical fusion and the consistency loss against numpy references."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from modalax import ConfigError, DataError
from modalax_multimodal import CrossModalAttention, HierarchicalFusion, consistency_loss
from modalax_multimodal.cross_fusion import default_tree


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _reference_attention(att: CrossModalAttention, q: np.ndarray, kv: np.ndarray, key_mask=None) -> np.ndarray:
    """softmax(Q K^T / sqrt(d)) V per head, then the output projection, in float64 numpy."""
    mha = att.attention
    p = {name: np.asarray(getattr(mha, name).kernel[...], np.float64) for name in ("query", "key", "value", "out")}
    b = {name: np.asarray(getattr(mha, name).bias[...], np.float64) for name in ("query", "key", "value", "out")}
    Q = np.einsum("bld,dhk->blhk", q, p["query"]) + b["query"]
    K = np.einsum("bld,dhk->blhk", kv, p["key"]) + b["key"]
    V = np.einsum("bld,dhk->blhk", kv, p["value"]) + b["value"]
    d = Q.shape[-1]
    scores = np.einsum("bqhk,bshk->bhqs", Q, K) / np.sqrt(d)
    if key_mask is not None:
        scores = np.where(key_mask[:, None, None, :], scores, -np.inf)
    heads = np.einsum("bhqs,bshk->bqhk", _softmax(scores), V)
    return np.einsum("bqhk,hko->bqo", heads, p["out"]) + b["out"]


@pytest.mark.parametrize("num_heads", [1, 2])
def test_attention_equals_the_softmax_reference(num_heads):
    att = CrossModalAttention(8, 6, num_heads=num_heads, rngs=nnx.Rngs(0))
    rng = np.random.default_rng(0)
    q, kv = rng.normal(size=(3, 4, 8)), rng.normal(size=(3, 5, 6))
    got = np.asarray(att(jnp.asarray(q, jnp.float32), jnp.asarray(kv, jnp.float32)))
    np.testing.assert_allclose(got, _reference_attention(att, q, kv), rtol=1e-4, atol=1e-5)


def test_masked_context_contributes_nothing():
    att = CrossModalAttention(8, 6, num_heads=2, rngs=nnx.Rngs(1))
    rng = np.random.default_rng(1)
    q, kv = rng.normal(size=(2, 3, 8)), rng.normal(size=(2, 5, 6))
    key_mask = np.array([[1, 1, 0, 1, 0], [1, 0, 0, 0, 0]], bool)
    got = np.asarray(att(jnp.asarray(q), jnp.asarray(kv), context_mask=key_mask))
    np.testing.assert_allclose(got, _reference_attention(att, q, kv, key_mask), rtol=1e-4, atol=1e-5)
    kv2 = kv.copy()
    kv2[~key_mask] = 1e3  # hidden tokens' values do not matter
    np.testing.assert_array_equal(np.asarray(att(jnp.asarray(q), jnp.asarray(kv2), context_mask=key_mask)), got)


def test_absent_modality_and_masked_queries_give_zero():
    att = CrossModalAttention(4, num_heads=2, rngs=nnx.Rngs(2))
    q, kv = jnp.ones((3, 4)), jnp.ones((3, 4))  # one token each: (B, D) embeddings
    out = np.asarray(att(q, kv, context_mask=jnp.array([True, False, True])))
    assert out.shape == (3, 4)
    assert (out[1] == 0).all() and (out[0] != 0).any()
    out = np.asarray(att(jnp.ones((2, 3, 4)), jnp.ones((2, 2, 4)), query_mask=jnp.array([[1, 0, 1], [0, 0, 0]], bool)))
    assert (out[0, 1] == 0).all() and (out[1] == 0).all() and (out[0, 0] != 0).any()
    # a (B,) context mask says whether the whole modality is there
    tokens = jnp.asarray(np.random.default_rng(3).normal(size=(2, 3, 4)), jnp.float32)
    out = np.asarray(att(tokens, tokens, context_mask=jnp.array([False, True])))
    assert (out[0] == 0).all() and (out[1] != 0).any()
    np.testing.assert_array_equal(out[1], np.asarray(att(tokens, tokens))[1])


def _gelu(x: np.ndarray) -> np.ndarray:  # jax.nn.gelu's default tanh approximation
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def test_hierarchical_fusion_equals_the_tree_of_layers():
    mods = ("image", "text", "audio")
    fusion = HierarchicalFusion(mods, 4, rngs=nnx.Rngs(0))
    assert fusion.tree == (("image", "text"), "audio")
    assert fusion.labels == ["(image+text)", "((image+text)+audio)"]
    rng = np.random.default_rng(0)
    e = {m: rng.normal(size=(5, 4)) for m in mods}
    w = [
        (np.asarray(layer.kernel[...], np.float64), np.asarray(layer.bias[...], np.float64)) for layer in fusion.layers
    ]
    pair = _gelu(np.concatenate([e["image"], e["text"]], -1) @ w[0][0] + w[0][1])
    root = _gelu(np.concatenate([pair, e["audio"]], -1) @ w[1][0] + w[1][1])
    got = fusion({m: jnp.asarray(v, jnp.float32) for m, v in e.items()})
    np.testing.assert_allclose(np.asarray(got), root, rtol=1e-4, atol=1e-5)
    # positional inputs in the order of modalities, and one unbatched sample
    np.testing.assert_allclose(np.asarray(fusion([e[m] for m in mods])), root, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(fusion({m: v[0] for m, v in e.items()})), root[0], rtol=1e-4, atol=1e-5)


def test_hierarchical_fusion_masks():
    mods = ("image", "text", "audio")
    fusion = HierarchicalFusion(mods, 4, rngs=nnx.Rngs(0))
    rng = np.random.default_rng(1)
    e = {m: jnp.asarray(rng.normal(size=(3, 4)), jnp.float32) for m in mods}
    mask = jnp.array([[True, False, True], [False, False, False], [False, False, True]])
    out = np.asarray(fusion(e, mask))
    assert (out[1] == 0).all()  # nothing present: zeros
    changed = dict(e, text=e["text"] + 100.0)
    np.testing.assert_array_equal(np.asarray(fusion(changed, mask))[[0, 2]], out[[0, 2]])
    nodes = fusion.nodes(e, mask)
    assert (np.asarray(nodes["(image+text)"])[2] == 0).all()  # neither image nor text in row 2
    assert (np.asarray(nodes["((image+text)+audio)"])[2] != 0).any()


@pytest.mark.parametrize(
    ("mods", "tree"),
    [("abcd", (("a", "b"), ("c", "d"))), ("abcde", ((("a", "b"), ("c", "d")), "e")), ("ab", ("a", "b"))],
)
def test_default_tree(mods, tree):
    assert default_tree(list(mods)) == tree


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"modalities": ["image"]}, "modalities"),
        ({"modalities": ["a", "b"], "tree": ("a", "a")}, "tree"),
        ({"modalities": ["a", "b", "c"], "tree": ("a", "b")}, "tree"),
        ({"modalities": ["a", "b"], "tree": ("a",)}, "tree"),
    ],
)
def test_hierarchical_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        HierarchicalFusion(embed_dim=4, rngs=nnx.Rngs(0), **kwargs)


def test_shape_errors_name_the_input():
    att = CrossModalAttention(4, 6, num_heads=2, rngs=nnx.Rngs(0))
    with pytest.raises(DataError, match="feature sizes"):
        att(jnp.ones((2, 4)), jnp.ones((2, 4)))
    with pytest.raises(DataError, match="context_mask"):
        att(jnp.ones((2, 3, 4)), jnp.ones((2, 5, 6)), context_mask=jnp.ones((2, 4), bool))
    with pytest.raises(ConfigError, match="num_heads"):
        CrossModalAttention(6, num_heads=4, rngs=nnx.Rngs(0))
    fusion = HierarchicalFusion(["a", "b"], 4, rngs=nnx.Rngs(0))
    with pytest.raises(DataError, match="'b'"):
        fusion({"a": jnp.ones((2, 4))})
    with pytest.raises(DataError, match="mask"):
        fusion({"a": jnp.ones((2, 4)), "b": jnp.ones((2, 4))}, jnp.ones((2, 3), bool))


def _numpy_consistency(embs, mask, metric):
    total, count = 0.0, 0
    for i, j in itertools.combinations(range(len(embs)), 2):
        a, b = embs[i], embs[j]
        if metric == "cosine":
            d = 1 - np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
        else:
            d = np.mean((a - b) ** 2, -1)
        w = mask[:, i] & mask[:, j]
        total += d[w].sum()
        count += w.sum()
    return total / max(count, 1)


@pytest.mark.parametrize("metric", ["cosine", "mse"])
def test_consistency_loss_matches_numpy(metric):
    rng = np.random.default_rng(0)
    embs = [rng.normal(size=(6, 5)) for _ in range(3)]
    mask = rng.uniform(size=(6, 3)) < 0.7
    got = consistency_loss(*[jnp.asarray(e, jnp.float32) for e in embs], mask=mask, metric=metric)
    np.testing.assert_allclose(float(got), _numpy_consistency(embs, mask, metric), rtol=1e-5)
    full = consistency_loss({"a": embs[0], "b": embs[1], "c": embs[2]}, metric=metric)
    np.testing.assert_allclose(float(full), _numpy_consistency(embs, np.ones((6, 3), bool), metric), rtol=1e-5)


def test_consistency_loss_zero_for_identical_and_masked_values_ignored():
    e = jnp.asarray(np.random.default_rng(0).normal(size=(4, 8)), jnp.float32)
    assert float(consistency_loss(e, e, e)) == pytest.approx(0.0, abs=1e-6)
    assert float(consistency_loss(e, e, metric="mse")) == 0.0
    mask = jnp.array([[1, 1], [1, 0], [1, 1], [0, 1]], bool)
    other = e.at[1].set(50.0).at[3].set(-7.0)
    assert float(consistency_loss(e, other, mask=mask)) == pytest.approx(0.0, abs=1e-6)
    assert float(consistency_loss(e, -e, mask=jnp.zeros((4, 2), bool))) == 0.0  # nothing to compare
    grad = jax.grad(lambda x: consistency_loss(x, e + 1.0, mask=mask))(e)
    assert (np.asarray(grad)[[1, 3]] == 0).all()


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((np.ones((2, 3)),), {}, DataError, "at least two"),
        ((np.ones((2, 3)), np.ones((2, 4))), {}, DataError, "shapes"),
        ((np.ones((2, 3)), np.ones((2, 3))), {"metric": "l1"}, ConfigError, "metric"),
        ((np.ones((2, 3)), np.ones((2, 3))), {"mask": np.ones((2, 3), bool)}, DataError, "mask"),
    ],
)
def test_consistency_loss_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        consistency_loss(*args, **kwargs)


def test_hierarchical_fusion_with_own_sizes_group_and_final_widths():
    sizes = {"image": 5, "text": 3, "audio": 7}
    fusion = HierarchicalFusion(list(sizes), sizes, group_dim=6, output_dim=4, rngs=nnx.Rngs(0))
    assert fusion.widths == {**sizes, "(image+text)": 6, "((image+text)+audio)": 4}
    assert [(layer.in_features, layer.out_features) for layer in fusion.layers] == [(8, 6), (13, 4)]
    rng = np.random.default_rng(2)
    e = {m: rng.normal(size=(3, d)) for m, d in sizes.items()}
    w = [(np.asarray(x.kernel[...], np.float64), np.asarray(x.bias[...], np.float64)) for x in fusion.layers]
    pair = _gelu(np.concatenate([e["image"], e["text"]], -1) @ w[0][0] + w[0][1])
    root = _gelu(np.concatenate([pair, e["audio"]], -1) @ w[1][0] + w[1][1])
    got = fusion({m: jnp.asarray(v, jnp.float32) for m, v in e.items()})
    assert got.shape == (3, 4) and fusion.embed_dim == 4
    np.testing.assert_allclose(np.asarray(got), root, rtol=1e-4, atol=1e-5)
    mask = jnp.array([[True, True, True], [False, False, True], [True, False, False]])
    nodes = fusion.nodes({m: jnp.asarray(v, jnp.float32) for m, v in e.items()}, mask)
    assert nodes["(image+text)"].shape == (3, 6) and (np.asarray(nodes["(image+text)"])[1] == 0).all()
    # four modalities: one inner node sized on its own, the others at the default (the largest input)
    four = HierarchicalFusion(list("abcd"), {"a": 2, "b": 3, "c": 4, "d": 9}, group_dim={"(c+d)": 5}, rngs=nnx.Rngs(0))
    assert four.widths["(a+b)"] == 9 and four.widths["(c+d)"] == 5 and four.output_dim == 9
    assert [(layer.in_features, layer.out_features) for layer in four.layers] == [(5, 9), (13, 5), (14, 9)]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"embed_dim": {"a": 2}}, ConfigError, r"embed_dim: got sizes for \['a'\], expected one for each"),
        ({"embed_dim": {"a": 2, "b": 0}}, ConfigError, r"embed_dim\['b'\]: got 0"),
        ({"embed_dim": 4, "group_dim": {"(a+b)": 3}}, ConfigError, r"group_dim: got widths for \['\(a\+b\)'\].*root"),
        ({"embed_dim": 4, "group_dim": 0}, ConfigError, r"group_dim: got 0"),
        ({"embed_dim": 4, "output_dim": -1}, ConfigError, r"output_dim: got -1"),
    ],
)
def test_hierarchical_width_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        HierarchicalFusion(["a", "b"], rngs=nnx.Rngs(0), **kwargs)


def test_hierarchical_inputs_must_have_their_own_size():
    fusion = HierarchicalFusion(["a", "b"], {"a": 2, "b": 3}, rngs=nnx.Rngs(0))
    with pytest.raises(DataError, match=r"expected \{'a': '\(B, 2\)', 'b': '\(B, 3\)'\}"):
        fusion({"a": jnp.ones((2, 3)), "b": jnp.ones((2, 3))})
    with pytest.raises(DataError, match="with one B"):
        fusion({"a": jnp.ones((2, 2)), "b": jnp.ones((3, 3))})


def test_model_with_hierarchical_fusion_and_configured_widths():
    from modalax_multimodal import MultiModalConfig, MultiModalModel

    cfg = MultiModalConfig(
        modalities=("image", "text", "audio"),
        image_shape=(8, 8, 3),
        text_sequence_length=6,
        audio_duration=0.032,
        embed_dim=8,
        num_heads=2,
        fusion="hierarchical",
        group_dim=12,
        fused_dim=5,
    )
    model = MultiModalModel(cfg, rngs=nnx.Rngs(0), hidden_dim=8)
    assert model.fusion.widths["(image+text)"] == 12 and model.fusion.output_dim == 5
    rng = np.random.default_rng(0)
    batch = {
        "image": jnp.asarray(rng.random((3, 8, 8, 3)), jnp.float32),
        "text": jnp.asarray(rng.integers(4, 100, (3, 6)), jnp.int32),
        "audio": jnp.asarray(rng.normal(size=(3, 512)), jnp.float32),
    }
    out = model(batch)
    assert out["fused"].shape == (3, 5)
    np.testing.assert_allclose(out["fused"], model.fusion([out["embeddings"][m] for m in cfg.modalities]), rtol=1e-6)
