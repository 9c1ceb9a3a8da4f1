"""Text metrics on whole corpora, vectorised with numpy: BLEU, ROUGE-L, distinct-n, repetition, perplexity.

Sequences may be given as token-id arrays ``(B, L)`` (padding and BOS dropped, reading stops
at EOS), lists of id sequences, or lists of strings (split on whitespace, like sacrebleu's
``tokenize="none"``).  Internally a corpus is a flat id array plus per-sequence lengths.

``corpus_bleu`` reproduces sacrebleu's corpus BLEU (clipped n-gram counts, closest
reference length, brevity penalty, the same smoothing methods) and its 0-100 scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modalax.plugin import ConfigError, DataError
from modalax_text.ids import check_token_ids
from modalax_text.params import TextParams, text_params_from

__all__ = [
    "BleuScore",
    "Corpus",
    "bleu_from_stats",
    "bleu_statistics",
    "corpus_bleu",
    "distinct_n",
    "perplexity",
    "repetition_rate",
    "rouge_l",
    "rouge_l_scores",
    "to_corpora",
]

SMOOTH_DEFAULTS: dict[str, float | None] = {"none": None, "floor": 0.1, "add-k": 1.0, "exp": None}


@dataclass(frozen=True)
class Corpus:
    """Sequences as one flat int64 id array and their lengths."""

    flat: np.ndarray
    lengths: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        """Offset of each sequence in ``flat``."""
        return np.cumsum(self.lengths) - self.lengths

    def __len__(self) -> int:
        return len(self.lengths)

    def padded(self, fill: int) -> np.ndarray:
        """``(B, max_len)`` with ``fill`` after each sequence."""
        n, width = len(self.lengths), int(self.lengths.max(initial=0))
        out = np.full((n, max(width, 1)), fill, np.int64)
        pos = np.arange(len(self.flat)) - np.repeat(self.starts, self.lengths)
        out[np.repeat(np.arange(n), self.lengths), pos] = self.flat
        return out

    def ngrams(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(sequence index, ``(count, n)`` id rows) of every n-gram."""
        pos = np.arange(len(self.flat)) - np.repeat(self.starts, self.lengths)
        at = np.flatnonzero(pos <= np.repeat(self.lengths, self.lengths) - n)
        seq = np.repeat(np.arange(len(self.lengths)), self.lengths)[at]
        return seq, self.flat[at[:, None] + np.arange(n)[None, :]]


def _strip_ids(arr: np.ndarray, p: TextParams) -> Corpus:
    check_token_ids(arr, None, "metrics: token ids")  # negative ids would collide in the n-gram codes
    if arr.shape[1] == 0:
        return Corpus(np.zeros(0, np.int64), np.zeros(arr.shape[0], np.int64))
    is_eos = arr == p.eos_token_id
    cut = np.where(is_eos.any(axis=1), is_eos.argmax(axis=1), arr.shape[1])
    keep = (np.arange(arr.shape[1])[None, :] < cut[:, None]) & (arr != p.pad_token_id) & (arr != p.bos_token_id)
    return Corpus(arr[keep].astype(np.int64), keep.sum(axis=1).astype(np.int64))


def _kind(x: Any) -> str:
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.ndarray | list | tuple):
        x = np.asarray(x)  # jax arrays
    if isinstance(x, np.ndarray) and x.dtype.kind in "iu":
        return "ids"
    if isinstance(x, np.ndarray) and x.dtype.kind in "UO":
        x = x.tolist()
    if isinstance(x, list | tuple) and all(isinstance(s, str) for s in x):
        return "text"
    if isinstance(x, list | tuple):
        return "ids"
    raise DataError(f"got {type(x).__name__}, expected token ids (B, L), a list of id sequences or a list of str")


