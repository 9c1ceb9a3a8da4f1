"""Evaluation: cross-modal retrieval recall@k and a linear-probe measure of alignment.

``measure_alignment`` fits a ridge probe from each modality's fixed features (its pairing's
``features``) to the shared latent on one block of records and scores it on the next: its
R² says how much of the latent a modality carries (0 = none, 1 = all), and retrieval between
modalities through the probes' predictions says whether matching pairs can be found.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from modalax.plugin import BaseEvaluationSuite, ConfigError, DataError, ModalityPairing
from modalax_multimodal.config import MultiModalConfig
from modalax_multimodal.features import modality_features
from modalax_multimodal.quality import cross_modal_consistency, modality_quality, quality_options

__all__ = [
    "LinearProbe",
    "MultiModalEvaluationSuite",
    "cross_modal_retrieval",
    "dataset_pairings",
    "fit_linear_probe",
    "measure_alignment",
    "r2_score",
    "retrieval_ranks",
    "retrieval_recall",
]

DEFAULT_KS = (1, 5, 10)
_RIDGE_GRID = (1e-2, 1e-1, 1.0, 10.0, 1e2, 1e3, 1e4, 1e5)


@jax.jit
def retrieval_ranks(queries: jax.Array, targets: jax.Array) -> jax.Array:
    """Rank (0 = best) of target ``i`` among all targets for query ``i``, by cosine similarity."""
    q = queries / (jnp.linalg.norm(queries, axis=-1, keepdims=True) + 1e-12)
    t = targets / (jnp.linalg.norm(targets, axis=-1, keepdims=True) + 1e-12)
    sim = jnp.matmul(q, t.T, precision=jax.lax.Precision.HIGHEST)
    return jnp.sum(sim > jnp.diagonal(sim)[:, None], axis=-1)


def retrieval_recall(queries: Any, targets: Any, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """``{"recall@k": fraction of queries whose matching target (same row) is in the top k}``.

    Chance level is ``k / N`` for ``N`` candidates.
    """
    q, t = jnp.asarray(queries), jnp.asarray(targets)
    if q.ndim != 2 or t.shape != q.shape:
        raise DataError(f"retrieval_recall: got shapes {q.shape} and {t.shape}, expected two equal (N, D) arrays")
    ranks = np.asarray(retrieval_ranks(q, t))
    return {f"recall@{k}": float(np.mean(ranks < k)) for k in ks}


def cross_modal_retrieval(embeddings: Mapping[str, Any], ks: Sequence[int] = DEFAULT_KS) -> dict[str, dict[str, float]]:
    """Recall@k for every ordered pair of modalities: ``{"image->text": {"recall@1": ...}, ...}``."""
    return {
        f"{a}->{b}": retrieval_recall(embeddings[a], embeddings[b], ks)
        for a, b in itertools.permutations(embeddings, 2)
    }


@dataclass(frozen=True)
class LinearProbe:
    """A ridge regression on standardised features (constant features are dropped)."""

    keep: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    ridge: float

    def predict(self, features: Any) -> np.ndarray:
        """Predicted targets ``(N, D)``."""
        x = (np.asarray(features, np.float64)[:, self.keep] - self.mean) / self.scale
        return x @ self.weights + self.bias


def _ridge_path(x: np.ndarray, y: np.ndarray, ridges: Sequence[float]) -> list[np.ndarray]:
    """Ridge weights for every ``ridges`` value from one eigendecomposition of the Gram matrix."""
    s, v = np.linalg.eigh(x.T @ x)
    proj = v.T @ (x.T @ (y - y.mean(0)))
    return [v @ (proj / (s + r)[:, None]) for r in ridges]


def r2_score(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination pooled over all target dimensions (1 = perfect, 0 = the mean)."""
    y, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    return float(1.0 - np.sum((y - p) ** 2) / np.sum((y - y.mean(0)) ** 2))


def fit_linear_probe(features: Any, targets: Any, ridge: float | None = None) -> LinearProbe:
    """Fit a ridge probe; ``ridge=None`` picks it from a grid on a 20 % hold-out of the data."""
    x = np.asarray(features, np.float64)
    y = np.asarray(targets, np.float64)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y) or len(x) < 5:
        raise DataError(f"fit_linear_probe: got shapes {x.shape} and {y.shape}, expected (N, F) and (N, D), N >= 5")
    keep = x.std(0) > 1e-9
    if not keep.any():
        raise DataError("fit_linear_probe: every feature is constant; nothing to fit")
    x = x[:, keep]
    mean, scale = x.mean(0), x.std(0)
    xs = (x - mean) / scale
    if ridge is None:
        cut = int(0.8 * len(x))
        fits = _ridge_path(xs[:cut], y[:cut], _RIDGE_GRID)
        scores = [r2_score(y[cut:], xs[cut:] @ w + y[:cut].mean(0)) for w in fits]
        ridge = _RIDGE_GRID[int(np.argmax(scores))]
    (w,) = _ridge_path(xs, y, [ridge])
    return LinearProbe(keep, mean, scale, w, y.mean(0), float(ridge))


