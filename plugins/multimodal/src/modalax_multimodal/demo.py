"""``modalax demo``: the main job, end to end, in about a minute on a 2-core CPU.

Lists the plugins; builds latent-aligned image+text+audio data, streams it through the loader
with image and audio operators, trains contrastive encoders and reports retrieval recall@1
against chance before and after; then does the same on readable glyph/caption/sound data
(``demo_glyphs``) and trains a caption-to-image generator; writes figures, the glyphs' sounds,
loss curves and ``summary.json``, each figure announced with what to look for in it. Six
numbered stages, each with a progress bar or a line per step (``demo_progress``).

The figures need matplotlib: without it the demo stops before any work and says how to install
it, unless ``--no-figures`` asks for the numbers and sounds alone. Exits non-zero when training
does not beat chance by a wide margin, generated images do not match their captions, or the
augmented audio would clip (the gain operator only attenuates, so the stream's peak stays below 1).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from modalax_multimodal.demo_progress import Stages

_HAVE_PLOTS = importlib.util.find_spec("matplotlib") is not None
_STAGES = 6
_MATPLOTLIB = 'python -m pip install "matplotlib>=3.8"'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``modalax demo``."""
    parser.add_argument("--out", default="demo-output", metavar="DIR", help="output folder (default demo-output)")
    parser.add_argument(
        "--steps", type=int, metavar="N", default=500, help="contrastive steps on latent-aligned data (default 500)"
    )
    parser.add_argument(
        "--samples", type=int, metavar="N", default=4096, help="latent-aligned training records (default 4096)"
    )
    parser.add_argument(
        "--glyph-steps", type=int, metavar="N", default=300, help="contrastive steps on glyph data (default 300)"
    )
    parser.add_argument(
        "--gen-steps", type=int, metavar="N", default=800, help="caption-to-image generator steps (default 800)"
    )
    parser.add_argument(
        "--glyph-samples", type=int, metavar="N", default=4096, help="glyph training records (default 4096)"
    )
    parser.add_argument(
        "--eval-samples", type=int, metavar="N", default=512, help="held-out records for retrieval (default 512)"
    )
    parser.add_argument("--batch-size", type=int, metavar="N", default=64, help="training batch size (default 64)")
    parser.add_argument(
        "--strength", type=float, metavar="X", default=1.0, help="alignment strength of the data (default 1.0)"
    )
    parser.add_argument("--seed", type=int, metavar="N", default=0, help="seed of the data and the models (default 0)")
    parser.add_argument("--quick", action="store_true", help="a short run (tests): fewer steps and samples")
    parser.add_argument(
        "--no-figures", action="store_true", help="write numbers and sounds only (no matplotlib needed)"
    )


_QUICK = {
    **{"steps": 150, "samples": 1024, "eval_samples": 256},
    **{"glyph_steps": 150, "gen_steps": 500, "glyph_samples": 2048},
}


def _plugins() -> list[dict[str, Any]]:
    import modalax

    infos = modalax.list_plugins()
    print("plugins:")
    for info in infos:
        print(f"  {info.id:12s} {info.distribution:20s} {info.version:8s} {info.status}")
    return [info.to_dict() for info in infos]


def _operator(modality: str, name: str, rngs: Any, **config: Any) -> Any:
    """The registered operator ``(modality, name)`` built with its own config class (its ``config`` annotation)."""
    import typing

    from modalax.plugin import get_operator

    cls = get_operator(modality, name)
    return cls(typing.get_type_hints(cls)["config"](**config), rngs=rngs)


def _stream(dataset: Any, seed: int) -> dict[str, float]:
    """One epoch through the loader with image and audio operators (from the registry), with a progress bar."""
    from flax import nnx

    from modalax import DataLoader

    rngs = nnx.Rngs(seed, augment=seed + 1)
    operators = [
        _operator("image", "flip", rngs, field_key="image"),
        _operator("image", "brightness", rngs, field_key="image", max_delta=0.1, clip_range=(0.0, 1.0)),
        # attenuation only: the clips peak near 1, and a boost would push them past what a WAV holds
        _operator("audio", "gain", rngs, stochastic=True, stream_name="augment", min_gain_db=-6.0, max_gain_db=0.0),
    ]
    progress = importlib.util.find_spec("tqdm") is not None
    loader = DataLoader(dataset, 256, seed=seed, operators=operators, progress=progress)
    start, seen, peak = time.perf_counter(), 0, 0.0
    for batch in loader:
        seen += int(np.asarray(batch["mask"]).sum())
        peak = max(peak, float(np.abs(np.asarray(batch["audio"])).max()))
    elapsed = time.perf_counter() - start
    assert seen == len(dataset), (seen, len(dataset))
    print(
        f"streamed {seen} aligned samples through {len(operators)} operators in {elapsed:.1f} s "
        f"({seen / elapsed:,.0f} samples/s); audio peak after the gain operator {peak:.3f} (a WAV holds up to 1)"
    )
    return {"samples": seen, "seconds": elapsed, "samples_per_s": seen / elapsed, "audio_peak": peak}