def to_corpora(streams: Sequence[Any], params: Any = None) -> list[Corpus]:
    """Convert several streams of one kind (all ids or all text) into ``Corpus`` objects.

    Strings share one word-to-id mapping, so equal words get equal ids across streams.
    """
    p = text_params_from(params)
    kinds = {_kind(s) for s in streams}
    if len(kinds) > 1:
        raise DataError("got both token ids and strings; expected every stream of one kind")
    if kinds == {"text"}:
        vocab: dict[str, int] = {}
        out = []
        for stream in streams:
            words = [line.split() for line in (stream.tolist() if isinstance(stream, np.ndarray) else stream)]
            lengths = np.fromiter(map(len, words), np.int64, count=len(words))
            ids = [vocab.setdefault(w, len(vocab)) for line in words for w in line]
            out.append(Corpus(np.asarray(ids, np.int64), lengths))
        return out
    corpora = []
    for i, stream in enumerate(streams):
        arr = np.asarray(stream) if not isinstance(stream, list | tuple) else None
        if arr is not None and arr.ndim == 2:
            corpora.append(_strip_ids(arr, p))
            continue
        if arr is not None and arr.ndim == 1 and arr.dtype.kind in "iu":
            corpora.append(_strip_ids(arr[None], p))
            continue
        rows = [check_token_ids(np.asarray(r).reshape(-1), None, f"metrics: stream {i}") for r in stream]
        rows = [r.astype(np.int64) for r in rows]
        lengths = np.fromiter(map(len, rows), np.int64, count=len(rows))
        flat = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        corpora.append(_strip_ids(Corpus(flat, lengths).padded(p.pad_token_id), p))
    return corpora


def _ngram_codes(rows: list[np.ndarray]) -> list[np.ndarray]:
    """Dense int64 codes of n-gram rows, equal rows sharing a code across all inputs."""
    joined = np.concatenate(rows) if rows else np.zeros((0, 1), np.int64)
    if len(joined) == 0:
        return [np.zeros(0, np.int64) for _ in rows]
    n = joined.shape[1]
    base = int(joined.max()) + 1
    if base**n < 2**62:  # exact mixed-radix packing
        codes = joined @ (base ** np.arange(n - 1, -1, -1, dtype=np.int64))
    else:
        codes = np.unique(joined, axis=0, return_inverse=True)[1].reshape(-1)
    dense = np.unique(codes, return_inverse=True)[1].reshape(-1).astype(np.int64)
    return np.split(dense, np.cumsum([len(r) for r in rows])[:-1])


@dataclass(frozen=True)
class BleuScore:
    """Corpus BLEU (0-100, as sacrebleu) and its sufficient statistics."""

    score: float
    counts: tuple[int, ...]
    totals: tuple[int, ...]
    precisions: tuple[float, ...]
    bp: float
    sys_len: int
    ref_len: int


def _closest_ref_len(hyp_len: np.ndarray, ref_lens: np.ndarray) -> np.ndarray:
    """Per hypothesis, the reference length closest to it (ties: the shorter), as sacrebleu."""
    diff = np.abs(ref_lens - hyp_len[None, :])
    order = np.lexsort((ref_lens, diff), axis=0)[0]  # by diff, then by length
    return np.take_along_axis(ref_lens, order[None, :], axis=0)[0]


def bleu_from_stats(
    correct: list[float],
    total: list[float],
    sys_len: int,
    ref_len: int,
    smooth_method: str,
    smooth_value: float | None,
    max_order: int,
    effective_order: bool = False,
) -> BleuScore:
    """sacrebleu's ``BLEU.compute_bleu``; ``effective_order`` stops at the last order with n-grams."""
    counts, totals = tuple(int(c) for c in correct), tuple(int(t) for t in total)
    # The "none" and "exp" methods have no default value and never read it.
    value = (SMOOTH_DEFAULTS[smooth_method] or 0.0) if smooth_value is None else smooth_value
    bp = 1.0 if sys_len >= ref_len else (math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0)
    precisions = [0.0] * max_order
    if not any(correct):
        return BleuScore(0.0, counts, totals, tuple(precisions), bp, sys_len, ref_len)
    smooth_mteval = 1.0
    eff_order = max_order
    for n in range(1, max_order + 1):
        if smooth_method == "add-k" and n > 1:
            correct[n - 1] += value
            total[n - 1] += value
        if total[n - 1] == 0:
            break
        if effective_order:
            eff_order = n
        if correct[n - 1] == 0:
            if smooth_method == "exp":
                smooth_mteval *= 2
                precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1])
            elif smooth_method == "floor":
                precisions[n - 1] = 100.0 * value / total[n - 1]
        else:
            precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1]
    log_sum = sum(math.log(p) if p > 0 else -9999999999 for p in precisions[:eff_order])
    return BleuScore(bp * math.exp(log_sum / eff_order), counts, totals, tuple(precisions), bp, sys_len, ref_len)


