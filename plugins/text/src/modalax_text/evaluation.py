"""``TextEvaluationSuite``: the API reference's evaluation interface over ``modalax_text.metrics``."""

from __future__ import annotations

from typing import Any

import numpy as np

from modalax.plugin import BaseEvaluationSuite
from modalax_text import metrics, sequence_metrics
from modalax_text.params import text_params_from

__all__ = ["TextEvaluationSuite"]


class TextEvaluationSuite(BaseEvaluationSuite):
    """Text quality metrics of a batch (or corpus) of generated sequences.

    Sequences are token ids ``(B, L)`` (special tokens are stripped with the configured ids),
    lists of id sequences, or lists of strings (whitespace-split).  ``evaluate_batch`` returns
    ``distinct_1``, ``distinct_2``, ``repetition_rate`` and ``mean_length``; with a reference,
    ``bleu`` (0-100, equal to sacrebleu's corpus BLEU on the same tokens) and ``rouge_l`` (F1);
    with ``log_probs``, ``perplexity`` over non-padding targets; for token ids,
    ``vocabulary_coverage`` (fraction of the regular ids used) and ``unk_rate``.
    ``per_sequence`` gives one score per hypothesis (sentence BLEU, ROUGE-L, distinct-n).
    """

    def __init__(
        self, config: Any = None, *, max_order: int = 4, smooth_method: str = "exp", smooth_value: float | None = None
    ) -> None:
        self.params = text_params_from(config)
        self.max_order = max_order
        self.smooth_method = smooth_method
        self.smooth_value = smooth_value

    def bleu(self, generated: Any, reference: Any) -> metrics.BleuScore:
        """Corpus BLEU against one reference stream or a list of streams."""
        return metrics.corpus_bleu(
            generated,
            reference,
            max_order=self.max_order,
            smooth_method=self.smooth_method,
            smooth_value=self.smooth_value,
            params=self.params,
        )

    def rouge_l(self, generated: Any, reference: Any) -> float:
        """Mean ROUGE-L F1."""
        return metrics.rouge_l(generated, reference, params=self.params)

    def distinct(self, generated: Any, n: int) -> float:
        """Distinct-n of the corpus."""
        return metrics.distinct_n(generated, n, params=self.params)

    def repetition_rate(self, generated: Any) -> float:
        """Fraction of tokens repeating an earlier token of their sequence."""
        return metrics.repetition_rate(generated, params=self.params)

    def perplexity(self, log_probs: Any, targets: Any = None, **kwargs: Any) -> float:
        """Perplexity ignoring padding targets."""
        kwargs.setdefault("pad_token_id", self.params.pad_token_id)
        return metrics.perplexity(log_probs, targets, **kwargs)

    def sentence_bleu(self, generated: Any, reference: Any) -> np.ndarray:
        """BLEU of each hypothesis ``(B,)``, equal to sacrebleu's ``sentence_bleu`` (effective order)."""
        return sequence_metrics.sentence_bleu(
            generated,
            reference,
            max_order=self.max_order,
            smooth_method=self.smooth_method,
            smooth_value=self.smooth_value,
            params=self.params,
        )

    def per_sequence(self, generated: Any, reference: Any | None = None) -> dict[str, np.ndarray]:
        """One score per hypothesis: ``distinct_1``, ``distinct_2`` and, with a reference, ``bleu`` and ``rouge_l``."""
        out = {
            "distinct_1": sequence_metrics.distinct_n_per_sequence(generated, 1, params=self.params),
            "distinct_2": sequence_metrics.distinct_n_per_sequence(generated, 2, params=self.params),
        }
        if reference is not None:
            out["bleu"] = self.sentence_bleu(generated, reference)
            out["rouge_l"] = sequence_metrics.rouge_l_per_sequence(generated, reference, params=self.params)
        return out

    def vocabulary_coverage(self, generated: Any) -> float:
        """Fraction of the regular vocabulary ids that occur in ``generated`` (token ids)."""
        return sequence_metrics.vocabulary_coverage(generated, self.params)

    def evaluate_batch(
        self, generated: Any, reference: Any | None = None, *, log_probs: Any = None, targets: Any = None, **kwargs: Any
    ) -> dict[str, float]:
        """Every metric the inputs allow (see the class docstring)."""
        (corpus,) = metrics.to_corpora([generated], self.params)
        out = {
            "distinct_1": self.distinct(generated, 1),
            "distinct_2": self.distinct(generated, 2),
            "repetition_rate": self.repetition_rate(generated),
            "mean_length": float(np.mean(corpus.lengths)) if len(corpus) else 0.0,
        }
        if metrics._kind(generated) == "ids":
            out["vocabulary_coverage"] = self.vocabulary_coverage(generated)
            out["unk_rate"] = sequence_metrics.unk_rate(generated, self.params)
        if reference is not None:
            out["bleu"] = self.bleu(generated, reference).score
            out["rouge_l"] = self.rouge_l(generated, reference)
        if log_probs is not None:
            out["perplexity"] = self.perplexity(log_probs, targets, **kwargs)
        return out
