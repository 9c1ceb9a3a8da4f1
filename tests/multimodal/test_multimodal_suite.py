"""MultiModalEvaluationSuite.evaluate: every number equals its direct computation."""

from __future__ import annotations

import numpy as np
import pytest
from flax import nnx

from modalax import DataError
from modalax_audio.evaluation import log_spectral_distance
from modalax_image.evaluation import psnr, ssim
from modalax_multimodal import MultiModalEvaluationSuite, create_synthetic_multi_modal_dataset
from modalax_multimodal.evaluation import measure_alignment, retrieval_recall
from modalax_text.evaluation import TextEvaluationSuite


def _embeddings(n: int = 40, d: int = 6) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(n, d))
    return {m: z + s * rng.normal(size=(n, d)) for m, s in (("image", 0.3), ("text", 0.8), ("audio", 2.0))}


def test_retrieval_every_direction_and_consistency_equal_direct_computation():
    emb = _embeddings()
    mask = np.random.default_rng(1).uniform(size=(40, 3)) < 0.8
    out = MultiModalEvaluationSuite(ks=(1, 5)).evaluate(emb, mask=mask)
    assert all(isinstance(v, float) for v in out.values())
    names = list(emb)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if a == b:
                continue
            rows = mask[:, i] & mask[:, j]
            direct = retrieval_recall(emb[a][rows], emb[b][rows], ks=(1, 5))
            assert out[f"retrieval/{a}->{b}/recall@1"] == direct["recall@1"]
            assert out[f"retrieval/{a}->{b}/recall@5"] == direct["recall@5"]
            if i < j:
                ua = emb[a] / np.linalg.norm(emb[a], axis=1, keepdims=True)
                ub = emb[b] / np.linalg.norm(emb[b], axis=1, keepdims=True)
                cos = np.sum(ua * ub, axis=1)[rows].mean()
                assert out[f"consistency/{a}-{b}"] == pytest.approx(cos, rel=1e-9)
    # the loss is 1 - the mean similarity over every present (row, pair)
    sims, weights = [], []
    for i, j in ((0, 1), (0, 2), (1, 2)):
        rows = mask[:, i] & mask[:, j]
        sims.append(out[f"consistency/{names[i]}-{names[j]}"] * rows.sum())
        weights.append(rows.sum())
    assert out["consistency/loss"] == pytest.approx(1 - sum(sims) / sum(weights), abs=1e-5)
    # better aligned pairs are found more often
    assert out["retrieval/image->text/recall@1"] > out["retrieval/image->audio/recall@1"]


def test_quality_equals_the_modality_plugins_metrics():
    rng = np.random.default_rng(2)
    ref_img = rng.uniform(size=(3, 16, 16, 3)).astype(np.float32)
    gen_img = np.clip(ref_img + rng.normal(scale=0.05, size=ref_img.shape), 0, 1).astype(np.float32)
    ref_audio = rng.normal(size=(2, 2048)).astype(np.float32)
    gen_audio = (ref_audio + 0.1 * rng.normal(size=ref_audio.shape)).astype(np.float32)
    ref_text = rng.integers(4, 30, size=(4, 9))
    gen_text = ref_text.copy()
    gen_text[:, ::3] = 5
    log_probs = np.log(rng.uniform(0.05, 1.0, size=ref_text.shape))
    suite = MultiModalEvaluationSuite(audio_n_fft=512, audio_hop_length=128)
    out = suite.evaluate(
        generated={"image": gen_img, "audio": gen_audio, "text": gen_text},
        reference={"images": ref_img, "audio": ref_audio, "text_tokens": ref_text},
        log_probs=log_probs,
    )
    assert out["quality/image/psnr"] == pytest.approx(float(np.mean(psnr(gen_img, ref_img))), rel=1e-6)
    mse = np.mean((gen_img.astype(np.float64) - ref_img) ** 2, axis=(1, 2, 3))
    assert out["quality/image/psnr"] == pytest.approx(np.mean(10 * np.log10(1 / mse)), rel=1e-4)
    assert out["quality/image/ssim"] == pytest.approx(float(np.mean(ssim(gen_img, ref_img))), rel=1e-6)
    lsd = log_spectral_distance(gen_audio, ref_audio, n_fft=512, hop_length=128)
    assert out["quality/audio/log_spectral_distance"] == pytest.approx(float(np.mean(lsd)), rel=1e-6)
    assert out["quality/text/bleu"] == pytest.approx(TextEvaluationSuite().bleu(gen_text, ref_text).score)
    assert 0 < out["quality/text/bleu"] < 100
    assert out["quality/text/perplexity"] == pytest.approx(np.exp(-log_probs.mean()), rel=1e-9)
    assert not any(k.startswith(("retrieval/", "probe/")) for k in out)


def test_only_modalities_with_targets_are_scored():
    img = np.zeros((2, 16, 16, 3), np.float32)
    out = MultiModalEvaluationSuite().evaluate(generated={"image": img, "audio": np.zeros((2, 64))}, reference={})
    assert out == {}
    out = MultiModalEvaluationSuite().evaluate(generated={"image": img}, reference={"image": img + 0.5})
    assert set(out) == {"quality/image/psnr", "quality/image/ssim"}


def test_alignment_probe_equals_measure_alignment():
    ds = create_synthetic_multi_modal_dataset(
        ["image", "text"], num_samples=120, image_shape=(8, 8, 3), text_sequence_length=8, rngs=nnx.Rngs(0)
    )
    out = MultiModalEvaluationSuite(ks=(1, 5), probe_train=80, probe_test=40).evaluate(dataset=ds)
    direct = measure_alignment(ds, num_train=80, num_test=40, ks=(1, 5))
    for m in ("image", "text"):
        assert out[f"probe/r2/{m}"] == direct["r2"][m]
    assert out["probe/image->text/recall@5"] == direct["retrieval"]["image->text"]["recall@5"]
    assert out["probe/text->image/recall@1"] == direct["retrieval"]["text->image"]["recall@1"]
    assert out["probe/chance/recall@5"] == 5 / 40
    assert out["probe/r2/image"] > 0.1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "nothing to evaluate"),
        ({"embeddings": {"image": np.ones((4, 2))}}, "at least two"),
        ({"embeddings": {"a": np.ones((4, 2)), "b": np.ones((4, 2))}, "mask": np.ones((4, 3), bool)}, "mask"),
        ({"generated": {"audio": np.ones((2, 64))}, "reference": {"audio": np.ones((3, 64))}}, "audio"),
    ],
)
def test_bad_inputs_are_data_errors(kwargs, match):
    with pytest.raises(DataError, match=match):
        MultiModalEvaluationSuite().evaluate(**kwargs)
