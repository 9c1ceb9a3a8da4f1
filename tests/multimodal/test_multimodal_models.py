"""Fusion modules, encoders, the contrastive loss and retrieval metrics, against numpy references."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from modalax import ConfigError, DataError
from modalax.plugin import pairing_of
from modalax_multimodal.config import MultiModalConfig
from modalax_multimodal.encoders import modality_inputs
from modalax_multimodal.evaluation import MultiModalEvaluationSuite, cross_modal_retrieval, retrieval_recall
from modalax_multimodal.fusion import EarlyFusion, LateFusion, MultiModalAttentionFusion, early_fusion, late_fusion
from modalax_multimodal.losses import contrastive_loss, symmetric_info_nce
from modalax_multimodal.models import MultiModalModel

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _full_precision_matmuls():
    # Models use the caller's default matmul precision (TF32 on recent GPUs); the comparisons
    # against float64 references here need full float32 products on every backend.
    with jax.default_matmul_precision("highest"):
        yield


def _emb(*shape: int) -> jnp.ndarray:
    return jnp.asarray(RNG.standard_normal(shape), jnp.float32)


def test_early_fusion_flattens_and_concatenates() -> None:
    image, text, audio = _emb(4, 4, 3), jnp.arange(5), _emb(7)
    fused = early_fusion(image, text, audio)
    np.testing.assert_allclose(fused, np.concatenate([np.ravel(image), np.arange(5), np.ravel(audio)]))
    batched = early_fusion(_emb(2, 4, 4, 3), _emb(2, 5), batched=True)
    assert batched.shape == (2, 53)
    module = EarlyFusion([48, 5], 8, rngs=nnx.Rngs(0))
    out = module(_emb(2, 4, 4, 3), _emb(2, 5))
    assert out.shape == (2, 8)
    with pytest.raises(DataError, match="batch sizes differ"):
        early_fusion(_emb(2, 3), _emb(3, 3), batched=True)


def test_late_fusion_strategies() -> None:
    a, b, c = _emb(3, 6), _emb(3, 6), _emb(3, 6)
    np.testing.assert_allclose(late_fusion([a, b, c], "concat"), np.concatenate([a, b, c], -1))
    np.testing.assert_allclose(late_fusion([a, b, c], "mean"), (a + b + c) / 3, rtol=1e-6)
    np.testing.assert_allclose(
        late_fusion([a, b, c], "weighted", [0.4, 0.4, 0.2]), 0.4 * a + 0.4 * b + 0.2 * c, rtol=1e-5
    )
    learnt = LateFusion(3, 6, "weighted")
    np.testing.assert_allclose(learnt.modality_weights(), [1 / 3] * 3, rtol=1e-6)
    assert LateFusion(3, 6, "concat").output_dim == 18
    with pytest.raises(ConfigError, match="late fusion strategy: got 'attention'"):
        late_fusion([a, b], "attention")
    with pytest.raises(ConfigError, match=r"weights: got shape \(2,\), expected \(3,\)"):
        late_fusion([a, b, c], "weighted", [0.5, 0.5])


def _mha_reference(fusion: MultiModalAttentionFusion, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain numpy multi-head attention over modality tokens, mean-pooled."""

    def lin(layer: nnx.Linear, x: np.ndarray) -> np.ndarray:
        return x @ np.asarray(layer.kernel[...]) + np.asarray(layer.bias[...])

    tokens = tokens + np.asarray(fusion.type_embed[...])
    m, d = tokens.shape
    h, dh = fusion.num_heads, d // fusion.num_heads
    q, k, v = (lin(p, tokens).reshape(m, h, dh) for p in (fusion.query_proj, fusion.key_proj, fusion.value_proj))
    weights = np.zeros((h, m, m))
    out = np.zeros((m, h, dh))
    for head in range(h):
        s = q[:, head] @ k[:, head].T / np.sqrt(dh)
        w = np.exp(s - s.max(-1, keepdims=True))
        weights[head] = w / w.sum(-1, keepdims=True)
        out[:, head] = weights[head] @ v[:, head]
    return lin(fusion.out_proj, out.reshape(m, d).mean(0)), weights