def _check_bleu_args(smooth_method: str, max_order: Any) -> None:
    if smooth_method not in SMOOTH_DEFAULTS:
        raise ConfigError(f"bleu.smooth_method: got {smooth_method!r}, expected one of {list(SMOOTH_DEFAULTS)}")
    if isinstance(max_order, bool) or not isinstance(max_order, int | np.integer) or max_order < 1:
        raise ConfigError(f"bleu.max_order: got {max_order!r}, expected a positive int")


def bleu_statistics(
    hypotheses: Any, references: Sequence[Any], *, max_order: int = 4, params: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per hypothesis: clipped n-gram matches ``(B, max_order)``, n-gram totals ``(B, max_order)``,
    its length ``(B,)`` and its closest reference length ``(B,)`` (sacrebleu's statistics).
    """
    hyp, *refs = to_corpora([hypotheses, *_streams(references)], params)
    if not refs:
        raise DataError("bleu.references: got no reference stream, expected at least one")
    for i, r in enumerate(refs):
        if len(r) != len(hyp):
            raise DataError(f"bleu.references[{i}]: got {len(r)} sequences, expected {len(hyp)} (one per hypothesis)")
    b = len(hyp)
    correct, total = np.zeros((b, max_order)), np.zeros((b, max_order))
    for n in range(1, max_order + 1):
        grams = [c.ngrams(n) for c in (hyp, *refs)]
        codes = _ngram_codes([rows for _, rows in grams])
        width = int(max((c.max(initial=-1) for c in codes), default=-1)) + 1
        keys = [seq * width + code for (seq, _), code in zip(grams, codes, strict=True)]
        hyp_keys, hyp_counts = np.unique(keys[0], return_counts=True)
        ref_max = np.zeros(len(hyp_keys), np.int64)
        for ref_keys in keys[1:]:
            uniq, cnt = np.unique(ref_keys, return_counts=True)
            at = np.minimum(np.searchsorted(uniq, hyp_keys), max(len(uniq) - 1, 0))
            found = uniq[at] == hyp_keys if len(uniq) else np.zeros(len(hyp_keys), bool)
            ref_max = np.maximum(ref_max, np.where(found, cnt[at] if len(uniq) else 0, 0))
        seq_of_key = hyp_keys // max(width, 1)
        correct[:, n - 1] = np.bincount(seq_of_key, np.minimum(hyp_counts, ref_max), minlength=b)
        total[:, n - 1] = np.bincount(grams[0][0], minlength=b)
    ref_len = _closest_ref_len(hyp.lengths, np.stack([r.lengths for r in refs]))
    return correct, total, hyp.lengths, ref_len


def corpus_bleu(
    hypotheses: Any,
    references: Sequence[Any],
    *,
    max_order: int = 4,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    params: Any = None,
) -> BleuScore:
    """Corpus BLEU of ``hypotheses`` against ``references``: one stream (as long as ``hypotheses``)
    or a list of streams as in sacrebleu (``[refs_a, refs_b]``); a 3-D id array is R streams.
    """
    _check_bleu_args(smooth_method, max_order)
    correct, total, hyp_len, ref_len = bleu_statistics(hypotheses, references, max_order=int(max_order), params=params)
    return bleu_from_stats(
        correct.sum(axis=0).tolist(),
        total.sum(axis=0).tolist(),
        int(hyp_len.sum()),
        int(ref_len.sum()),
        smooth_method,
        smooth_value,
        int(max_order),
    )


def _lcs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """LCS length of each row pair of padded ``a`` (B, La) and ``b`` (B, Lb); pads must never match."""
    prev = np.zeros((a.shape[0], b.shape[1] + 1), np.int64)
    for i in range(a.shape[1]):
        match = a[:, i : i + 1] == b
        cand = np.maximum(prev[:, 1:], np.where(match, prev[:, :-1] + 1, 0))
        prev[:, 1:] = np.maximum.accumulate(cand, axis=1)  # dp[i][j] = max(dp[i][j-1], cand[j])
    return prev[:, -1]


def rouge_l(hypotheses: Any, references: Any, *, params: Any = None) -> float:
    """Mean ROUGE-L F1 (LCS-based; with several reference streams, the best per hypothesis)."""
    scores = rouge_l_scores(hypotheses, references, params=params)
    return float(scores.mean()) if len(scores) else 0.0


def rouge_l_scores(hypotheses: Any, references: Any, *, params: Any = None) -> np.ndarray:
    """ROUGE-L F1 of each hypothesis ``(B,)`` (the best over reference streams)."""
    hyp, *refs = to_corpora([hypotheses, *_streams(references)], params)
    best = np.zeros(len(hyp))
    if len(hyp) == 0:
        return best
    a = hyp.padded(-1)
    for ref in refs:
        if len(ref) != len(hyp):
            raise DataError(f"rouge_l: got {len(ref)} references, expected {len(hyp)}")
        lcs = _lcs(a, ref.padded(-2)).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            prec, rec = lcs / hyp.lengths, lcs / ref.lengths
            f1 = np.where(lcs > 0, 2 * prec * rec / (prec + rec), 0.0)
        best = np.maximum(best, f1)
    return best


def _is_leaf(x: Any) -> bool:
    """One sequence: a string, a 1-D id array or a list of ints."""
    if isinstance(x, str):
        return True
    if hasattr(x, "ndim"):
        return x.ndim == 1
    return isinstance(x, list | tuple) and all(isinstance(t, int | np.integer) for t in x)


def _is_stream(x: Any) -> bool:
    if hasattr(x, "ndim"):
        return x.ndim == 2
    return isinstance(x, list | tuple) and all(_is_leaf(s) for s in x)


def _streams(references: Any) -> list[Any]:
    """``references`` as a list of streams: one stream, a list of streams, or a 3-D id array."""
    if hasattr(references, "ndim") and references.ndim == 3:
        return list(np.asarray(references))
    if _is_stream(references):
        return [references]
    if isinstance(references, list | tuple) and references and all(_is_stream(r) for r in references):
        return list(references)
    raise DataError(
        f"references: got {type(references).__name__}, expected one stream (a list of str, id sequences or a "
        "(B, L) array) or a list of such streams"
    )


def distinct_n(sequences: Any, n: int, *, params: Any = None) -> float:
    """Distinct n-grams over all n-grams of the corpus (0 when there are none)."""
    (corpus,) = to_corpora([sequences], params)
    _, rows = corpus.ngrams(n)
    if len(rows) == 0:
        return 0.0
    (codes,) = _ngram_codes([rows])
    return float(len(np.unique(codes)) / len(codes))


def repetition_rate(sequences: Any, *, params: Any = None) -> float:
    """Fraction of tokens that repeat an earlier token of the same sequence."""
    (corpus,) = to_corpora([sequences], params)
    if len(corpus.flat) == 0:
        return 0.0
    seq = np.repeat(np.arange(len(corpus)), corpus.lengths)
    distinct = len(np.unique(seq * (int(corpus.flat.max()) + 1) + corpus.flat))
    return float(1.0 - distinct / len(corpus.flat))


def perplexity(
    log_probs: Any, targets: Any = None, *, mask: Any = None, pad_token_id: int | None = 0, from_logits: bool = False
) -> float:
    """``exp`` of the mean negative log-probability over non-padding positions.

    ``log_probs`` is ``(B, L)`` (log-probabilities of the targets) or ``(B, L, V)``
    (distributions, gathered at ``targets``; ``from_logits`` applies a log-softmax first).
    Positions where ``targets == pad_token_id`` (or ``mask`` is False) are ignored.
    """
    lp = np.asarray(log_probs, np.float64)
    tg = None if targets is None else np.asarray(targets)
    if lp.ndim == 3:
        if tg is None:
            raise DataError("perplexity: log_probs of shape (B, L, V) need targets (B, L)")
        if from_logits:
            top = lp.max(axis=-1, keepdims=True)
            lp = lp - top - np.log(np.exp(lp - top).sum(axis=-1, keepdims=True))
        lp = np.take_along_axis(lp, tg[..., None].astype(np.int64), axis=-1)[..., 0]
    if mask is None:
        mask = (tg != pad_token_id) if (tg is not None and pad_token_id is not None) else np.ones(lp.shape, bool)
    m = np.asarray(mask, bool)
    if m.shape != lp.shape:
        raise DataError(f"perplexity: mask shape {m.shape} differs from log-probabilities {lp.shape}")
    if not m.any():
        raise DataError("perplexity: every position is padding; expected at least one target")
    return float(np.exp(-lp[m].sum() / m.sum()))
