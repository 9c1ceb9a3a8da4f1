"""Per-sequence metrics against sacrebleu and by hand; vocabulary coverage and UNK rate."""

from __future__ import annotations

import numpy as np
import pytest
import sacrebleu

from modalax_text import (
    TextEvaluationSuite,
    distinct_n_per_sequence,
    rouge_l_per_sequence,
    sentence_bleu,
    text_config,
    unk_rate,
    vocabulary_coverage,
)

HYP = ["the cat sat on the mat", "a dog ran in the park", "hello", "the the the", "x y z w v", "one two"]
REF = ["the cat sat on a mat", "the dog ran in the park", "hello there", "the cat", "x y z w v", "three four"]


@pytest.mark.parametrize("smooth", ["exp", "floor", "add-k", "none"])
def test_sentence_bleu_equals_sacrebleu(smooth):
    ours = sentence_bleu(HYP, REF, smooth_method=smooth)
    theirs = [sacrebleu.sentence_bleu(h, [r], smooth_method=smooth, tokenize="none").score for h, r in zip(HYP, REF)]
    np.testing.assert_allclose(ours, theirs, atol=1e-9)
    two = sentence_bleu(HYP, [REF, HYP[::-1]])
    theirs_two = [sacrebleu.sentence_bleu(h, [r, s], tokenize="none").score for h, r, s in zip(HYP, REF, HYP[::-1])]
    np.testing.assert_allclose(two, theirs_two, atol=1e-9)


def test_rouge_and_distinct_per_sequence():
    np.testing.assert_allclose(rouge_l_per_sequence(["a b c d", "x"], ["a c d", "y"]), [2 * 0.75 * 1 / 1.75, 0.0])
    np.testing.assert_allclose(distinct_n_per_sequence(["a a b", "c", "a b a b"], 1), [2 / 3, 1.0, 0.5])
    np.testing.assert_allclose(distinct_n_per_sequence(["a a b", "c", "a b a b"], 2), [1.0, 0.0, 2 / 3])
    ids = np.array([[2, 5, 5, 6, 3, 0], [2, 7, 3, 0, 0, 0]])
    np.testing.assert_allclose(distinct_n_per_sequence(ids, 1), [2 / 3, 1.0])


def test_coverage_and_unk_rate():
    params = text_config(vocab_size=14, max_length=6)
    ids = np.array([[2, 5, 5, 6, 3, 0], [2, 1, 7, 3, 0, 0]])
    assert vocabulary_coverage(ids, params) == pytest.approx(3 / 10)  # ids 5, 6, 7 of the 10 regular ids
    assert unk_rate(ids, params) == pytest.approx(1 / 5)
    suite = TextEvaluationSuite(params)
    per = suite.per_sequence(HYP[:2], REF[:2])
    assert set(per) == {"distinct_1", "distinct_2", "bleu", "rouge_l"} and per["bleu"].shape == (2,)
    assert per["bleu"][0] == pytest.approx(sacrebleu.sentence_bleu(HYP[0], [REF[0]], tokenize="none").score)