def test_attention_fusion_is_multi_head_attention() -> None:
    fusion = MultiModalAttentionFusion(16, num_heads=4, num_modalities=3, rngs=nnx.Rngs(1))
    embs = [_emb(2, 16) for _ in range(3)]
    fused = fusion(*embs)
    assert fused.shape == (2, 16)
    tokens = jnp.stack(embs, axis=-2)
    _, weights = fusion.attend(tokens)
    for i in range(2):
        ref, ref_w = _mha_reference(fusion, np.asarray(tokens[i], np.float64))
        np.testing.assert_allclose(fused[i], ref, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(weights[i], ref_w, rtol=1e-4, atol=1e-6)
    # heads attend differently, and one unbatched example gives the same answer as in a batch
    assert not np.allclose(weights[0, 0], weights[0, 1])
    np.testing.assert_allclose(fusion(*(e[0] for e in embs)), fused[0], rtol=1e-5, atol=1e-6)


def test_attention_fusion_mask_drops_a_modality() -> None:
    fusion = MultiModalAttentionFusion(8, num_heads=2, rngs=nnx.Rngs(2))
    a, b, c = _emb(8), _emb(8), _emb(8)
    mask = jnp.array([True, True, False])
    out1 = fusion(a, b, c, mask=mask)
    out2 = fusion(a, b, c * 100.0, mask=mask)
    np.testing.assert_allclose(out1, out2, rtol=1e-5, atol=1e-6)
    two = MultiModalAttentionFusion(8, num_heads=2, rngs=nnx.Rngs(2))
    np.testing.assert_allclose(two(a, b), out1, rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="expected a divisor of 10"):
        MultiModalAttentionFusion(10, num_heads=4, rngs=nnx.Rngs(0))


def _info_nce_reference(a: np.ndarray, b: np.ndarray, t: float) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    logits = a @ b.T / t

    def ce(lg: np.ndarray) -> float:
        lg = lg - lg.max(1, keepdims=True)
        return float(np.mean(np.log(np.exp(lg).sum(1)) - np.diag(lg)))

    return 0.5 * (ce(logits) + ce(logits.T))


def test_symmetric_info_nce_matches_reference() -> None:
    a, b = np.asarray(_emb(8, 5), np.float64), np.asarray(_emb(8, 5), np.float64)
    got = float(symmetric_info_nce(jnp.asarray(a), jnp.asarray(b), 0.2))
    assert got == pytest.approx(_info_nce_reference(a, b, 0.2), rel=1e-5)
    assert got == pytest.approx(float(symmetric_info_nce(jnp.asarray(b), jnp.asarray(a), 0.2)), rel=1e-6)
    # perfectly aligned pairs score far below chance (log 8), and three modalities average their pairs
    assert float(symmetric_info_nce(jnp.asarray(a), jnp.asarray(a), 0.05)) < 0.1 < np.log(8)
    c = _emb(8, 5)
    three = float(contrastive_loss(jnp.asarray(a), jnp.asarray(b), c, temperature=0.2))
    pairs = [(a, b), (a, c), (b, c)]
    assert three == pytest.approx(np.mean([_info_nce_reference(x, np.asarray(y), 0.2) for x, y in pairs]), rel=1e-5)
    assert float(contrastive_loss({"x": jnp.asarray(a), "y": jnp.asarray(b)}, temperature=0.2)) == pytest.approx(got)
    with pytest.raises(DataError, match="expected at least two"):
        contrastive_loss(jnp.asarray(a))


def test_retrieval_recall_counts_ranks() -> None:
    targets = np.eye(4)
    queries = np.array([[1, 0, 0, 0], [0.9, 0.8, 0, 0], [0.5, 0.4, 0.1, 0.6], [0, 0, 0.2, 1.0]])
    # ranks of the matching target: 0, 1 (target 0 wins), 3 (targets 0, 1, 3 win), 0
    assert retrieval_recall(queries, targets, ks=(1, 2, 4)) == {"recall@1": 0.5, "recall@2": 0.75, "recall@4": 1.0}
    out = cross_modal_retrieval({"a": targets, "b": targets, "c": queries})
    assert set(out) == {f"{x}->{y}" for x, y in itertools.permutations("abc", 2)}
    assert out["a->b"]["recall@1"] == 1.0
    flat = MultiModalEvaluationSuite(ks=(1,)).evaluate_batch({"a": targets, "b": targets})
    assert flat == {"a->b/recall@1": 1.0, "b->a/recall@1": 1.0}
    with pytest.raises(DataError, match="expected two equal"):
        retrieval_recall(np.eye(3), np.eye(4))


def test_encoders_read_every_plugins_keys() -> None:
    ours = {"image": _emb(2, 32, 32, 3), "text": jnp.arange(20).reshape(2, 10), "audio": _emb(2, 1024)}
    theirs = {"images": ours["image"], "text_tokens": ours["text"], "audio": ours["audio"][..., None]}
    a, b = modality_inputs(ours), modality_inputs(theirs)
    assert set(a) == set(b) == {"image", "text", "audio"}
    # each encoder is the modality's own, from its pairing (the encoders' own tests are the plugins')
    image_enc = pairing_of("image", {"shape": (32, 32, 3)}).encoder(8, rngs=nnx.Rngs(0))
    text_enc = pairing_of("text", {"vocab_size": 50, "sequence_length": 10}).encoder(8, rngs=nnx.Rngs(0))
    audio_enc = pairing_of("audio", {"sample_rate": 8000, "duration": 0.128}).encoder(8, rngs=nnx.Rngs(0))
    for enc, key in ((image_enc, "image"), (text_enc, "text"), (audio_enc, "audio")):
        out = enc(a[key])
        np.testing.assert_allclose(out, enc(b[key]), rtol=1e-6)
        np.testing.assert_allclose(enc(a[key][0]), out[0], rtol=1e-5, atol=1e-6)
        assert out.shape == (2, 8)
    with pytest.raises(DataError, match=r"batch has no 'audio' data"):
        modality_inputs({"image": ours["image"]}, ["image", "audio"])
    with pytest.raises(DataError, match=r"expected \(32, 32, 3\)"):
        image_enc(_emb(2, 16, 16, 3))


@pytest.mark.parametrize("fusion", ["early", "concat", "mean", "weighted", "attention"])
def test_multimodal_model_every_fusion(fusion: str) -> None:
    cfg = MultiModalConfig(embed_dim=8, num_heads=2, fusion=fusion, audio_duration=0.0625)
    model = MultiModalModel(cfg, rngs=nnx.Rngs(0), hidden_dim=16)
    batch = {
        "image": _emb(3, 32, 32, 3),
        "text": jnp.arange(150).reshape(3, 50) % 1000 + 4,
        "audio": _emb(3, 1000) * 0.1,
    }
    out = model(batch)
    assert {k: v.shape for k, v in out["embeddings"].items()} == {m: (3, 8) for m in ("image", "text", "audio")}
    assert out["fused"].shape == (3, 24 if fusion == "concat" else 8)
    np.testing.assert_allclose(jnp.linalg.norm(out["embeddings"]["text"], axis=-1), 1.0, rtol=1e-4)
    assert np.isfinite(float(model.loss_fn(batch, out)))
    grads = nnx.grad(lambda m: m.loss_fn(batch, m(batch)))(model)
    assert any(float(jnp.abs(g).sum()) > 0 for g in jax.tree.leaves(grads))
