"""Per-modality quality of generated data and cross-modal consistency of embeddings.

Each quality number is the modality's own metric, computed by its pairing's ``quality``
(image PSNR/SSIM, audio log-spectral distance, text BLEU and perplexity, or whatever a
third-party pairing reports), so a multimodal report agrees with the single-modality ones by
construction.  ``MultiModalEvaluationSuite.evaluate`` gathers them into one flat dict.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from modalax.plugin import ConfigError, DataError
from modalax_multimodal.losses import consistency_loss
from modalax_multimodal.pairings import find_key, get_pairing

__all__ = ["cross_modal_consistency", "modality_quality", "quality_options"]


def quality_options(
    *,
    image_data_range: float | None = None,
    audio_n_fft: int | None = None,
    audio_hop_length: int | None = None,
    text_config: Any = None,
    modality_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Pairing options for quality metrics: ``modality_options`` plus the seed-style shorthands.

    ``image_data_range`` is the image option ``data_range``; ``audio_n_fft`` and
    ``audio_hop_length`` the audio options ``n_fft`` and ``hop_length``; ``text_config`` the
    text option ``evaluation_config``.
    """
    out = {m: dict(o) for m, o in (modality_options or {}).items()}
    for (name, option), value in (
        (("image", "data_range"), image_data_range),
        (("audio", "n_fft"), audio_n_fft),
        (("audio", "hop_length"), audio_hop_length),
        (("text", "evaluation_config"), text_config),
    ):
        if value is not None:
            out.setdefault(name, {})[option] = value
    return out


def modality_quality(
    generated: Mapping[str, Any],
    reference: Mapping[str, Any] | None = None,
    *,
    log_probs: Any = None,
    targets: Any = None,
    image_data_range: float | None = None,
    audio_n_fft: int | None = None,
    audio_hop_length: int | None = None,
    text_config: Any = None,
    modality_options: Mapping[str, Mapping[str, Any]] | None = None,
    quality_inputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, float]:
    """Quality of each generated modality that has a target, as ``{"quality/<modality>/<metric>": value}``.

    ``generated`` maps modality names to arrays; the target of each is found in ``reference``
    under the modality's batch keys (``image``/``images``, ``text``/``text_tokens``, ...), and
    the pair is scored by ``pairing.quality(generated, reference)``.  ``quality_inputs``
    (``{modality: {keyword: value}}``) passes extra inputs to a pairing's ``quality``;
    ``log_probs`` (and ``targets``, default the reference text) are the text pairing's, giving
    ``quality/text/perplexity``.  With the image, text and audio pairings: ``quality/image/psnr``,
    ``quality/image/ssim`` (images in ``[0, image_data_range]``),
    ``quality/audio/log_spectral_distance`` (dB, 0 is perfect) and ``quality/text/bleu``
    (0-100, corpus BLEU of token ids).
    """
    if not isinstance(generated, Mapping):
        raise DataError(f"modality_quality: generated is {type(generated).__name__}, expected a dict of modalities")
    reference = reference or {}
    options = quality_options(
        image_data_range=image_data_range,
        audio_n_fft=audio_n_fft,
        audio_hop_length=audio_hop_length,
        text_config=text_config,
        modality_options=modality_options,
    )
    extra = {m: dict(v) for m, v in (quality_inputs or {}).items()}
    if log_probs is not None:
        extra.setdefault("text", {}).update(log_probs=log_probs, **({} if targets is None else {"targets": targets}))
    out: dict[str, float] = {}
    for name in dict.fromkeys([*generated, *extra]):
        pairing = get_pairing(name, options.get(name), owner="modality_quality")
        # None stands for "not given" (a pairing scored from extra inputs alone, such as text perplexity)
        gen: Any = generated.get(name)
        key = find_key(reference, pairing.batch_keys)
        ref: Any = None if key is None else reference[key]
        if name not in extra and (gen is None or ref is None):
            continue  # nothing to compare against
        inputs = extra.get(name, {})
        try:
            inspect.signature(pairing.quality).bind(gen, ref, **inputs)
        except TypeError as exc:
            raise ConfigError(
                f"modality_quality.quality_inputs[{name!r}]: {type(pairing).__name__}.quality does not take "
                f"{sorted(inputs)} ({exc}); expected only inputs its quality() accepts"
            ) from exc
        try:
            scores = pairing.quality(gen, ref, **inputs)
        except DataError as exc:
            raise DataError(f"modality_quality[{name!r}]: {exc}") from exc
        out.update({f"quality/{name}/{metric}": float(v) for metric, v in scores.items()})
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
