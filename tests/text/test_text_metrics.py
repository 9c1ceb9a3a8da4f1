"""Text metrics against references: sacrebleu's corpus BLEU, a plain LCS, hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import sacrebleu

from modalax import ConfigError, DataError
from modalax_text import TextEvaluationSuite, text_config
from modalax_text.metrics import corpus_bleu, distinct_n, perplexity, repetition_rate, rouge_l


def random_corpus(rng: np.random.Generator, n: int, vocab: int, max_len: int) -> list[list[int]]:
    return [rng.integers(4, vocab, rng.integers(0, max_len)).tolist() for _ in range(n)]


def as_strings(seqs: list[list[int]]) -> list[str]:
    return [" ".join(f"w{t}" for t in s) for s in seqs]


def padded(seqs: list[list[int]], length: int) -> np.ndarray:
    out = np.zeros((len(seqs), length), np.int32)
    for i, s in enumerate(seqs):
        row = [2, *s, 3][:length]
        out[i, : len(row)] = row
    return out


@pytest.mark.parametrize("smooth", ["exp", "none", "floor", "add-k"])
def test_bleu_equals_sacrebleu_on_the_same_tokens(smooth):
    rng = np.random.default_rng(0)
    for _ in range(15):
        n, vocab, refs = int(rng.integers(1, 30)), int(rng.integers(5, 25)), int(rng.integers(1, 4))
        hyp = random_corpus(rng, n, vocab, 14)
        ref_streams = [random_corpus(rng, n, vocab, 14) for _ in range(refs)]
        expected = sacrebleu.corpus_bleu(
            as_strings(hyp), [as_strings(r) for r in ref_streams], tokenize="none", smooth_method=smooth
        )
        got = corpus_bleu(hyp, ref_streams, smooth_method=smooth)
        assert got.score == pytest.approx(expected.score, abs=1e-6)
        if smooth != "add-k":  # sacrebleu reports add-k counts after adding k; ours stay raw
            assert list(got.counts) == expected.counts and list(got.totals) == expected.totals
        assert got.sys_len == expected.sys_len and got.ref_len == expected.ref_len
        strings = corpus_bleu(as_strings(hyp), [as_strings(r) for r in ref_streams], smooth_method=smooth)
        assert strings.score == pytest.approx(expected.score, abs=1e-6)


def test_bleu_on_padded_token_arrays_strips_specials():
    rng = np.random.default_rng(1)
    hyp, ref = random_corpus(rng, 40, 12, 10), random_corpus(rng, 40, 12, 10)
    expected = sacrebleu.corpus_bleu(as_strings(hyp), [as_strings(ref)], tokenize="none").score
    assert corpus_bleu(padded(hyp, 16), padded(ref, 16)).score == pytest.approx(expected, abs=1e-6)
    three_d = np.stack([padded(ref, 16), padded(hyp, 16)])
    multi = sacrebleu.corpus_bleu(as_strings(hyp), [as_strings(ref), as_strings(hyp)], tokenize="none").score
    assert corpus_bleu(padded(hyp, 16), three_d).score == pytest.approx(multi, abs=1e-6) == 100.0
    # a long vocabulary takes the np.unique path for 4-grams
    big = [[t * 100_000 for t in s] for s in hyp]
    big_ref = [[t * 100_000 for t in s] for s in ref]
    assert corpus_bleu(big, [big_ref]).score == pytest.approx(expected, abs=1e-6)


def test_bleu_edge_cases():
    assert corpus_bleu(["a b c d"], ["a b c d"]).score == pytest.approx(100.0)
    assert corpus_bleu(["x y"], ["a b c d"]).score == 0.0
    assert corpus_bleu([""], ["a b"]).score == 0.0
    with pytest.raises(DataError, match=r"references\[0\]: got 1 sequences, expected 2"):
        corpus_bleu(["a", "b"], ["a"])
    with pytest.raises(ConfigError, match=r"smooth_method: got 'lin'"):
        corpus_bleu(["a"], ["a"], smooth_method="lin")
    with pytest.raises(DataError, match="both token ids and strings"):
        corpus_bleu([[4, 5]], ["a b"])


def lcs_reference(a: list[int], b: list[int]) -> int:
    dp = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a)):
        for j in range(len(b)):
            dp[i + 1][j + 1] = dp[i][j] + 1 if a[i] == b[j] else max(dp[i][j + 1], dp[i + 1][j])
    return dp[-1][-1]


def test_rouge_l_against_a_plain_dynamic_programme():
    rng = np.random.default_rng(2)
    hyp, ref, ref2 = (random_corpus(rng, 60, 8, 12) for _ in range(3))

    def f1(h, r):
        lcs = lcs_reference(h, r)
        return 0.0 if lcs == 0 else 2 * (lcs / len(h)) * (lcs / len(r)) / (lcs / len(h) + lcs / len(r))

    expected = np.mean([f1(h, r) for h, r in zip(hyp, ref, strict=True)])
    assert rouge_l(hyp, ref) == pytest.approx(expected, abs=1e-12)
    assert rouge_l(padded(hyp, 16), padded(ref, 16)) == pytest.approx(expected, abs=1e-12)
    best = np.mean([max(f1(h, r), f1(h, q)) for h, r, q in zip(hyp, ref, ref2, strict=True)])
    assert rouge_l(hyp, [ref, ref2]) == pytest.approx(best, abs=1e-12)
    assert rouge_l(["the cat sat"], ["the cat sat"]) == 1.0


def test_distinct_and_repetition():
    seqs = [[5, 5, 6, 7], [5, 6, 8]]
    assert distinct_n(seqs, 1) == pytest.approx(4 / 7)  # {5,6,7,8} of 7 unigrams
    assert distinct_n(seqs, 2) == pytest.approx(4 / 5)  # (5,5),(5,6),(6,7),(6,8) of 5 bigrams
    assert repetition_rate(seqs) == pytest.approx(1 / 7)  # the second 5 of the first sequence
    assert distinct_n(["a a a"], 2) == pytest.approx(0.5)
    assert distinct_n([[]], 1) == 0.0 and repetition_rate([[]]) == 0.0


def test_perplexity_ignores_padding():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(3, 5, 7))
    targets = np.array([[4, 5, 6, 0, 0], [4, 4, 0, 0, 0], [6, 5, 4, 5, 6]])
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    mask = targets != 0
    expected = np.exp(-picked[mask].mean())
    assert perplexity(logp, targets) == pytest.approx(expected, rel=1e-12)
    assert perplexity(logits, targets, from_logits=True) == pytest.approx(expected, rel=1e-12)
    assert perplexity(picked, targets) == pytest.approx(expected, rel=1e-12)
    changed = logp.copy()
    changed[0, 3:] = -50.0  # padded positions do not count
    assert perplexity(changed, targets) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(DataError, match="every position is padding"):
        perplexity(picked, np.zeros_like(targets))


def test_evaluation_suite_reports_every_metric():
    suite = TextEvaluationSuite(text_config(max_length=8))
    generated = np.array([[2, 5, 6, 7, 3, 0, 0, 0], [2, 5, 5, 3, 0, 0, 0, 0]])
    reference = np.array([[2, 5, 6, 8, 3, 0, 0, 0], [2, 5, 5, 3, 0, 0, 0, 0]])
    logp = np.log(np.full((2, 8, 10), 0.1))
    out = suite.evaluate_batch(generated, reference, log_probs=logp, targets=generated)
    assert set(out) == {
        "distinct_1",
        "distinct_2",
        "repetition_rate",
        "mean_length",
        "bleu",
        "rouge_l",
        "perplexity",
        "vocabulary_coverage",
        "unk_rate",
    }
    assert out["mean_length"] == 2.5 and out["perplexity"] == pytest.approx(10.0)
    assert out["vocabulary_coverage"] == pytest.approx(3 / (10000 - 4)) and out["unk_rate"] == 0.0
    assert out["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(["w5 w6 w7", "w5 w5"], [["w5 w6 w8", "w5 w5"]], tokenize="none").score, abs=1e-6
    )
    assert out["rouge_l"] == pytest.approx((2 / 3 + 1) / 2)
    assert suite.compute_quality_metrics(["a b", "a c"])["distinct_1"] == pytest.approx(3 / 4)
