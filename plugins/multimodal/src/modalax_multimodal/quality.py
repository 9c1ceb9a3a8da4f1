"""Per-modality quality of generated data and cross-modal consistency of embeddings.

Each number is the modality plugin's own metric (image PSNR/SSIM from ``modalax_image``,
audio log-spectral distance from ``modalax_audio``, text BLEU and perplexity from
``modalax_text``), so a multimodal report agrees with the single-modality ones by construction.
``MultiModalEvaluationSuite.evaluate`` gathers them into one flat dict.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np

from modalax.plugin import DataError
from modalax_multimodal.config import DATA_KEYS
from modalax_multimodal.losses import consistency_loss

__all__ = ["cross_modal_consistency", "modality_quality"]


def _find(data: Mapping[str, Any], modality: str) -> Any:
    key = next((k for k in DATA_KEYS.get(modality, (modality,)) if k in data), None)
    return None if key is None else data[key]


def modality_quality(
    generated: Mapping[str, Any],
    reference: Mapping[str, Any] | None = None,
    *,
    log_probs: Any = None,
    targets: Any = None,
    image_data_range: float = 1.0,
    audio_n_fft: int = 1024,
    audio_hop_length: int = 256,
    text_config: Any = None,
) -> dict[str, float]:
    """Quality of each generated modality that has a target, as ``{"quality/<modality>/<metric>": value}``.

    ``quality/image/psnr``, ``quality/image/ssim`` (images in ``[0, image_data_range]``),
    ``quality/audio/log_spectral_distance`` (dB, 0 is perfect), ``quality/text/bleu`` (0-100,
    corpus BLEU of the generated token ids against the reference ones) when ``reference`` has
    the modality; ``quality/text/perplexity`` when ``log_probs`` of the text targets are given
    (``targets`` default to the reference text).  Modalities are found under ``image``/``images``,
    ``text``/``text_tokens`` and ``audio``.
    """
    if not isinstance(generated, Mapping):
        raise DataError(f"modality_quality: generated is {type(generated).__name__}, expected a dict of modalities")
    reference = reference or {}
    out: dict[str, float] = {}
    gen_image, ref_image = _find(generated, "image"), _find(reference, "image")
    if gen_image is not None and ref_image is not None:
        from modalax_image.evaluation import ImageEvaluationSuite

        suite = ImageEvaluationSuite(("psnr", "ssim"), data_range=image_data_range)
        out.update({f"quality/image/{k}": v for k, v in suite.evaluate_batch(gen_image, ref_image).items()})
    gen_audio, ref_audio = _find(generated, "audio"), _find(reference, "audio")
    if gen_audio is not None and ref_audio is not None:
        from modalax_audio.evaluation import log_spectral_distance

        g, r = jnp.asarray(gen_audio, jnp.float32), jnp.asarray(ref_audio, jnp.float32)
        if g.shape != r.shape or g.ndim != 2 or g.shape[0] == 0:
            raise DataError(
                f"modality_quality: audio shapes {tuple(g.shape)} and {tuple(r.shape)}, "
                "expected equal (N, samples) with N > 0"
            )
        lsd = log_spectral_distance(g, r, n_fft=audio_n_fft, hop_length=audio_hop_length)
        out["quality/audio/log_spectral_distance"] = float(jnp.mean(lsd))
    gen_text, ref_text = _find(generated, "text"), _find(reference, "text")
    if (gen_text is not None and ref_text is not None) or log_probs is not None:
        from modalax_text.evaluation import TextEvaluationSuite

        text = TextEvaluationSuite(text_config)
        if gen_text is not None and ref_text is not None:
            out["quality/text/bleu"] = float(text.bleu(gen_text, ref_text).score)
        if log_probs is not None:
            tg = targets if targets is not None else ref_text
            out["quality/text/perplexity"] = float(text.perplexity(log_probs, tg))
    return out


def cross_modal_consistency(embeddings: Mapping[str, Any], mask: Any = None) -> dict[str, float]:
    """How much paired embeddings agree: ``consistency/<a>-<b>`` and ``consistency/loss``.

    ``consistency/<a>-<b>`` is the mean cosine similarity of rows ``i`` of ``a`` and ``b`` over
    the rows where both are present (``mask`` ``(N, M)`` in the order of ``embeddings``); a
    pair with no such row has no key.  ``consistency/loss`` is ``consistency_loss`` (cosine)
    of the same embeddings and mask: ``1 -`` the mean similarity over all present (row, pair).
    """
    if not isinstance(embeddings, Mapping) or len(embeddings) < 2:
        raise DataError("cross_modal_consistency: expected a dict of at least two modality embeddings")
    names = list(embeddings)
    embs = [np.asarray(embeddings[m], np.float64) for m in names]
    if len({e.shape for e in embs}) != 1 or embs[0].ndim != 2:
        raise DataError(
            f"cross_modal_consistency: got shapes { {m: e.shape for m, e in zip(names, embs, strict=True)} }, "
            "expected one (N, D) shape"
        )
    present = np.ones((embs[0].shape[0], len(names)), bool) if mask is None else np.asarray(mask, bool)
    if present.shape != (embs[0].shape[0], len(names)):
        raise DataError(
            f"cross_modal_consistency: mask has shape {present.shape}, expected ({embs[0].shape[0]}, {len(names)})"
        )
    unit = [e / np.maximum(np.linalg.norm(e, axis=-1, keepdims=True), 1e-12) for e in embs]
    out: dict[str, float] = {}
    for i, j in itertools.combinations(range(len(names)), 2):
        rows = present[:, i] & present[:, j]
        if rows.any():
            out[f"consistency/{names[i]}-{names[j]}"] = float(np.mean(np.sum(unit[i] * unit[j], axis=-1)[rows]))
    out["consistency/loss"] = float(consistency_loss(dict(embeddings), mask=present))
    return out
