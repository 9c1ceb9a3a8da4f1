"""The readable half of ``modalax demo``: glyph pictures, their captions and their sounds.

Trains contrastive encoders and a caption-to-image generator on ``multimodal/glyphs`` data;
``demo_pictures`` then draws what a person checks at a glance: captions beside the images they
retrieve, generated images above the true ones, samples with their caption tokens and
spectrograms, and writes the samples' sounds. Every number is measured on held-out (``val``
split) samples.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run_glyphs"]

_EXAMPLES = 6  # rows of the retrieval and generation figures
_TOP_K = 3
_CORRELATION_TARGET = 0.8


def _stream(dataset: Any, seed: int) -> dict[str, float]:
    """One epoch through the loader: how fast readable samples are generated on demand."""
    import importlib.util

    from modalax import DataLoader

    loader = DataLoader(dataset, 256, seed=seed, progress=importlib.util.find_spec("tqdm") is not None)
    start, seen = time.perf_counter(), 0
    for batch in loader:
        seen += int(np.asarray(batch["mask"]).sum())
    elapsed = time.perf_counter() - start
    print(f"streamed {seen} glyph/caption/sound samples in {elapsed:.1f} s ({seen / elapsed:,.0f} samples/s)")
    return {"samples": seen, "seconds": elapsed, "samples_per_s": seen / elapsed}


def _retrieval(model: Any, val: Any, n: int) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Caption -> image retrieval on ``n`` held-out samples: scores, top-k indices, and the batch factors."""
    import jax.numpy as jnp

    from modalax_multimodal.losses import l2_normalize
    from modalax_multimodal.training import embed_dataset

    emb = embed_dataset(model, val, n)
    sim = np.asarray(l2_normalize(jnp.asarray(emb["text"])) @ l2_normalize(jnp.asarray(emb["image"])).T)
    top = np.argsort(-sim, axis=1)[:, :_TOP_K]
    factors = np.asarray(val.get_records(np.arange(n, dtype=np.int32))["modality_factors"])
    same = (factors[top, 0] == factors[:, None, 1]).all(-1)  # retrieved image shows what the caption says
    scores = {
        "recall@1": float(np.mean(top[:, 0] == np.arange(n))),
        "recall@3": float(np.mean((top == np.arange(n)[:, None]).any(1))),
        "factors_match@1": float(np.mean(same[:, 0])),
        "chance_recall@1": 1.0 / n,
    }
    return scores, top, sim


def run_glyphs(args: Any, out: Path, stages: Any) -> tuple[dict[str, Any], Any, dict[str, list[float]], bool]:
    """Stages 3-5 of the demo on glyph data: stream, train encoders, train a generator.

    Returns (summary part, ``draw(no_figures)`` that writes the figures and sounds, announcing
    each, and returns their paths, loss curves, passed).
    """
    from modalax_multimodal.caption_to_image import per_image_correlation, train_caption_to_image
    from modalax_multimodal.datasets.glyphs import create_glyph_caption_dataset
    from modalax_multimodal.demo_pictures import glyph_figures, glyph_sounds
    from modalax_multimodal.training import train_contrastive

    stages.start(f"streaming {args.glyph_samples} readable glyph/caption/sound samples through the loader")
    train = create_glyph_caption_dataset(args.glyph_samples, args.strength, seed=args.seed)
    val = create_glyph_caption_dataset(args.eval_samples, args.strength, seed=args.seed, split="val")
    part: dict[str, Any] = {
        "data": {"train": len(train), "val": len(val), "alignment_strength": args.strength},
        "stream": _stream(train, args.seed),
    }
    stages.start(f"training glyph, caption and sound encoders for {args.glyph_steps} steps")
    bar = stages.bar(args.glyph_steps)
    model, history = train_contrastive(
        train, args.glyph_steps, args.batch_size, seed=args.seed, embed_dim=32, hidden_dim=64, on_step=bar
    )
    bar.close()
    scores, top, sim = _retrieval(model, val, args.eval_samples)
    print(
        f"caption->image on {args.eval_samples} held-out glyphs: recall@1 {scores['recall@1']:.3f} "
        f"(chance {scores['chance_recall@1']:.4f}), top image shows the caption's factors "
        f"{scores['factors_match@1']:.3f}"
    )
    stages.start(f"training a caption-to-image generator for {args.gen_steps} steps")
    bar = stages.bar(args.gen_steps)
    generator, gen_loss = train_caption_to_image(train, args.gen_steps, args.batch_size, seed=args.seed, on_step=bar)
    train_s = bar.close()
    batch = val.get_records(np.arange(args.eval_samples, dtype=np.int32))
    generated = np.asarray(generator(batch["text"]))
    corr = np.asarray(per_image_correlation(generated, batch["image"]))
    correlation = {
        "mean": float(corr.mean()),
        "median": float(np.median(corr)),
        "min": float(corr.min()),
        "fraction_at_least_0.8": float(np.mean(corr >= _CORRELATION_TARGET)),
        "held_out_samples": int(corr.size),
        "train_seconds": train_s,
    }
    print(
        f"generated vs true image, per-image correlation on {corr.size} held-out captions: "
        f"mean {correlation['mean']:.3f}, median {correlation['median']:.3f}, "
        f"{100 * correlation['fraction_at_least_0.8']:.0f}% >= 0.8 ({train_s:.0f} s of training)"
    )
    part.update(
        {
            "caption_to_image_retrieval": scores,
            "contrastive_loss": {"first": history["loss"][0], "last": history["loss"][-1]},
            "generator_mse": {"first": gen_loss[0], "last": gen_loss[-1]},
            "generator_correlation": correlation,
        }
    )

    def draw(no_figures: bool) -> list[str]:
        figures = [] if no_figures else glyph_figures(out, val, batch, top, sim, generated, corr, _EXAMPLES)
        return figures + glyph_sounds(out, val, batch, _EXAMPLES)

    passed = scores["recall@1"] >= 20 * scores["chance_recall@1"] and correlation["mean"] >= _CORRELATION_TARGET
    curves = {"glyph contrastive": history["loss"], "caption-to-image mse": gen_loss}
    return part, draw, curves, passed
