"""Per-sequence text metrics (one score per hypothesis) and vocabulary coverage.

``sentence_bleu`` equals sacrebleu's ``sentence_bleu`` on the same tokens (exponential
smoothing and effective order by default, as sacrebleu); ``rouge_l_per_sequence`` and
``distinct_n_per_sequence`` are the per-sentence forms of the corpus metrics in ``metrics``.
Inputs are the same as there: id arrays, lists of id sequences or whitespace-split strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from modalax_text import metrics
from modalax_text.ids import check_token_ids
from modalax_text.params import text_params_from

__all__ = ["distinct_n_per_sequence", "rouge_l_per_sequence", "sentence_bleu", "unk_rate", "vocabulary_coverage"]


def sentence_bleu(
    hypotheses: Any,
    references: Sequence[Any],
    *,
    max_order: int = 4,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    effective_order: bool = True,
    params: Any = None,
) -> np.ndarray:
    """BLEU (0-100) of each hypothesis against its references: float64 ``(B,)``.

    The n-gram statistics are counted for the whole batch at once (``metrics.bleu_statistics``);
    only the final formula runs per sentence.
    """
    metrics._check_bleu_args(smooth_method, max_order)
    correct, total, hyp_len, ref_len = metrics.bleu_statistics(
        hypotheses, references, max_order=int(max_order), params=params
    )
    return np.array(
        [
            metrics.bleu_from_stats(
                correct[i].tolist(),
                total[i].tolist(),
                int(hyp_len[i]),
                int(ref_len[i]),
                smooth_method,
                smooth_value,
                int(max_order),
                effective_order,
            ).score
            for i in range(len(hyp_len))
        ],
        dtype=np.float64,
    )


def rouge_l_per_sequence(hypotheses: Any, references: Any, *, params: Any = None) -> np.ndarray:
    """ROUGE-L F1 of each hypothesis: float64 ``(B,)``."""
    return metrics.rouge_l_scores(hypotheses, references, params=params)


def distinct_n_per_sequence(sequences: Any, n: int, *, params: Any = None) -> np.ndarray:
    """Distinct n-grams over n-grams within each sequence: float64 ``(B,)`` (0 where a sequence has none)."""
    (corpus,) = metrics.to_corpora([sequences], params)
    seq, rows = corpus.ngrams(n)
    out = np.zeros(len(corpus))
    if len(rows) == 0:
        return out
    (codes,) = metrics._ngram_codes([rows])
    keys = np.unique(seq * (int(codes.max()) + 1) + codes)
    distinct = np.bincount(keys // (int(codes.max()) + 1), minlength=len(corpus))
    totals = np.bincount(seq, minlength=len(corpus))
    np.divide(distinct, totals, out=out, where=totals > 0)
    return out


def _regular_tokens(tokens: Any, params: Any) -> tuple[np.ndarray, Any]:
    p = text_params_from(params)
    (corpus,) = metrics.to_corpora([tokens], p)
    flat = check_token_ids(corpus.flat, p.vocab_size, "vocabulary_coverage: token ids")
    return flat, p


def vocabulary_coverage(tokens: Any, params: Any = None) -> float:
    """Fraction of the regular (non-special) ids of ``vocab_size`` that occur in ``tokens`` (ids only)."""
    flat, p = _regular_tokens(tokens, params)
    specials = np.array(list(p.special_ids.values()))
    used = np.unique(flat)
    return float(np.count_nonzero(~np.isin(used, specials)) / p.num_regular)


def unk_rate(tokens: Any, params: Any = None) -> float:
    """Fraction of the tokens (BOS, EOS and padding excluded) that are UNK (0 when there are none)."""
    flat, p = _regular_tokens(tokens, params)
    return float(np.count_nonzero(flat == p.unk_token_id) / len(flat)) if len(flat) else 0.0