def dataset_pairings(dataset: Any) -> dict[str, ModalityPairing]:
    """``{modality: pairing}`` of a multimodal dataset (its ``pairings``, or its config's)."""
    pairings = getattr(dataset, "pairings", None)
    if isinstance(pairings, Mapping):
        return dict(pairings)
    config = getattr(dataset, "config", None)
    if isinstance(config, MultiModalConfig):
        return {m: config.pairing(m) for m in getattr(dataset, "modalities", config.modalities)}
    raise ConfigError(
        f"dataset: got {type(dataset).__name__}, expected a multimodal dataset (with pairings or a MultiModalConfig)"
    )


def _collect(
    dataset: Any, pairings: Mapping[str, ModalityPairing], start: int, count: int, chunk: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    feats: dict[str, list[np.ndarray]] = {m: [] for m in pairings}
    latents = []
    chunk = min(chunk, count)
    for lo in range(start, start + count, chunk):
        take = min(chunk, start + count - lo)
        # every chunk has the same size (the last one padded), so everything compiles once
        batch = dataset.get_records(np.arange(lo, lo + chunk, dtype=np.int32) % len(dataset))
        for m, pairing in pairings.items():
            feats[m].append(np.asarray(modality_features(batch, m, pairing))[:take])
        latents.append(np.asarray(batch["latent"])[:take])
    return {m: np.concatenate(v) for m, v in feats.items()}, np.concatenate(latents)


def measure_alignment(
    dataset: Any,
    *,
    num_train: int = 2000,
    num_test: int = 500,
    ks: Sequence[int] = DEFAULT_KS,
    chunk: int = 500,
) -> dict[str, Any]:
    """How much each modality of ``dataset`` says about the latent and about the others.

    Records ``[0, num_train)`` fit one ridge probe per modality (fixed features -> latent);
    records ``[num_train, num_train + num_test)`` score it.  Returns ``{"r2": {modality: R²},
    "retrieval": {"a->b": {"recall@k": ...}}, "chance": {"recall@k": k / num_test},
    "ridge": {modality: chosen ridge}}``; retrieval compares the probes' predicted latents.
    """
    need = num_train + num_test
    if len(dataset) < need:
        raise ConfigError(
            f"measure_alignment: dataset has {len(dataset)} records, expected at least num_train + num_test = {need}"
        )
    pairings = dataset_pairings(dataset)
    chunk = max(1, min(chunk, num_train, num_test))  # one chunk size for both blocks: one compilation
    train_x, train_z = _collect(dataset, pairings, 0, num_train, chunk)
    test_x, test_z = _collect(dataset, pairings, num_train, num_test, chunk)
    r2, preds, ridges = {}, {}, {}
    for m in pairings:
        probe = fit_linear_probe(train_x[m], train_z)
        preds[m] = probe.predict(test_x[m])
        r2[m] = r2_score(test_z, preds[m])
        ridges[m] = probe.ridge
    return {
        "r2": r2,
        "retrieval": cross_modal_retrieval(preds, ks) if len(preds) > 1 else {},
        "chance": {f"recall@{k}": k / num_test for k in ks},
        "ridge": ridges,
    }


class MultiModalEvaluationSuite(BaseEvaluationSuite):
    """Retrieval, alignment probe, per-modality quality and consistency in one flat dict of floats.

    ``evaluate(embeddings, generated=..., reference=..., dataset=...)`` reports what its inputs
    allow (keys in ``docs/modalities/multimodal.md``, "Evaluation suite"):
    ``retrieval/<a>-><b>/recall@<k>`` for every ordered pair of embeddings,
    ``consistency/<a>-<b>`` and ``consistency/loss`` (see ``quality.cross_modal_consistency``),
    ``quality/<modality>/<metric>`` (see ``quality.modality_quality``) and, from a dataset with
    latents, the alignment probe ``probe/r2/<m>``, ``probe/<a>-><b>/recall@<k>`` and
    ``probe/chance/recall@<k>`` (see ``measure_alignment``).
    ``evaluate_batch({"image": e1, "text": e2})`` keeps its retrieval-only keys.
    """

    def __init__(
        self,
        ks: Sequence[int] = DEFAULT_KS,
        *,
        image_data_range: float | None = None,
        audio_n_fft: int | None = None,
        audio_hop_length: int | None = None,
        text_config: Any = None,
        modality_options: Mapping[str, Mapping[str, Any]] | None = None,
        probe_train: int = 2000,
        probe_test: int = 500,
    ) -> None:
        self.ks = tuple(ks)
        if not self.ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in self.ks):
            raise ConfigError(f"MultiModalEvaluationSuite.ks: got {ks!r}, expected positive ints")
        # pairing options of the quality metrics (None: each pairing's default)
        self.quality_options = quality_options(
            image_data_range=image_data_range,
            audio_n_fft=audio_n_fft,
            audio_hop_length=audio_hop_length,
            text_config=text_config,
            modality_options=modality_options,
        )
        self.probe_train = probe_train
        self.probe_test = probe_test

    def evaluate_batch(self, generated: Any, reference: Any | None = None, **kwargs: Any) -> dict[str, float]:
        """Flat ``{"image->text/recall@1": ...}``; with ``reference`` (one array), ``generated`` (one array) vs it."""
        if reference is not None:
            return {f"generated->reference/{k}": v for k, v in retrieval_recall(generated, reference, self.ks).items()}
        if not isinstance(generated, Mapping) or len(generated) < 2:
            raise DataError("evaluate_batch: expected a dict of at least two modality embeddings, or reference=")
        out = cross_modal_retrieval(generated, self.ks)
        return {f"{pair}/{k}": v for pair, scores in out.items() for k, v in scores.items()}

    def evaluate(
        self,
        embeddings: Mapping[str, Any] | None = None,
        *,
        mask: Any = None,
        generated: Mapping[str, Any] | None = None,
        reference: Mapping[str, Any] | None = None,
        log_probs: Any = None,
        targets: Any = None,
        quality_inputs: Mapping[str, Mapping[str, Any]] | None = None,
        dataset: Any = None,
    ) -> dict[str, float]:
        """Every metric the inputs allow, as one flat dict of floats.

        ``embeddings`` ``{modality: (N, D)}`` (row ``i`` of each is sample ``i``) with an
        optional presence ``mask`` ``(N, M)``: retrieval between the rows where both sides are
        present, and consistency.  ``generated``/``reference`` (and ``log_probs``): quality.
        ``dataset`` (with ``latent``): the alignment probe on its first
        ``probe_train + probe_test`` records.
        """
        if embeddings is None and generated is None and log_probs is None and not quality_inputs and dataset is None:
            raise DataError(
                "MultiModalEvaluationSuite.evaluate: got nothing to evaluate; expected embeddings, "
                "generated (with reference), log_probs or dataset"
            )
        out: dict[str, float] = {}
        if embeddings is not None:
            out.update(self._retrieval(embeddings, mask))
            out.update(cross_modal_consistency(embeddings, mask))
        if generated is not None or log_probs is not None or quality_inputs:
            out.update(
                modality_quality(
                    generated or {},
                    reference,
                    log_probs=log_probs,
                    targets=targets,
                    modality_options=self.quality_options,
                    quality_inputs=quality_inputs,
                )
            )
        if dataset is not None:
            probe = measure_alignment(dataset, num_train=self.probe_train, num_test=self.probe_test, ks=self.ks)
            out.update({f"probe/r2/{m}": float(v) for m, v in probe["r2"].items()})
            for pair, scores in probe["retrieval"].items():
                out.update({f"probe/{pair}/{k}": float(v) for k, v in scores.items()})
            out.update({f"probe/chance/{k}": float(v) for k, v in probe["chance"].items()})
        return out

    def _retrieval(self, embeddings: Mapping[str, Any], mask: Any) -> dict[str, float]:
        if not isinstance(embeddings, Mapping) or len(embeddings) < 2:
            raise DataError("MultiModalEvaluationSuite.evaluate: embeddings must be a dict of at least two modalities")
        names = list(embeddings)
        arrays = {m: np.asarray(embeddings[m]) for m in names}
        present = None if mask is None else np.asarray(mask, bool)
        if present is not None and present.shape != (len(arrays[names[0]]), len(names)):
            raise DataError(
                f"MultiModalEvaluationSuite.evaluate: mask has shape {present.shape}, "
                f"expected ({len(arrays[names[0]])}, {len(names)}) in the order {names}"
            )
        out: dict[str, float] = {}
        for (i, a), (j, b) in itertools.permutations(enumerate(names), 2):
            rows = slice(None) if present is None else present[:, i] & present[:, j]
            scores = retrieval_recall(arrays[a][rows], arrays[b][rows], self.ks)
            out.update({f"retrieval/{a}->{b}/{k}": v for k, v in scores.items()})
        return out
