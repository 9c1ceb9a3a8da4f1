"""``modalax demo``: the main job, end to end, in a few minutes on a 2-core CPU.

Lists the plugins; builds latent-aligned image+text+audio data, streams it through the loader
with image and audio operators, trains contrastive encoders and reports retrieval recall@1
against chance before and after; then does the same on readable glyph/caption/sound data
(``demo_glyphs``) and trains a caption-to-image generator; writes pictures, sounds, loss
curves and ``summary.json``.  Exits non-zero when training does not beat chance by a wide
margin or generated images do not match their captions.  ``--quick`` is a short run for tests.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

PATTERNS = ("random", "gradient", "checkerboard", "circles")
_HAVE_PLOTS = importlib.util.find_spec("matplotlib") is not None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``modalax demo``."""
    parser.add_argument("--out", default="demo-output", help="output folder (default demo-output/)")
    parser.add_argument("--steps", type=int, default=500, help="contrastive steps on latent-aligned data (500)")
    parser.add_argument("--samples", type=int, default=4096, help="latent-aligned training records (default 4096)")
    parser.add_argument("--glyph-steps", type=int, default=300, help="contrastive steps on glyph data (300)")
    parser.add_argument("--gen-steps", type=int, default=800, help="caption-to-image generator steps (800)")
    parser.add_argument("--glyph-samples", type=int, default=4096, help="glyph training records (default 4096)")
    parser.add_argument("--eval-samples", type=int, default=512, help="held-out records for retrieval")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--strength", type=float, default=1.0, help="alignment strength of the data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a short run (tests): fewer steps and samples")


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
        _operator("audio", "gain", rngs, stochastic=True, stream_name="augment", min_gain_db=-3.0, max_gain_db=3.0),
    ]
    loader = DataLoader(dataset, 256, seed=seed, operators=operators, progress=True)
    start, seen, peak = time.perf_counter(), 0, 0.0
    for batch in loader:
        seen += int(np.asarray(batch["mask"]).sum())
        peak = max(peak, float(np.abs(np.asarray(batch["audio"])).max()))
    elapsed = time.perf_counter() - start
    assert seen == len(dataset), (seen, len(dataset))
    print(
        f"streamed {seen} aligned samples through {len(operators)} operators in {elapsed:.1f} s "
        f"({seen / elapsed:,.0f} samples/s)"
    )
    return {"samples": seen, "seconds": elapsed, "samples_per_s": seen / elapsed, "audio_peak": peak}


def _recall_at_1(model: Any, dataset: Any, n: int) -> dict[str, float]:
    from modalax_multimodal.training import evaluate_retrieval

    result = evaluate_retrieval(model, dataset, num_samples=n, ks=(1,))
    return {pair: float(v["recall@1"]) for pair, v in result.items()}


def _write_outputs(out: Path, val: Any, seed: int, histories: dict[str, list[float]]) -> list[str]:
    import modalax
    from modalax.plugin import get_modality_record, image_grid, plot_image_grid, resolve, save_line_plot, save_png

    written: list[Path] = []
    for pattern in PATTERNS:
        ds = _pattern_dataset(pattern, seed)
        images = np.asarray(ds.get_records(np.arange(16, dtype=np.int32))["images"])
        path = out / f"pattern_{pattern}.png"
        if _HAVE_PLOTS:
            written.append(plot_image_grid(images, path, ncols=8, title=f"image plugin: {pattern!r} pattern"))
        else:
            written.append(save_png(image_grid(images, ncols=8, value_range=(0.0, 1.0)), path, scale=2))
    audio_ds = modalax.create_dataset(
        "audio", "synthetic", n_samples=6, audio_types=["sine", "chirp", "noise"], seed=seed
    )
    preview = resolve(get_modality_record("audio").previewer)
    written += preview(audio_ds.fetch(np.arange(6, dtype=np.int32)), out / "audio")
    aligned = resolve(get_modality_record("multimodal").previewer)
    written += aligned(val.fetch(np.arange(8, dtype=np.int32)), out / "aligned", dataset=val)
    for name, values in histories.items():
        stem = name.replace(" ", "_").replace("-", "_")
        path = out / f"loss_{stem}.png"
        ylabel = "mean squared error" if "mse" in name else "InfoNCE loss"
        written.append(save_line_plot(values, path, title=f"{name} loss", xlabel="training step", ylabel=ylabel))
    return [str(p) for p in written]