def _recall_at_1(model: Any, dataset: Any, n: int) -> dict[str, float]:
    from modalax_multimodal.training import evaluate_retrieval

    result = evaluate_retrieval(model, dataset, num_samples=n, ks=(1,))
    return {pair: float(v["recall@1"]) for pair, v in result.items()}


def _check_figures(args: argparse.Namespace) -> None:
    """Refuse to start when the figures cannot be drawn, before any work."""
    if not _HAVE_PLOTS and not args.no_figures:
        from modalax.plugin import ConfigError

        raise ConfigError(
            f"modalax demo draws its figures with matplotlib, which is not installed: {_MATPLOTLIB} "
            "(modalax's viz extra), or run `modalax demo --no-figures` for the numbers and sounds alone"
        )


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 on success, 1 when training does not beat chance, generation misses, or audio would clip."""
    _check_figures(args)
    from flax import nnx

    from modalax_multimodal import MultiModalModel, create_synthetic_multi_modal_dataset
    from modalax_multimodal.demo_glyphs import run_glyphs
    from modalax_multimodal.demo_pictures import loss_figures
    from modalax_multimodal.training import train_contrastive

    if args.quick:
        for name, value in _QUICK.items():
            setattr(args, name, value)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    stages = Stages(_STAGES)
    summary: dict[str, Any] = {"plugins": _plugins()}
    common = {
        "alignment_strength": args.strength,
        "rngs": nnx.Rngs(args.seed),
        "image_shape": (16, 16, 3),
        "text_sequence_length": 16,
        "text_vocab_size": 64,
        "audio_duration": 0.25,
    }
    modalities = ["image", "text", "audio"]
    stages.start(f"streaming {args.samples} latent-aligned image+text+audio samples through the loader")
    train = create_synthetic_multi_modal_dataset(modalities, args.samples, **common)
    val = create_synthetic_multi_modal_dataset(modalities, args.eval_samples, split="val", **common)
    stream = _stream(train, args.seed)
    summary["data"] = {"train": len(train), "val": len(val), "alignment_strength": args.strength, "stream": stream}

    chance = 1.0 / args.eval_samples
    stages.start(f"training contrastive image, text and audio encoders for {args.steps} steps")
    # All three encoders train together: every pair's InfoNCE term, so audio and text (the
    # weakest pair: 16 coarse tokens against a waveform) also learn through image.
    untrained = MultiModalModel(train.config.replace(embed_dim=32), rngs=nnx.Rngs(args.seed), hidden_dim=64)
    before = _recall_at_1(untrained, val, args.eval_samples)
    bar = stages.bar(args.steps)
    model, history = train_contrastive(
        train, args.steps, args.batch_size, seed=args.seed, embed_dim=32, hidden_dim=64, on_step=bar
    )
    seconds = bar.close()
    after = _recall_at_1(model, val, args.eval_samples)
    held_out = f"{args.eval_samples} held-out samples (chance {chance:.4f})"
    print(f"retrieval recall@1 on {held_out}, {seconds:.0f} s of training:")
    for name in after:
        print(f"  {name:16s} before {before[name]:.3f}   after {after[name]:.3f}")
    print(f"contrastive loss: first {history['loss'][0]:.3f}, last {history['loss'][-1]:.3f}")

    glyphs, draw, curves, glyphs_ok = run_glyphs(args, out, stages)
    stages.start(
        f"writing {'sounds' if args.no_figures else 'figures and sounds'} to {out}/ (what to look for in each):"
    )
    files = draw(args.no_figures)
    if not args.no_figures:
        files += loss_figures(out, {"contrastive": history["loss"], **curves})
    mean_after = float(np.mean(list(after.values())))
    summary.update(
        {
            "chance_recall_at_1": chance,
            "recall_at_1_before": before,
            "recall_at_1_after": after,
            "contrastive_loss": {"first": history["loss"][0], "last": history["loss"][-1]},
            "glyphs": glyphs,
            "plots": "skipped (--no-figures)" if args.no_figures else "matplotlib",
            "files": files,
            "seconds": time.perf_counter() - t0,
        }
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {len(files) + 1} files to {out}/ in {summary['seconds']:.0f} s (every number: summary.json)")
    threshold = max(20 * chance, 0.2)
    if mean_after < threshold or not glyphs_ok or stream["audio_peak"] > 1.0:
        print(
            f"FAILED: mean recall@1 {mean_after:.3f} (needs >= {threshold:.3f}), or on glyphs recall@1 "
            f"{glyphs['caption_to_image_retrieval']['recall@1']:.3f} (needs 20x chance) or generated-image "
            f"correlation {glyphs['generator_correlation']['mean']:.3f} (needs >= 0.8), or the streamed "
            f"audio peaks at {stream['audio_peak']:.3f} (needs <= 1)"
        )
        return 1
    print(f"OK: mean recall@1 {mean_after:.3f} is {mean_after / chance:.0f}x chance; generated glyphs match captions")
    return 0