def _pattern_dataset(pattern: str, seed: int) -> Any:
    from flax import nnx

    import modalax
    from modalax.plugin import get_modality_record, resolve

    config = resolve(get_modality_record("image").config_class)(height=32, width=32)
    return modalax.create_dataset(
        "image", "synthetic", config=config, dataset_size=16, pattern_type=pattern, rngs=nnx.Rngs(seed)
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 on success, 1 when training does not beat chance or generation misses its target."""
    from flax import nnx

    from modalax_multimodal import MultiModalModel, create_synthetic_multi_modal_dataset
    from modalax_multimodal.demo_glyphs import run_glyphs
    from modalax_multimodal.training import train_contrastive

    if args.quick:
        for name, value in _QUICK.items():
            setattr(args, name, value)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    summary: dict[str, Any] = {"plugins": _plugins()}
    if not _HAVE_PLOTS:
        print("matplotlib is not installed: figures with axes are skipped (pip install 'modalax[viz]')")
    common = {
        "alignment_strength": args.strength,
        "rngs": nnx.Rngs(args.seed),
        "image_shape": (16, 16, 3),
        "text_sequence_length": 16,
        "text_vocab_size": 64,
        "audio_duration": 0.25,
    }
    modalities = ["image", "text", "audio"]
    train = create_synthetic_multi_modal_dataset(modalities, args.samples, **common)
    val = create_synthetic_multi_modal_dataset(modalities, args.eval_samples, split="val", **common)
    summary["data"] = {
        "train": len(train),
        "val": len(val),
        "alignment_strength": args.strength,
        "stream": _stream(train, args.seed),
    }

    chance = 1.0 / args.eval_samples
    # All three encoders train together: every pair's InfoNCE term, so audio and text (the
    # weakest pair: 16 coarse tokens against a waveform) also learn through image.
    untrained = MultiModalModel(train.config.replace(embed_dim=32), rngs=nnx.Rngs(args.seed), hidden_dim=64)
    before = _recall_at_1(untrained, val, args.eval_samples)
    print(f"training contrastive encoders on latent-aligned data for {args.steps} steps ...")
    model, history = train_contrastive(train, args.steps, args.batch_size, seed=args.seed, embed_dim=32, hidden_dim=64)
    after = _recall_at_1(model, val, args.eval_samples)
    print(f"retrieval recall@1 on {args.eval_samples} held-out samples (chance {chance:.4f}):")
    for name in after:
        print(f"  {name:16s} before {before[name]:.3f}   after {after[name]:.3f}")
    print(f"contrastive loss: first {history['loss'][0]:.3f}, last {history['loss'][-1]:.3f}")

    glyphs, glyph_files, curves, glyphs_ok = run_glyphs(args, out)
    files = glyph_files + _write_outputs(out, val, args.seed, {"contrastive": history["loss"], **curves})
    mean_after = float(np.mean(list(after.values())))
    summary.update(
        {
            "chance_recall_at_1": chance,
            "recall_at_1_before": before,
            "recall_at_1_after": after,
            "contrastive_loss": {"first": history["loss"][0], "last": history["loss"][-1]},
            "glyphs": glyphs,
            "plots": "matplotlib" if _HAVE_PLOTS else "skipped (matplotlib not installed)",
            "files": files,
            "seconds": time.perf_counter() - t0,
        }
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {len(files) + 1} files to {out}/ in {summary['seconds']:.0f} s")
    threshold = max(20 * chance, 0.2)
    if mean_after < threshold or not glyphs_ok:
        print(
            f"FAILED: mean recall@1 {mean_after:.3f} (needs >= {threshold:.3f}), or on glyphs recall@1 "
            f"{glyphs['caption_to_image_retrieval']['recall@1']:.3f} (needs 20x chance) or generated-image "
            f"correlation {glyphs['generator_correlation']['mean']:.3f} (needs >= 0.8)"
        )
        return 1
    print(f"OK: mean recall@1 {mean_after:.3f} is {mean_after / chance:.0f}x chance; generated glyphs match captions")
    return 0
